"""The one place that builds a stomp_sync.Client: URI, credentials, versions, heart-beats, TLS.

Every command gets its client from :func:`make_client`, so a change of the client's
constructor (TLS settings as one ``tls=`` option, say) is a change of this module only.
"""

from __future__ import annotations

import dataclasses
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

from stomp_failover import FailoverUri
from stomp_frame import Version
from stomp_sync import Client

ALL_VERSIONS = (Version.V1_0, Version.V1_1, Version.V1_2)
AckMode: TypeAlias = Literal["auto", "client", "client-individual"]


@dataclass(frozen=True, kw_only=True)
class ConnectionOptions:
    """What every command takes to reach a broker (the passcode is never shown)."""

    uri: str
    login: str | None = None
    passcode: str | None = field(default=None, repr=False)
    vhost: str | None = None
    versions: tuple[Version, ...] = ALL_VERSIONS
    heart_beat: tuple[int, int] = (0, 0)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False
    connect_timeout: float = 10.0


def parse_uri(text: str) -> FailoverUri:
    """Parse *text*; unless it says otherwise, each broker is tried once, not for ever.

    ActiveMQ's default ``startupMaxReconnectAttempts=-1`` suits a service; a command
    should fail and say why. A URI that sets the option keeps it.

    Raises:
        stomp_failover.UriError: the URI does not parse.
    """
    uri = FailoverUri.parse(text)
    if "startupmaxreconnectattempts" in text.lower():
        return uri
    options = dataclasses.replace(uri.options, startup_max_reconnect_attempts=0)
    return dataclasses.replace(uri, options=options)


def tls_context(options: ConnectionOptions) -> ssl.SSLContext | None:
    """The TLS context for ``ssl://`` brokers, or ``None`` for the client's default.

    Raises:
        ssl.SSLError: a CA file or certificate that does not load.
        OSError: a file that cannot be read.
    """
    if options.ca_file is None and options.cert_file is None and not options.insecure:
        return None
    context = ssl.create_default_context(
        cafile=str(options.ca_file) if options.ca_file is not None else None
    )
    if options.cert_file is not None:
        key = str(options.key_file) if options.key_file is not None else None
        context.load_cert_chain(str(options.cert_file), key)
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def make_client(
    options: ConnectionOptions,
    *,
    uri: FailoverUri | None = None,
    auto_reconnect: bool = True,
) -> Client:
    """Build (not connect) a client for *options*; *uri* overrides ``options.uri``.

    Raises:
        stomp_failover.UriError: the URI does not parse.
        ssl.SSLError, OSError: TLS files that do not load.
    """
    return Client(
        uri if uri is not None else parse_uri(options.uri),
        login=options.login,
        passcode=options.passcode,
        vhost=options.vhost,
        versions=options.versions,
        heart_beat=options.heart_beat,
        ssl_context=tls_context(options),
        connect_timeout=options.connect_timeout,
        connected_timeout=options.connect_timeout,
        receipt_timeout=options.connect_timeout,
        auto_reconnect=auto_reconnect,
    )

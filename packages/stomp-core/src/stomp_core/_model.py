"""The plain values of the client API: settings, TLS options, the reconnection report, counters."""

from __future__ import annotations

import math
import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from stomp_commands import ALL_VERSIONS
from stomp_core._errors import InvalidRequest
from stomp_failover import Broker
from stomp_frame import Limits, Version
from stomp_session import DEFAULT_HEART_BEAT_GRACE, Connected

__all__ = [
    "DEFAULT_MAX_OUTGOING",
    "DEFAULT_TIMEOUT",
    "ClientSettings",
    "Counters",
    "DisconnectResult",
    "Reconnected",
    "TlsOptions",
    "UnfinishedHandler",
    "parse_versions",
    "positive",
]

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds allowed by default for each network step, CONNECTED, a receipt and DISCONNECT."""

DEFAULT_MAX_OUTGOING: Final = 4 * 1024 * 1024
"""Bytes the outbound buffer holds before calls that write wait for room (back-pressure)."""

PathLike = str | os.PathLike[str]


def positive(name: str, value: object, *, optional: bool = False) -> float | None:
    """*value* as seconds, checked: a finite positive number (or ``None`` if *optional*).

    Raises:
        InvalidRequest: anything else; the message names *name* and the value.
    """
    if value is None and optional:
        return None
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        allowed = "a positive number of seconds" + (" or None" if optional else "")
        msg = f"{name} must be {allowed}, got {value!r}"
        raise InvalidRequest(msg)
    return float(value)


def parse_versions(versions: Iterable[Version | str]) -> tuple[Version, ...]:
    """The STOMP versions to offer, from ``Version`` members or ``"1.0"``/``"1.1"``/``"1.2"``.

    Raises:
        InvalidRequest: an unknown version, or none at all.
    """
    known = {version.value: version for version in Version}
    result: list[Version] = []
    for given in versions:
        version: object = given
        if isinstance(version, Version):
            result.append(version)
        elif version in known:
            result.append(known[str(version)])
        else:
            msg = f"unknown STOMP version {version!r}: use 1.0, 1.1 or 1.2"
            raise InvalidRequest(msg)
    if not result:
        msg = "offer at least one STOMP version"
        raise InvalidRequest(msg)
    return tuple(v for v in ALL_VERSIONS if v in result)


def _pairs(
    given: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    if given is None:
        return ()
    items = given.items() if isinstance(given, Mapping) else given
    return tuple((str(name), str(value)) for name, value in items)


def _heart_beat(value: object) -> tuple[int, int]:
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        msg = f"heart_beat must be (send_ms, receive_ms), two integers >= 0, got {value!r}"
        raise InvalidRequest(msg)
    return (value[0], value[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsOptions:
    """How a client secures ``ssl://`` connections; the same options in every client.

    By default the broker's certificate is verified against the platform's trust
    store and its host name (the URI's host, or the broker's ``serverHostname``
    option), which is also sent as SNI.

    Attributes:
        ca_file: PEM file of the certificate authorities to trust instead of the
            platform's.
        client_cert: PEM file of a client certificate to present; it may hold the key.
        client_key: PEM file of its private key, when not in *client_cert*.
        verify: ``False`` turns verification off (no certificate or name check; SNI is
            still sent); every connection made so logs a warning.
        server_hostname: The name to verify and send as SNI for every broker, instead
            of the URI's host (a broker's own ``serverHostname`` option still wins).
    """

    ca_file: PathLike | None = None
    client_cert: PathLike | None = None
    client_key: PathLike | None = None
    verify: bool = True
    server_hostname: str | None = None

    def __post_init__(self) -> None:
        if self.client_key is not None and self.client_cert is None:
            msg = "TlsOptions: client_key needs client_cert"
            raise InvalidRequest(msg)

    def ssl_context(self) -> ssl.SSLContext:
        """A standard-library context with these options (for socket and asyncio clients).

        Raises:
            OSError: a file cannot be read.
            ssl.SSLError: a file holds no usable PEM data.
        """
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=None if self.ca_file is None else os.fspath(self.ca_file),
        )
        if self.client_cert is not None:
            context.load_cert_chain(
                os.fspath(self.client_cert),
                None if self.client_key is None else os.fspath(self.client_key),
            )
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """Every client's settings, checked when made; the clients' constructors build one.

    Attributes:
        login: The user name (a broker of the URI with ``user:password@`` uses its own).
        passcode: The password; never in a repr, a log line or an error.
        vhost: The CONNECT ``host`` header (RabbitMQ's virtual host); a broker's
            ``vhost`` option wins; without either, the broker's host name.
        versions: The STOMP versions to offer (``Version`` or ``"1.2"``).
        heart_beat: ``(cx, cy)`` in ms: send a beat at least every *cx* ms, want one
            every *cy* ms; ``(0, 0)``, the default in every client, for none.
        heart_beat_grace: How many receive intervals of silence make the broker dead.
        connect_headers: Extra CONNECT headers (``client-id``, ...).
        connect_timeout: Seconds for the transport of an attempt (TCP, then TLS).
        connected_timeout: Seconds for the broker's CONNECTED after that.
        receipt_timeout: Default seconds a call waits for its receipt, and for the
            connection while the client reconnects.
        write_timeout: Seconds the outbound buffer may make no progress (a broker that
            stops reading) before the connection is closed, and a call may wait for
            room in it.
        disconnect_timeout: Seconds a graceful end waits (receipts, handlers, and the
            RECEIPT of DISCONNECT).
        auto_reconnect: Reconnect through the failover policy after a lost connection.
        coalesce_acks: Let an ACK or NACK without receipt wait (at most
            :attr:`ack_delay`) to leave with others in one write.
        ack_delay: Seconds a coalesced ACK may wait.
        max_outgoing: Bytes the outbound buffer holds before writes wait for room.
        limits: Bounds on frames, received and sent.
        websocket_headers: Extra HTTP headers of the WebSocket upgrade for ``ws://``
            and ``wss://`` brokers (``Origin``, ``Authorization``, ``Cookie``).
    """

    login: str | None = None
    passcode: str | None = field(default=None, repr=False)
    vhost: str | None = None
    versions: tuple[Version, ...] = ALL_VERSIONS
    heart_beat: tuple[int, int] = (0, 0)
    heart_beat_grace: float = DEFAULT_HEART_BEAT_GRACE
    connect_headers: tuple[tuple[str, str], ...] = ()
    connect_timeout: float = DEFAULT_TIMEOUT
    connected_timeout: float = DEFAULT_TIMEOUT
    receipt_timeout: float = DEFAULT_TIMEOUT
    write_timeout: float = DEFAULT_TIMEOUT
    disconnect_timeout: float = DEFAULT_TIMEOUT
    auto_reconnect: bool = True
    coalesce_acks: bool = True
    ack_delay: float = 0.01
    max_outgoing: int = DEFAULT_MAX_OUTGOING
    limits: Limits = field(default_factory=Limits)
    websocket_headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def make(
        cls,
        *,
        versions: Iterable[Version | str] = ALL_VERSIONS,
        connect_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        limits: Limits | None = None,
        websocket_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **values: object,
    ) -> ClientSettings:
        """Build settings from a client constructor's loose arguments, checking each.

        Raises:
            InvalidRequest: a value out of range or of the wrong kind, naming it.
        """
        return cls(
            versions=parse_versions(versions),
            connect_headers=_pairs(connect_headers),
            websocket_headers=_pairs(websocket_headers),
            limits=Limits() if limits is None else limits,
            **values,  # type: ignore[arg-type]
        )

    def __post_init__(self) -> None:
        for name in (
            "connect_timeout",
            "connected_timeout",
            "receipt_timeout",
            "write_timeout",
            "disconnect_timeout",
            "ack_delay",
        ):
            positive(name, getattr(self, name))
        _heart_beat(self.heart_beat)
        grace: object = self.heart_beat_grace
        if (
            not isinstance(grace, (int, float))
            or isinstance(grace, bool)
            or not math.isfinite(grace)
            or grace < 1
        ):
            msg = f"heart_beat_grace must be a finite number >= 1, got {grace!r}"
            raise InvalidRequest(msg)
        size: object = self.max_outgoing
        if not isinstance(size, int) or size < 1:
            msg = f"max_outgoing must be a positive number of bytes, got {self.max_outgoing!r}"
            raise InvalidRequest(msg)
        for name, value in self.websocket_headers:
            if not name or any(c in name for c in " :\r\n\t") or any(c in value for c in "\r\n"):
                msg = f"websocket_headers: HTTP cannot carry the header {name!r}"
                raise InvalidRequest(msg)
        for name in ("login", "passcode", "vhost"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                msg = f"{name} must be a string or None, got {type(value).__name__}"
                raise InvalidRequest(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected:
    """The client lost its connection and made a new one: what that cost.

    Attributes:
        broker: The broker now connected.
        connected: The new connection's CONNECTED (version, heart-beats, and the
            subscriptions replayed in ``resubscribed``).
        cause: Why the previous connection ended.
        aborted_transactions: Transactions open on the lost connection: the broker
            rolled them back; they are not replayed.
        lost_receipts: Receipts that never came: a SEND among them may or may not be
            stored (send it again for at-least-once delivery).
        discarded: Messages received on the lost connection but not yet taken by the
            caller or a handler, dropped because they could no longer be acknowledged;
            the broker delivers them again (messages of ``auto`` subscriptions are
            kept, the broker counts them delivered).
    """

    broker: Broker
    connected: Connected
    cause: BaseException
    aborted_transactions: tuple[str, ...]
    lost_receipts: tuple[str, ...]
    discarded: int

    def __str__(self) -> str:
        """One line for a log: where, why, and what the loss cost."""
        return (
            f"reconnected to {self.broker} after: {self.cause} (resubscribed "
            f"{len(self.connected.resubscribed)}, discarded {self.discarded} unacked messages "
            f"for redelivery, {len(self.aborted_transactions)} transactions rolled back, "
            f"{len(self.lost_receipts)} receipts lost)"
        )


@dataclass(slots=True)
class Counters:
    """What a client has done so far, cheap enough to be always on (read, never reset).

    Attributes:
        frames_in: Frames received (heart-beats not counted).
        frames_out: Frames written (heart-beats not counted).
        bytes_in: Bytes received.
        bytes_out: Bytes handed to the transport.
        messages_received: MESSAGE frames received.
        messages_acked: ACKs written.
        messages_nacked: NACKs written.
        messages_discarded: Messages dropped with a lost connection (redelivered by the broker).
        receipts_awaited: Frames sent with a receipt.
        receipts_lost: Receipts lost with a connection or timed out.
        connections: Connections made (CONNECTED received).
        reconnects: Connections made after a lost one.
        heart_beats_missed: Connections ended because the broker fell silent.
    """

    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    messages_received: int = 0
    messages_acked: int = 0
    messages_nacked: int = 0
    messages_discarded: int = 0
    receipts_awaited: int = 0
    receipts_lost: int = 0
    connections: int = 0
    reconnects: int = 0
    heart_beats_missed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UnfinishedHandler:
    """A handler still running when a graceful end stopped waiting for it (it was cancelled).

    Its message was not acknowledged: the broker delivers it again.

    Attributes:
        subscription: The subscription's id.
        destination: The message's destination.
        message_id: The message's ``message-id``.
        running_for: Seconds it had been running.
    """

    subscription: str
    destination: str
    message_id: str
    running_for: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DisconnectResult:
    """How a graceful end went, in every client.

    Attributes:
        receipt: Whether the broker confirmed the DISCONNECT with a RECEIPT (so every
            frame sent before it was processed).
        unfinished: Handlers still running when the end stopped waiting for them.
    """

    receipt: bool
    unfinished: tuple[UnfinishedHandler, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether the DISCONNECT was confirmed and no handler was left unfinished."""
        return self.receipt and not self.unfinished

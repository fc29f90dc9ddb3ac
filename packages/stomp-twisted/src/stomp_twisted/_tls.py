"""TLS for ``ssl://`` brokers: Twisted's ``optionsForClientTLS``, verifying by default."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from twisted.internet import ssl
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from zope.interface import implementer  # type: ignore[import-untyped, unused-ignore]

from stomp_core import TlsOptions

if TYPE_CHECKING:
    from twisted.protocols.tls import TLSMemoryBIOProtocol

__all__ = ["TlsOptions", "check_files", "connection_creator"]

logger = logging.getLogger("stomp_twisted")

_PEM_BLOCK: Final = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)

PathLike = str | os.PathLike[str]


def _read(path: PathLike) -> bytes:
    return Path(path).read_bytes()


def _blocks(pem: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(label, block)`` of every PEM block in *pem*, in order."""
    return [(match.group(1), match.group(0)) for match in _PEM_BLOCK.finditer(pem)]


def _client_identity(options: TlsOptions) -> tuple[x509.Certificate, Any] | None:
    """The client certificate and its private key (cryptography objects), if any."""
    if options.client_cert is None:
        return None
    pem = _read(options.client_cert)
    if options.client_key is not None:
        pem += b"\n" + _read(options.client_key)
    blocks = _blocks(pem)
    certificates = [block for label, block in blocks if label == b"CERTIFICATE"]
    keys = [block for label, block in blocks if label.endswith(b"PRIVATE KEY")]
    if not certificates or not keys:
        msg = "the client certificate needs a PEM certificate and a PEM private key"
        raise ValueError(msg)
    certificate = x509.load_pem_x509_certificate(certificates[0])
    key = serialization.load_pem_private_key(keys[0], password=None)
    return certificate, key


def _trust_root(options: TlsOptions) -> Any:
    if options.ca_file is None:
        return ssl.platformTrust()  # type: ignore[no-untyped-call]
    certificates = [
        block for label, block in _blocks(_read(options.ca_file)) if label == b"CERTIFICATE"
    ]
    if not certificates:
        msg = f"no PEM certificate in the CA file {os.fspath(options.ca_file)!r}"
        raise ValueError(msg)
    loaded = [ssl.Certificate.loadPEM(block) for block in certificates]
    return ssl.trustRootFromCertificates(loaded)  # type: ignore[no-untyped-call]


@implementer(IOpenSSLClientConnectionCreator)
class _Unverified:
    """A client connection creator that checks nothing but still sends SNI."""

    def __init__(self, hostname: str, options: ssl.CertificateOptions) -> None:
        self._hostname = hostname
        self._options = options

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:  # noqa: N802, N803 - Twisted's names
        connection = SSL.Connection(self._options.getContext(), None)
        if not (isIPAddress(self._hostname) or isIPv6Address(self._hostname)):
            connection.set_tlsext_host_name(self._hostname.encode("idna"))
        connection.set_app_data(tlsProtocol)
        return connection


def connection_creator(options: TlsOptions, hostname: str) -> object:
    """Return the ``IOpenSSLClientConnectionCreator`` for a broker known as *hostname*."""
    identity = _client_identity(options)
    # Certificates and keys go to pyOpenSSL as cryptography objects (its own X509 and
    # PKey are deprecated), so they are not handed over as a Twisted PrivateCertificate.
    extra: dict[str, Any] = {}
    if identity is not None:
        extra = {"certificate": identity[0], "privateKey": identity[1]}
    if not options.verify:
        logger.warning(
            "TLS verification is OFF for %s: the broker's certificate and name are not checked",
            hostname,
        )
        return _Unverified(hostname, ssl.CertificateOptions(verify=False, **extra))
    return ssl.optionsForClientTLS(
        hostname, trustRoot=_trust_root(options), extraCertificateOptions=extra or None
    )


def check_files(options: TlsOptions) -> None:
    """Read the files *options* names now, so that a wrong path fails at once.

    Raises:
        OSError: a file cannot be read.
        ValueError: a file holds no usable PEM data.
    """
    try:
        _client_identity(options)
        if options.ca_file is not None:
            _trust_root(options)
    except OSError:
        raise
    except Exception as exc:
        msg = f"TlsOptions: unusable PEM data: {exc}"
        raise ValueError(msg) from exc

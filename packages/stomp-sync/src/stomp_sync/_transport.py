"""Opening sockets to a broker: TCP (IPv4 or IPv6) and TLS, each step under a deadline."""

from __future__ import annotations

import logging
import socket
import ssl

from stomp_failover import Broker
from stomp_sync._errors import WaitTimeout

logger = logging.getLogger("stomp_sync")


def default_ssl_context() -> ssl.SSLContext:
    """Return the TLS context used when none is given.

    The system's trust store, with certificate and host-name verification on
    (:func:`ssl.create_default_context`).
    """
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


def warn_if_unverified(context: ssl.SSLContext) -> None:
    """Log a warning when *context* does not verify the broker (an explicit opt-out)."""
    if context.verify_mode is ssl.CERT_NONE:
        logger.warning(
            "TLS certificate verification is off: the broker is not authenticated "
            "and the connection can be intercepted"
        )
    elif not context.check_hostname:
        logger.warning(
            "TLS host-name checking is off: any certificate the trusted authorities "
            "signed is accepted for this broker"
        )


def open_socket(
    broker: Broker, *, timeout: float, ssl_context: ssl.SSLContext | None
) -> socket.socket:
    """Connect to *broker* and return a non-blocking socket (TLS handshake done for ``ssl``).

    Args:
        broker: Where to connect; ``ssl`` brokers get TLS with SNI and verification
            of the name :meth:`Broker.server_name <stomp_failover.Broker.server_name>` gives.
        timeout: Seconds allowed for the TCP connection, and again for the TLS handshake.
        ssl_context: The TLS context (:func:`default_ssl_context` when None).

    Raises:
        WaitTimeout: the connection or the handshake took longer than *timeout*.
        OSError: the connection was refused, the name did not resolve, the
            certificate did not verify (:class:`ssl.SSLCertVerificationError`), ...
    """
    try:
        sock = socket.create_connection(broker.address, timeout=timeout)
    except TimeoutError as exc:
        raise WaitTimeout(f"TCP connection to {broker}", timeout) from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if broker.scheme == "ssl":
            context = default_ssl_context() if ssl_context is None else ssl_context
            sock.settimeout(timeout)
            try:
                sock = context.wrap_socket(sock, server_hostname=broker.server_name())
            except TimeoutError as exc:
                raise WaitTimeout(f"TLS handshake with {broker}", timeout) from exc
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock

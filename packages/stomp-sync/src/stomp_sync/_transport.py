"""Opening a socket to a broker under a deadline: TCP, then TLS; a wake-up ends it at once."""

from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
import ssl
import time

from stomp_core import TlsOptions, WaitTimeout
from stomp_failover import Broker

logger = logging.getLogger("stomp_sync")

_IN_PROGRESS = frozenset({0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY})


class Interrupted(Exception):
    """The client was closed while the socket was being opened."""


def default_ssl_context() -> ssl.SSLContext:
    """Return the TLS context used when none is given.

    The system's trust store, with certificate and host-name verification on
    (:func:`ssl.create_default_context`).
    """
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


def tls_context(tls: TlsOptions | ssl.SSLContext | None) -> ssl.SSLContext:
    """The context for ``ssl://`` brokers: given, built from options, or the default."""
    if isinstance(tls, ssl.SSLContext):
        return tls
    if tls is None:
        return default_ssl_context()
    return tls.ssl_context()


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


class _Waiter:
    """Waits for one socket to be ready, or for the wake-up socket, until a deadline."""

    def __init__(self, wake: socket.socket, deadline: float, awaited: str, timeout: float) -> None:
        self._wake = wake
        self._deadline = deadline
        self._awaited = awaited
        self._timeout = timeout

    def wait(self, sock: socket.socket, events: int) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(self._awaited, self._timeout)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, events)
            selector.register(self._wake, selectors.EVENT_READ)
            ready = selector.select(remaining)
        if any(key.fileobj is self._wake for key, _ in ready):
            raise Interrupted
        if not ready:
            raise WaitTimeout(self._awaited, self._timeout)


def open_socket(
    broker: Broker,
    *,
    timeout: float,
    context: ssl.SSLContext | None,
    server_hostname: str | None,
    wake: socket.socket,
) -> socket.socket:
    """Connect to *broker*; return a non-blocking socket (TLS handshake done for ``ssl``).

    *timeout* covers the TCP connection and the TLS handshake together; a byte on
    *wake* ends the wait at once (the client was closed).

    Raises:
        WaitTimeout: the connection or the handshake took longer than *timeout*.
        Interrupted: *wake* became readable.
        OSError: the connection was refused, the name did not resolve, the
            certificate did not verify (:class:`ssl.SSLCertVerificationError`), ...
    """
    deadline = time.monotonic() + timeout
    waiter = _Waiter(wake, deadline, f"TCP connection to {broker}", timeout)
    last: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(
        broker.host, broker.port, type=socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            if code not in _IN_PROGRESS:
                raise OSError(code, os.strerror(code))
            waiter.wait(sock, selectors.EVENT_WRITE)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if broker.tls:  # ssl:// and wss://
                assert context is not None
                tls = context.wrap_socket(
                    sock,
                    server_hostname=broker.server_name(server_hostname),
                    do_handshake_on_connect=False,
                )
                return _handshake(
                    tls, _Waiter(wake, deadline, f"TLS handshake with {broker}", timeout)
                )
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise last or OSError(f"no address for {broker}")


def _handshake(tls: ssl.SSLSocket, waiter: _Waiter) -> ssl.SSLSocket:
    warn_if_unverified(tls.context)
    try:
        while not _handshake_step(tls, waiter):
            pass
    except BaseException:
        tls.close()
        raise
    return tls


def _handshake_step(tls: ssl.SSLSocket, waiter: _Waiter) -> bool:
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        waiter.wait(tls, selectors.EVENT_READ)
        return False
    except ssl.SSLWantWriteError:
        waiter.wait(tls, selectors.EVENT_WRITE)
        return False
    return True

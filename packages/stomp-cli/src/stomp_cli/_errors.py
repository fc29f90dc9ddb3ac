"""Exit codes, and the translation of the client's errors into a message, a hint and a code."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from stomp_failover import UriError
from stomp_sync import BrokerError, ConnectFailed, ConnectionLost, WaitTimeout


class ExitCode(IntEnum):
    """What ``stompctl`` exits with; scripts can rely on these numbers."""

    OK = 0
    """The command did what it was asked."""
    FAILURE = 1
    """Something else went wrong (an unexpected error)."""
    USAGE = 2
    """The command line is wrong (an unknown option, a bad URI, an unreadable file)."""
    CONNECTION = 3
    """No connection: nothing listens, the host is unknown, the connection was lost."""
    TLS = 4
    """The TLS handshake failed (certificate verification, TLS to a plain port)."""
    AUTH = 5
    """The broker refused the CONNECT with ERROR: credentials, virtual host, version."""
    TIMEOUT = 6
    """Something awaited did not come in time (CONNECTED, a receipt, the messages asked for)."""
    BROKER = 7
    """The broker sent an ERROR after the connection was made."""


@dataclass(frozen=True)
class Failure:
    """What went wrong, for a person: a message, maybe a hint, and the exit code."""

    code: ExitCode
    message: str
    hint: str | None = None
    detail: str | None = None
    """More of the broker's words (an ERROR frame's body), shown under the message."""


class CommandFailed(Exception):
    """Raised inside a command to end it with a :class:`Failure`."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def causes(exc: BaseException) -> Iterator[BaseException]:
    """*exc* and its causes (``__cause__``, else ``__context__``), outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


_AUTH_WORDS = re.compile(
    r"access refused|bad connect|password|login|credential|authenticat|not authori[sz]ed|"
    r"security",
    re.IGNORECASE,
)
_VHOST_WORDS = re.compile(r"virtual ?host|vhost", re.IGNORECASE)
_VERSION_WORDS = re.compile(r"version", re.IGNORECASE)
_PLAIN_PORT_TLS = re.compile(
    r"wrong version number|record layer failure|unexpected eof|eof occurred|packet length too long|"
    r"http request|unknown protocol",
    re.IGNORECASE,
)


def refusal_hint(message: str) -> str | None:
    """A hint for the broker's ERROR message when it refused a CONNECT."""
    if _VHOST_WORDS.search(message):
        return (
            "wrong virtual host: the CONNECT host header names it. RabbitMQ's default "
            "virtual host is '/' (pass --vhost /); ActiveMQ accepts any"
        )
    if _AUTH_WORDS.search(message):
        return "bad credentials: check --login and --passcode (or $STOMP_PASSCODE)"
    if _VERSION_WORDS.search(message):
        return "no common STOMP version: offer others with --version (1.0, 1.1, 1.2)"
    return None


def tls_hint(error: ssl.SSLError) -> str:
    """A hint for a failed TLS handshake."""
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or str(error)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            return (
                "the certificate does not name this host: connect by a name it holds "
                "(or set the URI option serverHostname)"
            )
        return (
            "the broker's certificate is not trusted: pass its CA with --ca-file "
            "(or --insecure to skip verification, never in production)"
        )
    if _PLAIN_PORT_TLS.search(str(error).replace("_", " ")):
        return "TLS to a port that does not speak it: use tcp:// for a plain STOMP port"
    return "the TLS handshake failed: check the port, --ca-file, --cert and --key"


def _connection_hint(error: OSError, where: str) -> str | None:
    if isinstance(error, ConnectionRefusedError):
        return (
            f"nothing listens at {where}: check the port (STOMP's usual ports: ActiveMQ "
            "61613, TLS 61614; RabbitMQ 61613, TLS 61614) and that the broker is up"
        )
    if isinstance(error, socket.gaierror):
        return "the host name does not resolve: check the spelling of the host"
    return None


def describe(exc: BaseException, *, connecting: bool = False, where: str = "") -> Failure:
    """Turn an error of the client (or of the command line) into a :class:`Failure`.

    Args:
        exc: The error.
        connecting: It ended a ``connect()``: an ERROR is then a refusal (``AUTH``).
        where: The broker or URI concerned, for the hints.
    """
    if isinstance(exc, CommandFailed):
        return exc.failure
    if isinstance(exc, UriError):
        return Failure(ExitCode.USAGE, f"bad URI: {exc}")
    if isinstance(exc, BrokerError):
        text = exc.error.message or "(no message header)"
        body = exc.frame.body.decode("utf-8", "replace").strip()
        detail = "\n".join(body.splitlines()[:5]) or None
        if connecting:
            return Failure(
                ExitCode.AUTH,
                f"the broker refused the connection: {text}",
                refusal_hint(f"{body}\n{text}"),
                detail,
            )
        return Failure(ExitCode.BROKER, f"the broker sent ERROR: {text}", None, detail)
    # The outermost error says what was going on; the innermost cause says why.
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLError):
            return Failure(ExitCode.TLS, f"TLS failed: {_ssl_text(cause)}", tls_hint(cause))
    for cause in causes(exc):
        if isinstance(cause, (ConnectionRefusedError, socket.gaierror)):
            return Failure(
                ExitCode.CONNECTION,
                f"cannot connect: {exc}",
                _connection_hint(cause, where or "that address"),
            )
    timeouts = [c for c in causes(exc) if isinstance(c, WaitTimeout)]
    if any(t.awaited.startswith("TLS handshake") for t in timeouts):
        return Failure(
            ExitCode.TLS,
            str(exc),
            "the TLS handshake got no answer: a plain STOMP port? use tcp:// for it",
        )
    if timeouts:
        hint = None
        if connecting:
            hint = (
                "no CONNECTED in time: a TLS port spoken to in plain text (use ssl://), "
                "another protocol's port, or a slow broker (--connect-timeout)"
            )
        return Failure(ExitCode.TIMEOUT, str(exc), hint)
    if isinstance(exc, (ConnectFailed, ConnectionLost, OSError)):
        hint = None
        if connecting:
            hint = (
                "the connection closed before CONNECTED: a TLS port spoken to in plain "
                "text (use ssl://), or another protocol's port"
            )
        return Failure(ExitCode.CONNECTION, f"connection failed: {exc}", hint)
    return Failure(ExitCode.FAILURE, f"{type(exc).__name__}: {exc}")


def _ssl_text(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    return error.reason or str(error)

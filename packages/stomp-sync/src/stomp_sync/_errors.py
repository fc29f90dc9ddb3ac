"""The errors of the blocking client: one base, one class per way a call can fail."""

from __future__ import annotations

from stomp_commands import ErrorInfo
from stomp_frame import Frame


class ClientError(Exception):
    """Base of every error the blocking client raises.

    The caller's misuse of the protocol (acknowledging a message of an earlier
    connection, committing an unknown transaction, ...) raises the session's
    :class:`stomp_session.LocalProtocolError` unchanged, before anything is written.
    """


class ConnectFailed(ClientError):
    """No connection could be made: the failover policy gave up, or was told to.

    Its ``__cause__`` is the policy's :class:`stomp_failover.BrokersExhausted`, which
    names the brokers tried and the last cause met.
    """


class WaitTimeout(ClientError, TimeoutError):
    """Something awaited did not happen in time; the connection was closed.

    A timeout on the network (connect, TLS handshake, a write the broker does not
    take), on CONNECTED, on a receipt or on DISCONNECT leaves the conversation in an
    unknown state, so the client closes the connection rather than keep it half-open.
    With auto-reconnect on, the next call reconnects.

    Attributes:
        awaited: What was awaited, in words (``"CONNECTED from tcp://a:61613"``).
        timeout: How long it was awaited, in seconds.
    """

    def __init__(self, awaited: str, timeout: float) -> None:
        super().__init__(f"no {awaited} within {timeout:g} s")
        self.awaited = awaited
        self.timeout = timeout

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.awaited, self.timeout))


class BrokerError(ClientError):
    """The broker sent an ERROR frame.

    Attributes:
        error: What it says: ``message`` header, ``receipt-id``, body.
        frame: The ERROR frame itself.
    """

    def __init__(self, error: ErrorInfo, *, context: str | None = None) -> None:
        text = error.message or "(no message header)"
        where = f" ({context})" if context else ""
        super().__init__(f"the broker sent ERROR{where}: {text}")
        self.error = error

    @property
    def frame(self) -> Frame:
        """The ERROR frame."""
        return self.error.frame

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_broker_error, (self.error, str(self)))


def _rebuild_broker_error(error: ErrorInfo, text: str) -> BrokerError:
    exc = BrokerError(error)
    exc.args = (text,)
    return exc


class ConnectionLost(ClientError):
    """The connection ended while a call depended on it.

    Raised when a receipt, a DISCONNECT or an open transaction was lost with the
    connection (a SEND whose receipt was lost may or may not be stored: send it again
    for at-least-once delivery), when a write failed, and on any loss when
    auto-reconnect is off. Its ``__cause__`` is what ended the connection.

    Attributes:
        reason: Why the connection ended, in words.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

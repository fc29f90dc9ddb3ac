"""The one error hierarchy of every client: what a call or a client's end can fail with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stomp_commands import ErrorInfo
from stomp_frame import Frame

if TYPE_CHECKING:
    from stomp_core._model import UnfinishedHandler
    from stomp_failover import Broker, BrokersExhausted
    from stomp_session import MessageReceived

__all__ = [
    "BrokerError",
    "ClientError",
    "ConnectFailed",
    "ConnectionLost",
    "HandlerFailed",
    "InvalidRequest",
    "MessageStale",
    "NotConnected",
    "WaitTimeout",
]


class ClientError(Exception):
    """Base of every error a stomp-suite client raises (sync, Twisted, asyncio alike).

    Messages never contain the passcode.

    Attributes:
        unfinished: When this error ended a client with handlers, the handlers still
            running when its shutdown stopped waiting for them; otherwise empty.
    """

    unfinished: tuple[UnfinishedHandler, ...] = ()


class InvalidRequest(ClientError, ValueError):
    """The call cannot be made as asked; nothing was sent (also a :class:`ValueError`).

    A setting CONNECT cannot carry (a NUL in the login), a frame the negotiated
    version cannot carry, an unknown transaction or subscription, a receipt id
    already pending, an invalid argument. Its ``__cause__`` is the
    :class:`stomp_session.LocalProtocolError` behind it, when there is one.
    """


class MessageStale(InvalidRequest):
    """ACK or NACK of a message received on an earlier connection; nothing was sent.

    The broker delivers the message again on the current connection (an ACK with the
    old ids would be refused, or on RabbitMQ acknowledge another message). Refused at
    once, even while reconnecting.
    """


class NotConnected(ClientError):
    """The client has no connection and is not making one: not started, or ended."""


class ConnectFailed(ClientError):
    """The failover policy gave up: every attempt it allowed failed.

    Attributes:
        cause: The failure of the last attempt.
        attempts: How many attempts the phase that gave up made.
        brokers: The brokers tried, in the order first tried.
    """

    def __init__(self, exhausted: BrokersExhausted) -> None:
        super().__init__(str(exhausted))
        self.cause: BaseException | None = exhausted.cause
        self.attempts: int = exhausted.attempts
        self.brokers: tuple[Broker, ...] = exhausted.brokers
        self.__cause__ = exhausted


class ConnectionLost(ClientError):
    """The connection ended while a call depended on it.

    A receipt lost with the connection (a SEND among them may or may not be stored:
    send it again for at-least-once delivery), a transaction the broker rolled back
    with it, a DISCONNECT that was not confirmed, or a lost connection with
    auto-reconnect off.

    Attributes:
        reason: Why, in words.
        cause: What ended the connection, when known (also ``__cause__``).
    """

    def __init__(self, reason: str, *, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.reason,))


class WaitTimeout(ClientError, TimeoutError):
    """Something awaited did not come in time (also a builtin :class:`TimeoutError`).

    ``str(error)`` reads like ``no CONNECTED from tcp://h:61613 within 5 s``.

    Attributes:
        awaited: What was awaited, in words.
        timeout: How long it was awaited, in seconds.
    """

    def __init__(self, awaited: str, timeout: float) -> None:
        super().__init__(f"no {awaited} within {timeout:g} s")
        self.awaited = awaited
        self.timeout = float(timeout)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.awaited, self.timeout))


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    line = text.splitlines()[0].strip() if text else ""
    return line if len(line) <= 300 else line[:297] + "..."


class BrokerError(ClientError):
    """The broker sent an ERROR frame.

    The text names the ``message`` header and the first line of the body (RabbitMQ
    puts the real reason there; ActiveMQ a Java exception).

    Attributes:
        error: What the ERROR says (``message`` header, ``receipt-id``, body).
        command: The command of the request it answers, if it answers one.
    """

    def __init__(self, error: ErrorInfo, *, command: str | None = None) -> None:
        text = error.message or "(no message header)"
        detail = _first_line(error.body)
        if detail and detail != text:
            text = f"{text}: {detail}"
        where = f" in answer to {command}" if command else ""
        super().__init__(f"the broker sent ERROR{where}: {text}")
        self.error = error
        self.command = command

    @property
    def frame(self) -> Frame:
        """The ERROR frame."""
        return self.error.frame

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_broker_error, (self.error, self.command))


def _rebuild_broker_error(error: ErrorInfo, command: str | None) -> BrokerError:
    return BrokerError(error, command=command)


class HandlerFailed(ClientError):
    """A handler raised and its message could be neither forwarded nor NACKed (STOMP 1.0).

    The client then ends gracefully without acknowledging the message, so that the
    broker delivers it again (the "poison pill" rule).

    Attributes:
        message: The message whose handler failed.
        subscription: The id of its subscription.
        cause: What the handler raised.
    """

    def __init__(
        self, message: MessageReceived, *, subscription: str, cause: BaseException
    ) -> None:
        super().__init__(
            f"the handler of subscription {subscription!r} failed on message "
            f"{message.message.message_id!r}: {cause!r}"
        )
        self.message = message
        self.subscription = subscription
        self.cause = cause

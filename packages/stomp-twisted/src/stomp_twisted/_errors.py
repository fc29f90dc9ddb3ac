"""The exceptions of stomp-twisted: one base class, and one subclass per way a request can fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stomp_commands import ErrorInfo
from stomp_frame import Frame

if TYPE_CHECKING:
    from stomp_failover import Broker, BrokersExhausted
    from stomp_session import MessageReceived
    from stomp_twisted._model import UnfinishedHandler

__all__ = [
    "BrokerError",
    "ClientError",
    "ConnectFailed",
    "ConnectionLost",
    "HandlerFailed",
    "InvalidRequest",
    "NotConnected",
    "WaitTimeout",
]


class ClientError(Exception):
    """Base class of every error stomp-twisted raises or fails a ``Deferred`` with.

    Messages never contain the passcode.

    Attributes:
        unfinished: When this error ended the client (it is the failure of
            :attr:`Client.disconnected <stomp_twisted.Client.disconnected>`), the
            handlers that were still running when the shutdown gave up waiting for
            them; otherwise empty.
    """

    unfinished: tuple[UnfinishedHandler, ...] = ()


class ConnectFailed(ClientError):
    """Every connection attempt the failover policy allowed has failed.

    Attributes:
        cause: The failure of the last attempt (also ``__cause__`` of the policy's
            :class:`~stomp_failover.BrokersExhausted`, which is this error's ``__cause__``).
        attempts: How many attempts were made in the phase that gave up.
        brokers: The brokers tried, in the order first tried.
    """

    def __init__(self, exhausted: BrokersExhausted) -> None:
        super().__init__(str(exhausted))
        self.cause: BaseException | None = exhausted.cause
        self.attempts: int = exhausted.attempts
        self.brokers: tuple[Broker, ...] = exhausted.brokers


class WaitTimeout(ClientError, TimeoutError):
    """Something awaited did not come in time (also a builtin :class:`TimeoutError`).

    ``str(error)`` reads like ``no CONNECTED from tcp://h:61613 within 5.0 s``.

    Attributes:
        awaited: What was awaited, like ``"CONNECTED from tcp://h:61613"``.
        timeout: How long it was awaited, in seconds.
    """

    def __init__(self, awaited: str, timeout: float) -> None:
        super().__init__(f"no {awaited} within {float(timeout)} s")
        self.awaited = awaited
        self.timeout = float(timeout)


class BrokerError(ClientError):
    """The broker sent an ERROR frame.

    It fails the request whose receipt it answers (``receipt-id``); an ERROR while
    connecting fails the connection; any other ERROR ends the client, gracefully,
    with this error.

    Attributes:
        error: What the ERROR says (``message`` header, ``receipt-id``, body).
        frame: The ERROR frame itself.
        command: The command of the request whose receipt it answers, if any.
    """

    def __init__(self, error: ErrorInfo, *, command: str | None = None) -> None:
        text = error.message or "(no message header)"
        where = f" in answer to {command}" if command else ""
        super().__init__(f"the broker sent ERROR{where}: {text}")
        self.error = error
        self.frame: Frame = error.frame
        self.command = command


class ConnectionLost(ClientError):
    """The connection was lost and not re-established (or a request's receipt was lost with it).

    Attributes:
        cause: Why, when known: the transport's error, a heart-beat timeout
            (:class:`WaitTimeout`), a protocol failure, or
            :class:`ConnectFailed` when reconnecting gave up.
    """

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class NotConnected(ClientError):
    """A request was made while the client has no connection and is not (re)connecting."""


class InvalidRequest(ClientError, ValueError):
    """The request cannot be made as asked; nothing was sent.

    For instance a frame the version cannot carry, an unknown transaction, an ACK of
    a message from an earlier connection, or an invalid argument.

    Its ``__cause__`` is the :class:`stomp_session.LocalProtocolError` behind it.
    """


class HandlerFailed(ClientError):
    """A handler raised and the message could be neither forwarded nor NACKed (STOMP 1.0).

    The client then disconnects gracefully without acknowledging the message, so the
    broker delivers it again (the "poison pill" behaviour; a broker's redelivery
    policy bounds the repetitions). This error is the failure of
    :attr:`Client.disconnected <stomp_twisted.Client.disconnected>`.

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

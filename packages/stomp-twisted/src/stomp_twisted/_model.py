"""Plain values of the client's API: its states, shutdown results and error-handling choices."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeAlias

from stomp_session import MessageReceived

__all__ = [
    "ERROR_HEADER",
    "FORWARD_EXCLUDED_HEADERS",
    "ErrorAction",
    "ErrorHook",
    "Handler",
    "Message",
    "ReactorLike",
]

Message: TypeAlias = MessageReceived
"""What a handler receives: stomp-session's :class:`~stomp_session.MessageReceived`
(``body``, ``destination``, ``frame`` with every header, ``message.message_id``,
``message.redelivered``, ``subscription``)."""

Handler: TypeAlias = Callable[[MessageReceived], "Awaitable[object] | None"]
"""A subscription's handler: a plain function (returns ``None``) or an ``async`` one (or
any callable returning an awaitable such as a ``Deferred``). It succeeds when it
returns (or its awaitable completes); it fails when it raises."""


class ErrorAction(enum.Enum):
    """What to do with a message whose handler raised.

    See :meth:`Client.subscribe <stomp_twisted.Client.subscribe>`.
    """

    ACK = "ack"
    """Acknowledge it: the message is dropped."""
    NACK = "nack"
    """NACK it (STOMP 1.1+): the broker redelivers it or dead-letters it, per its policy.
    On STOMP 1.0, which has no NACK, this acts as :attr:`DISCONNECT`."""
    FORWARD = "forward"
    """Send a persistent copy to the subscription's error destination, then acknowledge it.
    Without an error destination this acts as the default without one."""
    DISCONNECT = "disconnect"
    """Leave it unacknowledged and disconnect gracefully (the "poison pill"): the broker
    delivers it again; :attr:`Client.disconnected <stomp_twisted.Client.disconnected>`
    fails with :class:`~stomp_twisted.HandlerFailed`."""


ErrorHook: TypeAlias = Callable[
    [MessageReceived, BaseException], "ErrorAction | Awaitable[ErrorAction]"
]
"""A subscription's ``on_error``: given the message and what its handler raised, return
(or resolve to) the :class:`ErrorAction` to take."""

ERROR_HEADER: Final = "handler-error"
"""The header added to a copy forwarded to an error destination: the failure's
description (``ExceptionType: message``, on one line, at most 1000 characters)."""

FORWARD_EXCLUDED_HEADERS: Final[frozenset[str]] = frozenset(
    {
        "message-id",
        "destination",
        "timestamp",
        "expires",
        "priority",
        "subscription",
        "ack",
        "redelivered",
        "content-length",
        # Set by the client's own parameters on the copy, or meaningless on it.
        "receipt",
        "transaction",
        "persistent",
        ERROR_HEADER,
    }
)
"""Headers of a failed message that are not copied when it is forwarded to an error
destination: the broker's own (``message-id``, ``destination``, ``timestamp``,
``expires``, ``priority``, ``subscription``, ``ack``, ``redelivered``), ``content-length``
(written anew), and those the copy sets itself (``persistent:true``, the error header)."""


class ReactorLike(Protocol):
    """What stomp-twisted needs of a reactor: ``IReactorTime`` and ``IReactorTCP``.

    Every Twisted reactor qualifies, and so do ``MemoryReactorClock`` and
    :class:`stomp_twisted.testing.SimulatedReactor`. (A structural type, so that no
    mypy plugin for zope interfaces is needed.)
    """

    def seconds(self) -> float:
        """The reactor's current time, in seconds."""
        ...

    def callLater(  # noqa: N802 - Twisted's name
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> object:
        """Call *callable* after *delay* seconds; return an ``IDelayedCall``."""
        ...

    def connectTCP(  # noqa: N802 - Twisted's name
        self,
        host: str,
        port: int,
        factory: Any,  # a ClientFactory
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,  # noqa: N803 - Twisted's name
    ) -> object:
        """Connect to *host*:*port* with *factory*; return an ``IConnector``."""
        ...

    def listenTCP(  # noqa: N802 - Twisted's name
        self,
        port: int,
        factory: Any,  # a ServerFactory
        backlog: int = 50,
        interface: str = "",
    ) -> object:
        """Listen on *port* with *factory*; return an ``IListeningPort``."""
        ...

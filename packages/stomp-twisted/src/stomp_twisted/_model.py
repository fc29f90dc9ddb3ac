"""Plain values of the client's API: handlers, error hooks and the reactor it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias

from stomp_core import ERROR_HEADER, FORWARD_EXCLUDED_HEADERS, ErrorAction
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


# ErrorAction, ERROR_HEADER and FORWARD_EXCLUDED_HEADERS are the client core's: every
# client with handlers decides the same way (stomp_core.Dispatcher).

ErrorHook: TypeAlias = Callable[
    [MessageReceived, BaseException], "ErrorAction | Awaitable[ErrorAction]"
]
"""A subscription's ``on_error``: given the message and what its handler raised, return
(or resolve to) the :class:`ErrorAction` to take."""


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

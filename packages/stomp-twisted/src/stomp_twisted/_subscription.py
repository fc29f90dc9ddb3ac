"""A subscription of the Twisted client: its handler, its hook, and its state in the core."""

from __future__ import annotations

from stomp_commands import AckMode
from stomp_core import HandlerState
from stomp_twisted._model import ErrorHook, Handler

__all__ = ["Subscription"]


class Subscription:
    """A subscription of a :class:`~stomp_twisted.Client`, with its handler.

    Made by :meth:`Client.subscribe <stomp_twisted.Client.subscribe>`; it stays
    across reconnections (the client subscribes again after each) until
    :meth:`Client.unsubscribe <stomp_twisted.Client.unsubscribe>`. What its
    handler's outcomes do is decided by the client core
    (:class:`stomp_core.Dispatcher`).

    Attributes:
        headers: The extra SUBSCRIBE headers, as sent (prefetch included).
    """

    __slots__ = ("_handler", "_on_error", "_state", "headers")

    def __init__(
        self,
        state: HandlerState,
        *,
        handler: Handler,
        on_error: ErrorHook | None,
        headers: tuple[tuple[str, str], ...],
    ) -> None:
        self._state = state
        self._handler = handler
        self._on_error = on_error
        self.headers = headers

    def __repr__(self) -> str:
        state = self._state
        return (
            f"<Subscription {state.id!r} to {state.destination!r} ack={state.ack} "
            f"in_flight={state.in_flight}/{state.max_in_flight} queued={state.queued}>"
        )

    @property
    def id(self) -> str:
        """The subscription id sent in SUBSCRIBE."""
        return self._state.id

    @property
    def destination(self) -> str:
        """What it subscribes to."""
        return self._state.destination

    @property
    def ack(self) -> AckMode:
        """Its ack mode."""
        return self._state.ack

    @property
    def max_in_flight(self) -> int:
        """The most messages its handler works on at once."""
        return self._state.max_in_flight

    @property
    def error_destination(self) -> str | None:
        """Where the messages whose handler failed are forwarded, if anywhere."""
        return self._state.error_destination

    @property
    def in_flight(self) -> int:
        """Messages handed to the handler and not yet settled (acknowledged, NACKed, ...)."""
        return self._state.in_flight

    @property
    def queued(self) -> int:
        """Messages received and waiting for a free place.

        At most ``max_in_flight`` plus one read's worth: then the client stops reading
        the connection.
        """
        return self._state.queued

    @property
    def active(self) -> bool:
        """Whether it still takes messages (not unsubscribed, client not shutting down)."""
        return self._state.active

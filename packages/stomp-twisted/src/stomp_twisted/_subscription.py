"""A subscription's handler dispatch: concurrency limit, acknowledgement, and error handling."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from inspect import isawaitable, iscoroutine
from typing import Any, Final, Literal, Protocol, TypeVar, cast

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from stomp_commands import AckMode
from stomp_frame import Version
from stomp_session import MessageReceived
from stomp_twisted._model import ErrorAction, ErrorHook, Handler

__all__ = ["Delivery", "Host", "Subscription"]

logger = logging.getLogger("stomp_twisted")

_T = TypeVar("_T")
_Outcome = Literal["ack", "nack", "none", "hold"]
"""How a delivery is settled: ACK, NACK, nothing to write, or never (left unacknowledged)."""
_FORWARD: Final = ErrorAction.FORWARD


class Host(Protocol):
    """What a subscription needs of its client (the only way it reaches the client)."""

    def now(self) -> float:
        """The reactor's time."""
        ...

    def version(self) -> Version | None:
        """The negotiated version of the current connection."""
        ...

    def settle(self, message: MessageReceived, outcome: str) -> None:
        """Write the ACK or NACK of *message* for *outcome* ``ack``/``nack`` (else nothing).

        A stale message's is only logged.
        """
        ...

    def forward(
        self, message: MessageReceived, destination: str, description: str
    ) -> Deferred[None]:
        """Send a persistent copy of *message* to *destination*, with a receipt."""
        ...

    def poison(self, delivery: Delivery, error: BaseException) -> None:
        """End the client gracefully, leaving *delivery*'s message unacknowledged."""
        ...

    def pause_reading(self, subscription: Subscription) -> None:
        """Stop reading the connection until :meth:`resume_reading`."""
        ...

    def resume_reading(self, subscription: Subscription) -> None:
        """Read again (once no subscription wants the pause)."""
        ...

    def started(self, delivery: Delivery) -> None:
        """A handler started on *delivery* (a graceful end waits for it)."""
        ...

    def finished(self, delivery: Delivery) -> None:
        """The handling of *delivery* is over."""
        ...


class Delivery:
    """One message handed to a handler, from the handler's start until it is settled."""

    __slots__ = (
        "abandoned",
        "busy",
        "deferred",
        "event",
        "manual",
        "outcome",
        "started",
        "subscription",
    )

    def __init__(self, subscription: Subscription, event: MessageReceived, started: float) -> None:
        self.subscription = subscription
        self.event = event
        self.started = started
        self.deferred: Deferred[object] | None = None
        self.outcome: _Outcome | None = None
        self.manual = False
        """The handler acknowledged (or NACKed) the message itself."""
        self.abandoned = False
        """A shutdown stopped waiting for the handler and cancelled it."""
        self.busy = True
        """The handler, or the handling of its failure, is still running."""


async def _await(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _as_deferred(result: Awaitable[object]) -> Deferred[object]:
    if isinstance(result, Deferred):
        return result
    if iscoroutine(result):
        return Deferred.fromCoroutine(result)
    return Deferred.fromCoroutine(_await(result))


def _describe(error: BaseException) -> str:
    text = f"{type(error).__qualname__}: {error}" if str(error) else type(error).__qualname__
    text = " ".join(text.split())  # one line: no header can hold a line break
    return text if len(text) <= 1000 else text[:997] + "..."


class Subscription:
    """A subscription of a :class:`~stomp_twisted.Client`, with its handler.

    Made by :meth:`Client.subscribe <stomp_twisted.Client.subscribe>`; it stays
    across reconnections (the client subscribes again after each) until
    :meth:`Client.unsubscribe <stomp_twisted.Client.unsubscribe>`.

    Attributes:
        id: The subscription id sent in SUBSCRIBE.
        destination: What it subscribes to.
        ack: Its ack mode.
        max_in_flight: The most messages its handler works on at once.
        error_destination: Where the messages whose handler failed are forwarded, if
            anywhere.
    """

    __slots__ = (
        "_accepting",
        "_handler",
        "_host",
        "_in_flight",
        "_on_error",
        "_order",
        "_pausing",
        "_pumping",
        "_queue",
        "ack",
        "destination",
        "error_destination",
        "headers",
        "id",
        "max_in_flight",
    )

    def __init__(
        self,
        host: Host,
        *,
        id: str,
        destination: str,
        ack: AckMode,
        handler: Handler,
        max_in_flight: int,
        error_destination: str | None,
        on_error: ErrorHook | None,
        headers: tuple[tuple[str, str], ...],
    ) -> None:
        self._host = host
        self.id = id
        self.destination = destination
        self.ack: AckMode = ack
        self.max_in_flight = max_in_flight
        self.error_destination = error_destination
        self.headers = headers
        """The extra SUBSCRIBE headers, as sent (prefetch included)."""
        self._handler = handler
        self._on_error = on_error
        self._queue: deque[MessageReceived] = deque()
        self._order: deque[Delivery] = deque()
        self._in_flight = 0
        self._accepting = True
        self._pumping = False
        self._pausing = False

    def __repr__(self) -> str:
        return (
            f"<Subscription {self.id!r} to {self.destination!r} ack={self.ack} "
            f"in_flight={self._in_flight}/{self.max_in_flight} queued={len(self._queue)}>"
        )

    @property
    def in_flight(self) -> int:
        """Messages handed to the handler and not yet settled (acknowledged, NACKed, ...)."""
        return self._in_flight

    @property
    def queued(self) -> int:
        """Messages received and waiting for a free place.

        At most ``max_in_flight`` plus one read's worth: then the client stops reading
        the connection.
        """
        return len(self._queue)

    @property
    def active(self) -> bool:
        """Whether it still takes messages (not unsubscribed, client not shutting down)."""
        return self._accepting

    # -- dispatch (called by the client) ----------------------------------------------------

    def deliver(self, event: MessageReceived) -> None:
        """Hand *event* to the handler now, or queue it (pausing the reading when full)."""
        if self._in_flight < self.max_in_flight and not self._queue:
            self._start(event)
            return
        self._queue.append(event)
        if len(self._queue) > self.max_in_flight and not self._pausing:
            self._pausing = True
            self._host.pause_reading(self)

    def _pump(self) -> None:
        if self._pumping:
            return
        self._pumping = True
        try:
            queue = self._queue
            while queue and self._in_flight < self.max_in_flight and self._accepting:
                self._start(queue.popleft())
        finally:
            self._pumping = False
        if self._pausing and len(self._queue) <= self.max_in_flight // 2:
            self._pausing = False
            self._host.resume_reading(self)

    def stop(self) -> int:
        """Take no more messages; drop the queued ones (unacknowledged). Return how many."""
        self._accepting = False
        dropped = len(self._queue)
        self._queue.clear()
        if self._pausing:
            self._pausing = False
            self._host.resume_reading(self)
        return dropped

    def purge(self, stale: Callable[[MessageReceived], bool]) -> int:
        """Drop the queued messages *stale* says can no longer be acknowledged; return how many.

        Called when the connection is lost: the broker delivers them again.
        """
        kept = [event for event in self._queue if not stale(event)]
        dropped = len(self._queue) - len(kept)
        if dropped:
            self._queue.clear()
            self._queue.extend(kept)
            self._pump()
        return dropped

    def _start(self, event: MessageReceived) -> None:
        host = self._host
        self._in_flight += 1
        delivery = Delivery(self, event, host.now())
        if self.ack == "client":
            self._order.append(delivery)
        host.started(delivery)
        try:
            result = self._handler(event)
        except Exception as exc:  # noqa: BLE001 - a handler's failure is handled, not propagated
            self._failed(delivery, exc)
            return
        if result is None:
            self._succeeded(delivery)
            return
        deferred = _as_deferred(result)
        delivery.deferred = deferred
        deferred.addCallbacks(
            self._on_result, self._on_failure, callbackArgs=(delivery,), errbackArgs=(delivery,)
        )

    def _on_result(self, _: object, delivery: Delivery) -> None:
        self._succeeded(delivery)

    def _on_failure(self, failure: Failure, delivery: Delivery) -> None:
        self._failed(delivery, cast(BaseException, failure.value))

    def _succeeded(self, delivery: Delivery) -> None:
        # Settle first: being no longer busy may let a shutdown send DISCONNECT at once.
        if delivery.abandoned:
            self._settle(delivery, "hold")
        elif delivery.manual or self.ack == "auto":
            self._settle(delivery, "none")
        else:
            self._settle(delivery, "ack")
        self._host.finished(delivery)

    def _failed(self, delivery: Delivery, error: BaseException) -> None:
        if delivery.abandoned:
            self._settle(delivery, "hold")
            self._host.finished(delivery)
            return
        message_id = delivery.event.message.message_id
        if delivery.manual:
            logger.warning(
                "the handler of subscription %r raised after settling message %r itself: %s",
                self.id,
                message_id,
                _describe(error),
            )
            self._settle(delivery, "none")
            self._host.finished(delivery)
            return
        logger.warning(
            "the handler of subscription %r failed on message %r: %s",
            self.id,
            message_id,
            _describe(error),
            exc_info=error,
        )
        recovery = Deferred.fromCoroutine(self._recover(delivery, error))
        recovery.addErrback(self._recovery_failed, delivery)

    def _recovery_failed(self, failure: Failure, delivery: Delivery) -> None:
        logger.error(
            "handling the failure of message %r of subscription %r failed; "
            "it is left unacknowledged",
            delivery.event.message.message_id,
            self.id,
            exc_info=failure.value,
        )
        self._settle(delivery, "hold")
        self._host.finished(delivery)

    # -- error handling ------------------------------------------------------------------------

    def _fallback(self) -> ErrorAction:
        """The action without an error destination: NACK, or DISCONNECT on STOMP 1.0."""
        if self.ack == "auto":
            return ErrorAction.ACK
        if self._host.version() is Version.V1_0:
            return ErrorAction.DISCONNECT
        return ErrorAction.NACK

    def _default_action(self) -> ErrorAction:
        return _FORWARD if self.error_destination is not None else self._fallback()

    async def _decide(self, event: MessageReceived, error: BaseException) -> ErrorAction:
        hook = self._on_error
        if hook is None:
            return self._default_action()
        try:
            decided: Any = hook(event, error)
            if isawaitable(decided):
                decided = await _as_deferred(decided)
        except Exception:
            logger.exception(
                "the on_error hook of subscription %r raised; taking the default action", self.id
            )
            return self._default_action()
        if not isinstance(decided, ErrorAction):
            logger.error(
                "the on_error hook of subscription %r returned %r, not an ErrorAction; "
                "taking the default action",
                self.id,
                decided,
            )
            return self._default_action()
        return decided

    async def _recover(self, delivery: Delivery, error: BaseException) -> None:
        event = delivery.event
        action = await self._decide(event, error)
        if action is _FORWARD:
            if self.error_destination is None:
                logger.error(
                    "subscription %r has no error destination to forward message %r to",
                    self.id,
                    event.message.message_id,
                )
                action = self._fallback()
            else:
                try:
                    await self._host.forward(event, self.error_destination, _describe(error))
                except Exception as exc:  # noqa: BLE001 - the fallback below handles it
                    logger.error(
                        "could not forward message %r to %r: %s",
                        event.message.message_id,
                        self.error_destination,
                        exc,
                    )
                    action = self._fallback()
                else:
                    action = ErrorAction.ACK
        if action is ErrorAction.NACK and self._host.version() is Version.V1_0:
            action = ErrorAction.DISCONNECT
        if action is ErrorAction.ACK:
            self._settle(delivery, "none" if self.ack == "auto" else "ack")
        elif action is ErrorAction.NACK:
            self._settle(delivery, "none" if self.ack == "auto" else "nack")
        else:
            self._settle(delivery, "hold")
            self._host.poison(delivery, error)
        self._host.finished(delivery)

    # -- settling ------------------------------------------------------------------------------

    def _settle(self, delivery: Delivery, outcome: _Outcome) -> None:
        host = self._host
        if self.ack == "client":
            # Cumulative acks: settle in delivery order, so that acknowledging a message
            # never acknowledges an earlier one that is still running or has failed.
            delivery.outcome = outcome
            order = self._order
            while order and order[0].outcome is not None and order[0].outcome != "hold":
                head = order.popleft()
                host.settle(head.event, head.outcome or "none")
                self._in_flight -= 1
        else:
            delivery.outcome = outcome
            host.settle(delivery.event, outcome)
            self._in_flight -= 1
        if self._queue and self._in_flight < self.max_in_flight:
            self._pump()

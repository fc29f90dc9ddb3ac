"""The client's side of its subscriptions: running handlers and doing what the core decides."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from inspect import isawaitable, iscoroutine
from typing import Any, TypeVar, cast

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from stomp_commands import AckMode
from stomp_core import (
    ClientError,
    Delivery,
    Dispatcher,
    ErrorAction,
    HandlerPoisoned,
    HandlerState,
    PauseReading,
    ResumeReading,
    RunHandler,
    SettleMessage,
    UnfinishedHandler,
    forward_copy,
)
from stomp_frame import Version
from stomp_session import MessageReceived
from stomp_twisted._driver import Driver
from stomp_twisted._model import ErrorHook, Handler
from stomp_twisted._subscription import Subscription
from stomp_twisted._twisted import within

__all__ = ["Handlers"]

logger = logging.getLogger("stomp_twisted")

_T = TypeVar("_T")


async def _await(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _as_deferred(result: Awaitable[object]) -> Deferred[object]:
    if isinstance(result, Deferred):
        return result
    if iscoroutine(result):
        return Deferred.fromCoroutine(result)
    return Deferred.fromCoroutine(_await(result))


class Handlers:
    """The client's side of its subscriptions: runs the handlers.

    It does what the core's :class:`~stomp_core.Dispatcher` decides: settle, forward,
    pause, end.
    """

    def __init__(self, driver: Driver, end: Callable[[ClientError], object]) -> None:
        self._driver = driver
        self._end = end
        self.dispatcher = Dispatcher(logger)
        self._subs: dict[HandlerState, Subscription] = {}
        self._idle: list[Deferred[None]] = []
        self._running = False

    @property
    def paused(self) -> bool:
        """Whether reading is paused because a subscription's queue is full."""
        return self.dispatcher.paused

    def now(self) -> float:
        """The reactor's time."""
        return self._driver.now()

    def version(self) -> Version | None:
        """The negotiated version of the current connection."""
        return self._driver.core.version

    # -- subscriptions ----------------------------------------------------------------------------

    def add(
        self,
        *,
        id: str,
        destination: str,
        ack: AckMode,
        handler: Handler,
        max_in_flight: int,
        error_destination: str | None,
        on_error: ErrorHook | None,
        headers: tuple[tuple[str, str], ...],
    ) -> Subscription:
        """A new subscription with its handler."""
        state = self.dispatcher.add(
            id=id,
            destination=destination,
            ack=ack,
            max_in_flight=max_in_flight,
            error_destination=error_destination,
        )
        sub = Subscription(state, handler=handler, on_error=on_error, headers=headers)
        self._subs[state] = sub
        return sub

    def remove(self, sub: Subscription) -> None:
        """*sub* ends: its queued messages are dropped (running handlers go on)."""
        if self.dispatcher.get(sub.id) is sub._state:
            self.dispatcher.remove(sub.id)
        else:
            self.dispatcher.stop(sub._state)
        self.run()

    def stop_all(self) -> int:
        """Take no more messages; return how many queued ones were dropped."""
        dropped = self.dispatcher.stop_all()
        self.run()
        return dropped

    def deliver(self, message: MessageReceived) -> bool:
        """Hand *message* to its handler (or queue it); ``False``: no active handler."""
        taken = self.dispatcher.deliver(message, self._driver.now())
        if taken:
            self.run()
        return taken

    def purge(self, stale: Callable[[MessageReceived], bool]) -> int:
        """Drop the queued messages of a lost connection; return how many."""
        dropped = self.dispatcher.purge(stale, self._driver.now())
        self.run()
        return dropped

    def manual(self, message: MessageReceived) -> None:
        """The caller settles *message* itself (its handler's success does not)."""
        self.dispatcher.manual(message)

    # -- doing what the core decides --------------------------------------------------------------

    def run(self) -> None:
        """Do the dispatcher's effects, in order (those that doing one adds too)."""
        if self._running:
            return
        self._running = True
        try:
            dispatcher = self.dispatcher
            while (effect := dispatcher.next_effect()) is not None:
                if type(effect) is RunHandler:
                    self._start(effect.delivery)
                elif type(effect) is SettleMessage:
                    self._settle(effect.message, effect.command)
                elif type(effect) is PauseReading:
                    self._driver.pause_reading()
                elif type(effect) is ResumeReading:
                    self._driver.resume_reading()
                else:
                    assert type(effect) is HandlerPoisoned
                    logger.error(
                        "%s: disconnecting so that the broker delivers it again", effect.failure
                    )
                    self._end(effect.failure)
        finally:
            self._running = False
        self.quiet()

    def apply_pause(self) -> None:
        """Pause the current transport (also a new one while queues are full)."""
        self._driver.pause_reading()

    def resume_all(self) -> None:
        """Read again, whatever the queues."""
        self.dispatcher.resume_all()
        self.run()

    def _settle(self, message: MessageReceived, command: str) -> None:
        """Write the ACK or NACK (coalesced within one pump); a refused one is only logged."""
        driver = self._driver
        if driver.core.settle_handled(message, command, driver.now()):
            driver.pump()

    def _start(self, delivery: Delivery) -> None:
        sub = self._subs[delivery.state]
        try:
            result = sub._handler(delivery.message)
        except Exception as exc:  # noqa: BLE001 - a handler's failure is handled, not propagated
            self._failed(delivery, exc)
            return
        if result is None:
            self.dispatcher.succeeded(delivery, self._driver.now())
            return
        deferred = _as_deferred(result)
        delivery.handle = deferred
        deferred.addCallbacks(
            self._on_result, self._on_failure, callbackArgs=(delivery,), errbackArgs=(delivery,)
        )

    def _on_result(self, _: object, delivery: Delivery) -> None:
        self.dispatcher.succeeded(delivery, self._driver.now())
        self.run()

    def _on_failure(self, failure: Failure, delivery: Delivery) -> None:
        self._failed(delivery, cast(BaseException, failure.value))
        self.run()

    def _failed(self, delivery: Delivery, error: BaseException) -> None:
        if self.dispatcher.failed(delivery, error, self._driver.now()):
            recovery = Deferred.fromCoroutine(self._recover(delivery, error))
            recovery.addErrback(self._recovery_failed, delivery)

    def _recovery_failed(self, failure: Failure, delivery: Delivery) -> None:
        self.dispatcher.recovery_failed(delivery, cast(BaseException, failure.value), self.now())
        self.run()

    async def _decide(self, delivery: Delivery, error: BaseException) -> ErrorAction:
        state = delivery.state
        hook = self._subs[state]._on_error
        if hook is None:
            return state.default_action(self.version())
        try:
            decided: Any = hook(delivery.message, error)
            if isawaitable(decided):
                decided = await _as_deferred(decided)
        except Exception:  # noqa: BLE001 - logged by the dispatcher
            return self.dispatcher.hook_failed(state, self.version())
        return self.dispatcher.chosen(state, decided, self.version())

    async def _recover(self, delivery: Delivery, error: BaseException) -> None:
        dispatcher = self.dispatcher
        action = dispatcher.resolve(delivery, await self._decide(delivery, error), self.version())
        destination = delivery.state.error_destination
        if action is ErrorAction.FORWARD and destination is not None:
            try:
                await self.forward(delivery.message, destination, error)
            except Exception as exc:  # noqa: BLE001 - the fallback handles it
                action = dispatcher.forward_failed(delivery, exc, self.version())
        dispatcher.conclude(delivery, action, error, self.version(), self.now())
        self.run()

    def forward(
        self, message: MessageReceived, destination: str, error: BaseException
    ) -> Deferred[None]:
        """Send a persistent copy of *message* to *destination* and await its receipt."""
        headers, content_length = forward_copy(message, error)
        body = message.frame.body
        return self._driver.request(
            lambda now, left: self._driver.core.send(
                destination,
                body,
                headers=headers,
                content_length=content_length,
                receipt=True,
                timeout=left,
                now=now,
            ),
            None,
        )

    # -- a graceful end ---------------------------------------------------------------------------

    def quiet(self) -> None:
        """Wake a draining shutdown once no handler runs and no receipt is awaited."""
        if self._idle and not self.dispatcher.busy and not self._driver.receipts:
            idle, self._idle = self._idle, []
            for waiter in idle:
                if not waiter.called:
                    waiter.callback(None)

    async def drain(
        self, timeout: float, receipts_awaited: Callable[[], bool]
    ) -> tuple[UnfinishedHandler, ...]:
        """Wait for the handlers in flight (and the receipts awaited); report those left."""
        driver = self._driver
        if self.dispatcher.busy or receipts_awaited():
            # A broker may answer DISCONNECT before an earlier SEND's receipt (RabbitMQ
            # does), which would then be lost: wait for the receipts too.
            idle: Deferred[None] = Deferred()
            self._idle.append(idle)
            try:
                await within(driver.reactor, idle, timeout, "end of the handlers in flight")
            except ClientError:
                if receipts_awaited():
                    logger.warning(
                        "%d receipt(s) still awaited after %.3f s: disconnecting anyway",
                        len(driver.receipts),
                        timeout,
                    )
        if not self.dispatcher.busy:
            return ()
        unfinished = self.dispatcher.abandon(self.now())
        for delivery, _ in unfinished:
            handle = delivery.handle
            if isinstance(handle, Deferred) and not handle.called:
                handle.cancel()
        self.run()
        return tuple(item for _, item in unfinished)

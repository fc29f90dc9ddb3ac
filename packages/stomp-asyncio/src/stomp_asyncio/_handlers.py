"""Handlers per subscription on the loop: tasks run them, the core's Dispatcher decides."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeAlias

from stomp_asyncio._link import Link
from stomp_commands import AckMode
from stomp_core import (
    ClientCore,
    ClientEnded,
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
from stomp_session import MessageReceived

logger = logging.getLogger("stomp_asyncio")

MessageHandler: TypeAlias = Callable[[MessageReceived], "Awaitable[object] | None"]
"""A subscription's handler: a plain function or an ``async def`` one, taking the message.

It succeeds when it returns (or its awaitable completes), and fails when it raises.
"""

FailureHook: TypeAlias = Callable[
    [MessageReceived, BaseException], "ErrorAction | Awaitable[ErrorAction]"
]
"""A subscription's ``on_error``: given the message and what its handler raised, return
(or resolve to) the :class:`~stomp_core.ErrorAction` to take."""


class Forward(Protocol):
    """Send a failed message's copy to an error destination and await its receipt."""

    def __call__(
        self,
        destination: str,
        body: bytes,
        headers: list[tuple[str, str]],
        *,
        content_length: bool,
    ) -> Awaitable[None]:
        """Send it; the awaitable fails when the broker did not confirm it."""
        ...


@dataclass(frozen=True, slots=True)
class _Entry:
    handler: MessageHandler
    on_error: FailureHook | None


class Handlers:
    """The asyncio client's side of its handler subscriptions (the link's owner).

    It runs each handler (a plain call, or a task for an awaitable), and does what the
    core's :class:`~stomp_core.Dispatcher` decides: settle, forward a copy, pause or
    resume reading, end the client (the poison pill).
    """

    def __init__(
        self,
        core: ClientCore,
        *,
        forward: Forward,
        end: Callable[[ClientError], object],
        ended: Callable[[ClientEnded], object],
    ) -> None:
        self._core = core
        self._forward = forward
        self._end = end
        self._ended = ended
        self.link: Link | None = None
        self.dispatcher = Dispatcher(logger)
        self._entries: dict[HandlerState, _Entry] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._running = False
        self.routing = False
        """Whether messages are taken from the core as they arrive: handler subscriptions
        exist, or a caller receives by subscription."""
        self._by_subscription = False

    def _link(self) -> Link:
        link = self.link
        assert link is not None
        return link

    # -- subscriptions ----------------------------------------------------------------------------

    def add(
        self,
        *,
        id: str,
        destination: str,
        ack: AckMode,
        handler: MessageHandler,
        max_in_flight: int,
        error_destination: str | None,
        on_error: FailureHook | None,
    ) -> HandlerState:
        """A new handler subscription; messages already waiting are routed from now on."""
        state = self.dispatcher.add(
            id=id,
            destination=destination,
            ack=ack,
            max_in_flight=max_in_flight,
            error_destination=error_destination,
        )
        self._entries[state] = _Entry(handler, on_error)
        self.routing = True
        self.take_messages()
        return state

    def remove(self, subscription_id: str) -> None:
        """A subscription ended: its queued messages are dropped (running handlers go on)."""
        dropped = self.dispatcher.remove(subscription_id)
        if dropped:
            logger.info(
                "%d queued message(s) of %r dropped unacknowledged", dropped, subscription_id
            )
        self.routing = self._by_subscription or bool(self.dispatcher.states)
        self.run()

    def stop_all(self) -> int:
        """Take no more messages; return how many queued ones were dropped."""
        dropped = self.dispatcher.stop_all()
        self.run()
        return dropped

    def route_all(self) -> None:
        """A caller receives by subscription: take every message as it arrives, from now on."""
        if not self._by_subscription:
            self._by_subscription = self.routing = True
            self.take_messages()

    def manual(self, message: MessageReceived) -> None:
        """The caller settles *message* itself (its handler's success does not)."""
        if self.dispatcher.busy:
            self.dispatcher.manual(message)

    # -- what the link tells ----------------------------------------------------------------------

    def take_messages(self) -> None:
        """Hand the messages of handler subscriptions to their handlers; keep the others."""
        core, link = self._core, self._link()
        dispatcher = self.dispatcher
        inbox = link.inbox
        now = link.now()
        while (message := core.next_message()) is not None:
            if dispatcher.deliver(message, now):
                self.run()
                continue
            record = message.subscription
            if record is not None and dispatcher.get(record.id) is not None:
                logger.debug("message %r has no active handler: dropped", message.message_id)
                continue
            inbox.append(message)

    def connection_dropped(self) -> None:
        """Drop the queued messages that can no longer be acknowledged (counted by the core)."""
        link = self._link()
        stale = self._core.drop_stale
        dropped = self.dispatcher.purge(stale, link.now())
        inbox = link.inbox
        if inbox:
            kept = [message for message in inbox if not stale(message)]
            dropped += len(inbox) - len(kept)
            inbox.clear()
            inbox.extend(kept)
        if dropped:
            logger.info("%d queued message(s) of the lost connection dropped", dropped)
        self.run()

    def client_ended(self, event: ClientEnded) -> None:
        """The client ended: the client decides what its shutdown does."""
        self._ended(event)

    # -- doing what the core decides --------------------------------------------------------------

    def run(self) -> None:
        """Do the dispatcher's effects, in order (those that doing one adds too)."""
        if self._running:
            return
        self._running = True
        link = self._link()
        try:
            dispatcher = self.dispatcher
            while (effect := dispatcher.next_effect()) is not None:
                if type(effect) is RunHandler:
                    self._start(effect.delivery)
                elif type(effect) is SettleMessage:
                    self._settle(effect.message, effect.command)
                elif type(effect) is PauseReading:
                    link.pause_for_handlers(paused=True)
                elif type(effect) is ResumeReading:
                    link.pause_for_handlers(paused=False)
                else:
                    assert type(effect) is HandlerPoisoned
                    logger.error(
                        "%s: disconnecting so that the broker delivers it again", effect.failure
                    )
                    self._end(effect.failure)
        finally:
            self._running = False
        link.notify()

    def _settle(self, message: MessageReceived, command: str) -> None:
        link = self._link()
        if self._core.settle_handled(message, command, link.now()):
            link.schedule()

    def _start(self, delivery: Delivery) -> None:
        entry = self._entries[delivery.state]
        try:
            result = entry.handler(delivery.message)
        except Exception as exc:  # noqa: BLE001 - a handler's failure is handled, not propagated
            self._failed(delivery, exc)
            return
        if result is None or not inspect.isawaitable(result):
            self.dispatcher.succeeded(delivery, self._link().now())
            return
        task = asyncio.ensure_future(result)
        delivery.handle = task
        self._tasks.add(task)
        task.add_done_callback(partial(self._done, delivery))

    def _done(self, delivery: Delivery, task: asyncio.Future[object]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._failed(delivery, asyncio.CancelledError())
        elif (error := task.exception()) is not None:
            self._failed(delivery, error)
        else:
            self.dispatcher.succeeded(delivery, self._link().now())
        self.run()

    def _failed(self, delivery: Delivery, error: BaseException) -> None:
        if self.dispatcher.failed(delivery, error, self._link().now()):
            recovery = asyncio.ensure_future(self._recover(delivery, error))
            self._tasks.add(recovery)
            recovery.add_done_callback(partial(self._recovered, delivery))

    def _recovered(self, delivery: Delivery, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        error: BaseException | None = (
            asyncio.CancelledError() if task.cancelled() else task.exception()
        )
        if error is not None:
            self.dispatcher.recovery_failed(delivery, error, self._link().now())
            self.run()

    async def _decide(self, delivery: Delivery, error: BaseException) -> ErrorAction:
        state = delivery.state
        version = self._core.version
        hook = self._entries[state].on_error
        if hook is None:
            return state.default_action(version)
        try:
            decided: object = hook(delivery.message, error)
            if inspect.isawaitable(decided):
                decided = await decided
        except Exception:  # noqa: BLE001 - logged by the dispatcher
            return self.dispatcher.hook_failed(state, version)
        return self.dispatcher.chosen(state, decided, version)

    async def _recover(self, delivery: Delivery, error: BaseException) -> None:
        dispatcher, core = self.dispatcher, self._core
        action = dispatcher.resolve(delivery, await self._decide(delivery, error), core.version)
        destination = delivery.state.error_destination
        if action is ErrorAction.FORWARD and destination is not None:
            headers, content_length = forward_copy(delivery.message, error)
            try:
                await self._forward(
                    destination, delivery.message.body, headers, content_length=content_length
                )
            except Exception as exc:  # noqa: BLE001 - the fallback handles it
                action = dispatcher.forward_failed(delivery, exc, core.version)
        dispatcher.conclude(delivery, action, error, core.version, self._link().now())
        self.run()

    # -- a graceful end ---------------------------------------------------------------------------

    async def drain(self, timeout: float) -> tuple[UnfinishedHandler, ...]:
        """Wait up to *timeout* for the handlers in flight and the receipts awaited.

        Report the handlers still running then, and cancel them (their messages stay
        unacknowledged).
        """
        link, dispatcher = self._link(), self.dispatcher
        if dispatcher.busy or link.receipts_awaited:
            # A broker may answer DISCONNECT before an earlier SEND's receipt (RabbitMQ
            # does), which would then be lost: wait for the receipts too.
            done = await link.wait(
                lambda: not dispatcher.busy and not link.receipts_awaited, link.now() + timeout
            )
            if not done and link.receipts_awaited:
                logger.warning(
                    "%d receipt(s) still awaited after %.3f s: disconnecting anyway",
                    link.receipts_awaited,
                    timeout,
                )
        if not dispatcher.busy:
            return ()
        unfinished = dispatcher.abandon(link.now())
        for delivery, _ in unfinished:
            handle = delivery.handle
            if isinstance(handle, asyncio.Future) and not handle.done():
                handle.cancel()
        self.run()
        return tuple(item for _, item in unfinished)

"""The client's side of its subscriptions: settling, forwarding, pausing, draining."""

from __future__ import annotations

import logging
from collections.abc import Callable

from twisted.internet.defer import Deferred

from stomp_core import ClientError, HandlerFailed, UnfinishedHandler
from stomp_frame import Version
from stomp_session import MessageReceived
from stomp_twisted._driver import Driver
from stomp_twisted._model import ERROR_HEADER, FORWARD_EXCLUDED_HEADERS
from stomp_twisted._subscription import Delivery, Subscription
from stomp_twisted._twisted import within

__all__ = ["Handlers"]

logger = logging.getLogger("stomp_twisted")


class Handlers:
    """The client's side of its subscriptions: settling, forwarding, pausing, draining.

    It is the :class:`~stomp_twisted._subscription.Host` of every subscription.
    """

    def __init__(self, driver: Driver, end: Callable[[ClientError], object]) -> None:
        self._driver = driver
        self._end = end
        self._busy: dict[int, Delivery] = {}
        self._idle: list[Deferred[None]] = []
        self._pausers: set[Subscription] = set()
        self.paused = False

    def now(self) -> float:
        """The reactor's time."""
        return self._driver.now()

    def version(self) -> Version | None:
        """The negotiated version of the current connection."""
        return self._driver.core.version

    def manual(self, message: MessageReceived) -> None:
        """The caller settles *message* itself (its handler's success does not)."""
        delivery = self._busy.get(id(message))
        if delivery is not None and delivery.event is message:
            delivery.manual = True

    def settle(self, message: MessageReceived, outcome: str) -> None:
        """Write the ACK or NACK (coalesced within one pump); a refused one is only logged."""
        if outcome not in ("ack", "nack"):
            return
        driver = self._driver
        settle = driver.core.ack if outcome == "ack" else driver.core.nack
        try:
            settle(message, defer=True, now=driver.now())
        except ClientError as exc:
            logger.debug("%s of %r not sent: %s", outcome, message.message_id, exc)
            return
        driver.pump()

    def forward(
        self, message: MessageReceived, destination: str, description: str
    ) -> Deferred[None]:
        """Send a persistent copy of *message* to *destination* and await its receipt."""
        frame = message.frame
        seen: set[str] = set()
        headers: list[tuple[str, str]] = []
        for name, value in frame.headers:
            if name not in FORWARD_EXCLUDED_HEADERS and name not in seen:
                seen.add(name)
                headers.append((name, value))
        headers += [("persistent", "true"), (ERROR_HEADER, description)]
        body = frame.body
        return self._driver.request(
            lambda now, left: self._driver.core.send(
                destination,
                body,
                headers=headers,
                content_length=frame.has("content-length") or b"\0" in body,
                receipt=True,
                timeout=left,
                now=now,
            ),
            None,
        )

    def poison(self, delivery: Delivery, error: BaseException) -> None:
        failed = HandlerFailed(delivery.event, subscription=delivery.subscription.id, cause=error)
        logger.error("%s: disconnecting so that the broker delivers it again", failed)
        self._end(failed)

    def started(self, delivery: Delivery) -> None:
        """A handler runs on *delivery*."""
        self._busy[id(delivery.event)] = delivery

    def finished(self, delivery: Delivery) -> None:
        """The handling of *delivery* is over."""
        if not delivery.busy:
            return
        delivery.busy = False
        self._busy.pop(id(delivery.event), None)
        self.quiet()

    def quiet(self) -> None:
        """Wake a draining shutdown once no handler runs and no receipt is awaited."""
        if self._idle and not self._busy and not self._driver.receipts:
            idle, self._idle = self._idle, []
            for waiter in idle:
                if not waiter.called:
                    waiter.callback(None)

    def pause_reading(self, subscription: Subscription) -> None:
        """*subscription*'s queue is full: stop reading until it drains."""
        self._pausers.add(subscription)
        if not self.paused:
            self.paused = True
            self.apply_pause()

    def apply_pause(self) -> None:
        """Pause the current transport (also a new one while queues are full)."""
        self._driver.pause_reading()

    def resume_reading(self, subscription: Subscription) -> None:
        """*subscription* drained: read again unless another one is full."""
        self._pausers.discard(subscription)
        if not self._pausers and self.paused:
            self.resume_all()

    def resume_all(self) -> None:
        """Read again, whatever the queues."""
        self._pausers.clear()
        if self.paused:
            self.paused = False
            self._driver.resume_reading()

    async def drain(
        self, timeout: float, receipts_awaited: Callable[[], bool]
    ) -> tuple[UnfinishedHandler, ...]:
        """Wait for the handlers in flight (and the receipts awaited); report those left."""
        driver = self._driver
        if self._busy or receipts_awaited():
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
        if not self._busy:
            return ()
        now = self.now()
        unfinished: list[UnfinishedHandler] = []
        for delivery in list(self._busy.values()):
            event = delivery.event
            item = UnfinishedHandler(
                subscription=delivery.subscription.id,
                destination=event.destination,
                message_id=event.message.message_id,
                running_for=now - delivery.started,
            )
            unfinished.append(item)
            logger.warning(
                "the handler of subscription %r still works on message %r after %.3f s: "
                "cancelled, the message is left unacknowledged",
                item.subscription,
                item.message_id,
                item.running_for,
            )
            delivery.abandoned = True
            if delivery.deferred is not None and not delivery.deferred.called:
                delivery.deferred.cancel()
            self.finished(delivery)
        return tuple(unfinished)

"""The reactor's side of the client core: transports, the timer, and waiting for outcomes."""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar, cast

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import ClientFactory, connectionDone
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from stomp_core import (
    ClientCore,
    ClientEnded,
    ClientError,
    CloseTransport,
    ConnectionDropped,
    ConnectionMade,
    CoreEvent,
    NotConnected,
    OpenTransport,
    RequestDone,
    TlsOptions,
    WaitTimeout,
    check_timeout,
)
from stomp_twisted._model import ReactorLike
from stomp_twisted._tls import connection_creator
from stomp_twisted._twisted import Connector, DelayedCall, Transport, call_later

__all__ = ["Driver", "Outcome", "Owner"]

logger = logging.getLogger("stomp_twisted")

_T = TypeVar("_T")


class Outcome(Generic[_T]):
    """A result fired once and observed by any number of new Deferreds (none unhandled)."""

    def __init__(self) -> None:
        self._waiters: list[Deferred[_T]] = []
        self._result: _T | Failure | None = None
        self.done = False

    def observe(self) -> Deferred[_T]:
        """A new Deferred of the result."""
        observer: Deferred[_T] = Deferred()
        if self.done:
            observer.callback(cast("_T | Failure", self._result))
        else:
            self._waiters.append(observer)
        return observer

    def fire(self, result: _T | Failure) -> None:
        """Settle it, once."""
        self.done = True
        self._result = result
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(result)


class Owner(Protocol):
    """What the driver tells the client it drives."""

    def deliver_messages(self) -> None:
        """Take the received messages from the core for the handlers."""
        ...

    def connection_made(self, event: ConnectionMade) -> None:
        """A connection is up."""
        ...

    def connection_dropped(self) -> None:
        """The connection was lost (queued messages may be stale now)."""
        ...

    def client_ended(self, event: ClientEnded) -> None:
        """The core is CLOSED."""
        ...

    def receipt_settled(self) -> None:
        """A receipt was settled (a shutdown may wait for the last one)."""
        ...

    def shutting_down(self) -> bool:
        """Whether a graceful end has begun."""
        ...


class _Link(TwistedProtocol):
    """One transport for one attempt; a streaming producer the transport can pause."""

    def __init__(self, driver: Driver, attempt: OpenTransport) -> None:
        self.driver = driver
        self.attempt = attempt
        self.link: Transport | None = None
        self.connector: Connector | None = None
        self.current = True
        self.write_paused = False

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's name
        transport = cast(Transport, self.transport)
        if not self.current:
            transport.abortConnection()
            return
        self.link = transport
        cast(object, transport).registerProducer(self, True)  # type: ignore[attr-defined]
        self.driver.feed(lambda core, now: core.transport_opened(now))

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self.current:
            self.driver.feed(lambda core, now: core.receive_data(data, now))

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        if self.current:
            self.current = False
            error: BaseException | None = cast(BaseException, reason.value)
            if isinstance(error, ConnectionDone):
                error = None  # a clean close says nothing more
            self.driver.feed(lambda core, now: core.transport_closed(now, error))

    def failed(self, reason: Failure) -> None:
        if self.current and self.link is None:
            self.current = False
            error = cast(BaseException, reason.value)
            self.driver.feed(lambda core, now: core.transport_failed(error, now))

    # The transport pauses us when its write buffer is full: the bytes then wait in the
    # core, whose outbound limit makes requests wait and whose write_timeout ends a stall.
    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's name
        self.write_paused = True

    def resumeProducing(self) -> None:  # noqa: N802 - Twisted's name
        self.write_paused = False
        if self.current:
            self.driver.pump()

    def stopProducing(self) -> None:  # noqa: N802 - Twisted's name
        self.write_paused = True


class _Factory(ClientFactory):
    def __init__(self, link: _Link) -> None:
        self._link = link

    def buildProtocol(self, addr: IAddress | None) -> _Link:  # noqa: N802, ARG002
        self._link.factory = self
        return self._link

    def clientConnectionFailed(self, connector: object, reason: Failure) -> None:  # noqa: N802, ARG002
        self._link.failed(reason)


class _Waiter:
    """A request waiting for the connection (or room in the outbound buffer)."""

    __slots__ = ("act", "awaited", "deadline", "done", "driver", "receipt", "wait")

    def __init__(
        self,
        driver: Driver,
        act: Callable[[float, float], str | None],
        deadline: float,
        wait: float,
        awaited: str,
    ) -> None:
        self.driver = driver
        self.act = act
        self.deadline = deadline
        self.wait = wait
        self.awaited = awaited
        self.receipt: Deferred[None] | None = None
        self.done: Deferred[None] = Deferred(self._cancel)

    def _cancel(self, _: Deferred[None]) -> None:
        """The caller cancelled: a receipt awaited is no longer (the core forgets it)."""
        receipt, self.receipt = self.receipt, None
        if receipt is not None:
            if not receipt.called:
                receipt.cancel()
            return
        self.driver.forget_waiter(self)


class Driver:
    """Drives a :class:`~stomp_core.ClientCore` on a reactor: one transport, one timer."""

    def __init__(
        self,
        core: ClientCore,
        reactor: ReactorLike,
        owner: Owner,
        tls: TlsOptions | None,
    ) -> None:
        self.core = core
        self.reactor = reactor
        self._owner = owner
        self._tls = tls
        self._link: _Link | None = None
        self._timer: DelayedCall | None = None
        self._timer_at = math.inf
        self._pumping = False
        self._again = False
        self.receipts: dict[str, Deferred[None]] = {}
        self._waiters: deque[_Waiter] = deque()
        self._waiters_timer: DelayedCall | None = None

    def now(self) -> float:
        """The reactor's time."""
        return self.reactor.seconds()

    def feed(self, act: Callable[[ClientCore, float], None]) -> None:
        """Give the core an input at the reactor's time, then do what follows."""
        act(self.core, self.reactor.seconds())
        self.pump()

    def pump(self) -> None:
        """Do what the core says, hand messages on, write, set the timer (re-entrant)."""
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        core = self.core
        try:
            self._again = True
            while self._again:
                self._again = False
                while (event := core.next_event()) is not None:
                    self._on_event(event)
                self._owner.deliver_messages()
                now = self.reactor.seconds()
                core.flush(now)
                link = self._link
                if link is not None and link.link is not None and not link.write_paused:
                    data = core.data_to_send(now)
                    if data:
                        link.link.write(data)
                self.wake_waiters()
        finally:
            self._pumping = False
        self._schedule()

    @property
    def writable(self) -> bool:
        """Whether a request can be written at once (connected, room in the buffer)."""
        core = self.core
        return core.ready and core.has_room

    def written(self) -> None:
        """What :meth:`pump` does after a request that only wrote (the hot path, lighter).

        Such a request hands no message on and makes no room, so only an event (rare),
        the bytes and an earlier deadline need doing; anything else takes :meth:`pump`.
        """
        if self._pumping or self._waiters:
            self.pump()
            return
        core = self.core
        event = core.next_event()
        if event is not None:
            self._on_event(event)
            self.pump()
            return
        link = self._link
        if link is not None and link.link is not None and not link.write_paused:
            data = core.data_to_send(self.reactor.seconds())
            if data:
                link.link.write(data)
        deadline = core.next_deadline()
        if deadline is not None and deadline < self._timer_at:
            self._schedule()

    def _on_event(self, event: CoreEvent) -> None:
        if type(event) is RequestDone:
            waiter = self.receipts.pop(event.receipt_id, None)
            if waiter is not None and not waiter.called:
                if event.error is None:
                    waiter.callback(None)
                else:
                    waiter.errback(event.error)
            self._owner.receipt_settled()
        elif type(event) is OpenTransport:
            self._open(event)
        elif type(event) is CloseTransport:
            self.close_link(abort=event.abort)
        elif type(event) is ConnectionMade:
            self._owner.connection_made(event)
        elif type(event) is ConnectionDropped:
            self._owner.connection_dropped()
        elif type(event) is ClientEnded:
            self.close_link(abort=True)
            self._owner.client_ended(event)

    def _open(self, event: OpenTransport) -> None:
        link = _Link(self, event)
        self._link = link
        broker = event.broker
        factory: object = _Factory(link)
        if broker.tls:  # ssl:// and wss://
            options = self._tls or TlsOptions()
            creator = connection_creator(options, broker.server_name(options.server_hostname))
            # The clock matters: TLS aggregates small writes with callLater on it.
            factory = TLSMemoryBIOFactory(creator, True, factory, clock=self.reactor)  # type: ignore[arg-type]
        link.connector = cast(
            Connector,
            self.reactor.connectTCP(broker.host, broker.port, factory, timeout=event.timeout + 1),
        )

    def close_link(self, *, abort: bool) -> None:
        """Close the transport (or stop opening it); its late events are ignored."""
        link, self._link = self._link, None
        if link is None:
            return
        link.current = False
        if link.link is not None:
            if abort:
                link.link.abortConnection()
            else:
                data = self.core.data_to_send(self.reactor.seconds())
                if data:  # what is left (a WebSocket close) goes before the end
                    link.link.write(data)
                link.link.loseConnection()
        elif link.connector is not None:
            link.connector.disconnect()

    def pause_reading(self) -> bool:
        """Stop reading the transport (the core keeps the heart-beats going)."""
        link = self._link
        if link is None or link.link is None or not link.current:
            return False
        link.link.pauseProducing()
        self.core.pause_reading()
        logger.info("reading from %s paused: handlers are behind", link.attempt.broker)
        return True

    def resume_reading(self) -> None:
        """Read the transport again."""
        link = self._link
        if link is not None and link.link is not None:
            link.link.resumeProducing()
            self.core.resume_reading(self.reactor.seconds())
            logger.info("reading from %s resumed", link.attempt.broker)
        self._schedule()

    def _schedule(self) -> None:
        deadline = self.core.next_deadline()
        at = math.inf if deadline is None else deadline
        timer = self._timer
        if at == self._timer_at and timer is not None and timer.active():
            return
        if timer is not None and timer.active():
            timer.cancel()
        self._timer = None
        self._timer_at = at
        if deadline is not None:
            delay = max(0.0, deadline - self.reactor.seconds())
            self._timer = call_later(self.reactor, delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        self.feed(lambda core, now: core.handle_timer(now))

    def _refusal(self) -> ClientError | None:
        try:
            self.core.check_usable()
            if self._owner.shutting_down() and not self.core.ready:
                raise NotConnected("not connected: the client is disconnecting")
        except ClientError as error:
            return error
        return None

    def wake_waiters(self) -> None:
        """Let the requests waiting for a connection (or room) go on, or fail them."""
        core = self.core
        if not self._waiters:
            return
        error = None if core.ready and core.has_room else self._refusal()
        if error is None and not (core.ready and core.has_room):
            return
        waiters, self._waiters = self._waiters, deque()
        self._stop_waiters_timer()
        for waiter in waiters:
            if waiter.done.called:
                continue  # cancelled, or timed out
            if error is not None:
                waiter.done.errback(error)
                continue
            self._act(waiter)

    def _act(self, waiter: _Waiter) -> None:
        done = waiter.done
        now = self.reactor.seconds()
        try:
            receipt_id = waiter.act(now, max(waiter.deadline - now, 1e-3))
        except Exception as exc:  # noqa: BLE001 - the request's own failure, as a coroutine's
            done.errback(exc)
            return
        self.pump()
        if done.called:
            return
        if receipt_id is None:
            done.callback(None)
            return
        waiter.receipt = receipt = self._await_receipt(receipt_id)
        receipt.chainDeferred(done)

    def forget_waiter(self, waiter: _Waiter) -> None:
        """A waiting request was cancelled: it waits no more."""
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        if not self._waiters:
            self._stop_waiters_timer()

    def _stop_waiters_timer(self) -> None:
        timer, self._waiters_timer = self._waiters_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _expire_waiters(self) -> None:
        """Fail the requests whose wait for a connection (or room) ran out."""
        self._waiters_timer = None
        now = self.reactor.seconds()
        kept: deque[_Waiter] = deque()
        for waiter in self._waiters:
            if waiter.done.called:
                continue
            if waiter.deadline <= now:
                waiter.done.errback(WaitTimeout(waiter.awaited, waiter.wait))
            else:
                kept.append(waiter)
        self._waiters = kept
        if kept:
            first = min(waiter.deadline for waiter in kept)
            self._waiters_timer = call_later(
                self.reactor, max(0.0, first - now), self._expire_waiters
            )

    def request(
        self, act: Callable[[float, float], str | None], timeout: float | None
    ) -> Deferred[None]:
        """Act at once when ready (the hot path), else wait for it; then await the receipt.

        *act* is given the time and the seconds left, and returns the receipt id it
        asked for (or ``None``); one deadline covers the wait and the receipt.
        """
        core = self.core
        try:
            wait = check_timeout("timeout", timeout, optional=True) or core.settings.receipt_timeout
            if core.ready and core.has_room:
                receipt_id = act(self.reactor.seconds(), wait)
                if receipt_id is None:
                    self.written()
                    return succeed(None)
                self.pump()
                return self._await_receipt(receipt_id)
        except ClientError as error:
            return fail(error)
        refusal = self._refusal()
        if refusal is not None:
            return fail(refusal)
        return self._request_later(act, wait)

    def _request_later(
        self, act: Callable[[float, float], str | None], wait: float
    ) -> Deferred[None]:
        """Queue *act* until the connection is up with room; fail it after *wait* seconds.

        A producer that does not await its sends can queue thousands: each costs one
        small record and its Deferred (one timer serves them all), not a coroutine and
        a timer of its own, whose objects made the garbage collector's passes long.
        """
        deadline = self.reactor.seconds() + wait
        awaited = "room in the outbound buffer" if self.core.ready else "connection to the broker"
        waiter = _Waiter(self, act, deadline, wait, awaited)
        self._waiters.append(waiter)
        timer = self._waiters_timer
        if timer is None or not timer.active() or deadline < timer.getTime():
            if timer is not None and timer.active():
                timer.cancel()
            self._waiters_timer = call_later(self.reactor, wait, self._expire_waiters)
        return waiter.done

    def _await_receipt(self, receipt_id: str) -> Deferred[None]:
        def cancel(_: Deferred[None]) -> None:
            self.receipts.pop(receipt_id, None)
            self.core.forget_receipt(receipt_id)

        waiter: Deferred[None] = Deferred(cancel)
        self.receipts[receipt_id] = waiter
        return waiter

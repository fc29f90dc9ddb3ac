"""The asyncio client's I/O: one transport, the core's timer on the loop, and the waiting."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from stomp_core import (
    ClientCore,
    ClientEnded,
    CloseTransport,
    ConnectionDropped,
    ConnectionLost,
    ConnectionMade,
    InvalidRequest,
    NotConnected,
    OpenTransport,
    Reconnected,
    RequestDone,
    TlsOptions,
    WaitTimeout,
)
from stomp_core._model import positive
from stomp_session import MessageReceived

logger = logging.getLogger("stomp_asyncio")

_WRITE_NOW: Final = 256 * 1024
"""Bytes buffered in the core that are handed to the transport at once, not at the next turn."""

ReconnectHook = Callable[[Reconnected], object]


class Owner(Protocol):
    """What the link tells the client beyond waking its tasks (its handlers' side)."""

    routing: bool
    """Whether messages must be taken from the core as they arrive (handlers exist)."""

    def take_messages(self) -> None:
        """Messages arrived: hand those of handler subscriptions to their handlers."""
        ...

    def connection_dropped(self) -> None:
        """The connection was lost: drop what can no longer be acknowledged."""
        ...

    def client_ended(self, event: ClientEnded) -> None:
        """The client ended (closed, or the core gave up)."""
        ...


def default_ssl_context() -> ssl.SSLContext:
    """Return the TLS context used when none is given.

    The system's trust store, with certificate and host-name verification on
    (:func:`ssl.create_default_context`).
    """
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


def _tls_context(tls: TlsOptions | ssl.SSLContext | None) -> ssl.SSLContext:
    if isinstance(tls, ssl.SSLContext):
        context = tls
    elif tls is None:
        context = default_ssl_context()
    else:
        context = tls.ssl_context()
    if context.verify_mode is ssl.CERT_NONE:
        logger.warning(
            "TLS certificate verification is off: the broker is not authenticated "
            "and the connection can be intercepted"
        )
    elif not context.check_hostname:
        logger.warning(
            "TLS host-name checking is off: any certificate the trusted authorities "
            "signed is accepted for this broker"
        )
    return context


class _Protocol(asyncio.Protocol):
    """One transport's callbacks, forwarded to the link while it is the current one."""

    __slots__ = ("_event", "_link", "closed", "transport")

    def __init__(self, link: Link, event: OpenTransport) -> None:
        self._link = link
        self._event = event
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = link.loop.create_future()
        """Done once the transport is gone (a TLS close takes a round trip)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._link.opened(self, self._event)

    def data_received(self, data: bytes) -> None:
        link = self._link
        if link.protocol is self:
            link.received(data)

    def eof_received(self) -> bool | None:
        return None  # close: a broker that stops sending is gone

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        link = self._link
        if link.protocol is self:
            link.lost(exc)

    def pause_writing(self) -> None:
        link = self._link
        if link.protocol is self:
            link.write_paused = True

    def resume_writing(self) -> None:
        link = self._link
        if link.protocol is self:
            link.write_paused = False
            link.process()


class Link:
    """Moves bytes between one asyncio transport and the core, and lets tasks wait for outcomes.

    Everything runs on the loop's thread: the transport's callbacks and the core's timer
    feed the core, then :meth:`process` does what the core said (open, write, close,
    settle receipts) and wakes the tasks that wait.
    """

    def __init__(
        self,
        core: ClientCore,
        *,
        tls: TlsOptions | ssl.SSLContext | None,
        on_reconnect: ReconnectHook | None,
        max_waiting: int,
        owner: Owner,
    ) -> None:
        self._core = core
        self._owner = owner
        self._tls = tls
        self._on_reconnect = on_reconnect
        self._max_waiting = max_waiting
        self._loop: asyncio.AbstractEventLoop | None = None
        self.protocol: _Protocol | None = None
        self.write_paused = False
        self.read_paused = False
        """Reading is paused because too many messages wait to be received."""
        self.handlers_paused = False
        """Reading is paused because a handler subscription's queue is full."""
        self._transport_paused = False
        self.inbox: deque[MessageReceived] = deque()
        """Messages for :meth:`Client.receive` taken from the core while handlers exist."""
        self._opening: OpenTransport | None = None
        self._open_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._scheduled = False
        self._waiters: list[asyncio.Future[None]] = []
        self._receipts: dict[str, asyncio.Future[None]] = {}
        self._hooks: set[asyncio.Future[object]] = set()
        self._closing: _Protocol | None = None
        self.ended: ClientEnded | None = None
        """How the client last ended (``None`` while it lives)."""

    # -- the loop and the clock ------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (the client is bound to the loop it was first used on)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def now(self) -> float:
        """The loop's clock, which is the core's clock."""
        return self.loop.time()

    def bind(self) -> None:
        """Bind to the running loop; a client is used from one loop only.

        Raises:
            InvalidRequest: the client was used on another loop before.
        """
        running = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = running
        elif self._loop is not running:
            msg = "the client is bound to the event loop it was first used on"
            raise InvalidRequest(msg)

    # -- what the transport reports ----------------------------------------------------------------

    def opened(self, protocol: _Protocol, event: OpenTransport) -> None:
        """A transport opened (TLS handshake done); CONNECT goes out unless it is stale."""
        transport = protocol.transport
        assert transport is not None
        if self._opening is not event:
            transport.abort()  # an attempt the core gave up on meanwhile
            return
        self._opening = None
        self._open_task = None
        self.protocol = protocol
        self.write_paused = False
        self.read_paused = False
        self._transport_paused = False
        self._core.transport_opened(self.now())
        if self.handlers_paused:  # queues still full: the new connection waits too
            self._apply_reading()
        self.process()

    def received(self, data: bytes) -> None:
        """Bytes read from the current transport."""
        core = self._core
        core.receive_data(data, self.now())
        owner = self._owner
        if owner.routing and core.messages_waiting:
            owner.take_messages()
        if not self.read_paused and self.waiting() > self._max_waiting:
            self.read_paused = True
            self._apply_reading()
            logger.debug("%d messages wait: reading paused", self.waiting())
        self.process()

    def waiting(self) -> int:
        """Messages waiting for :meth:`Client.receive`."""
        return self._core.messages_waiting + len(self.inbox)

    def pause_for_handlers(self, *, paused: bool) -> None:
        """A handler queue filled up (or drained): pause (or resume) reading."""
        self.handlers_paused = paused
        self._apply_reading()

    def _apply_reading(self) -> None:
        """Pause or resume the transport and tell the core, when what is wanted changed."""
        wanted = self.read_paused or self.handlers_paused
        if wanted is self._transport_paused:
            return
        self._transport_paused = wanted
        core = self._core
        protocol = self.protocol
        transport = None if protocol is None else protocol.transport
        if wanted:
            core.pause_reading()
            if transport is not None:
                transport.pause_reading()
        else:
            if transport is not None:
                transport.resume_reading()
            core.resume_reading(self.now())
            logger.debug("reading resumed")
            self.schedule()

    def lost(self, exc: BaseException | None) -> None:
        """The current transport ended (the broker closed it, or it failed)."""
        self.protocol = None
        self._core.transport_closed(self.now(), exc)
        self.process()

    def taken(self) -> None:
        """A message left the inbox: resume reading once it drained to half its bound."""
        if self.read_paused and self.waiting() <= self._max_waiting // 2:
            self.read_paused = False
            self._apply_reading()

    # -- doing what the core says ------------------------------------------------------------------

    def schedule(self) -> None:
        """Process at the loop's next turn (writes of many calls leave together)."""
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._process_soon)
            if self._core.output_size >= _WRITE_NOW:
                self.write()

    def _process_soon(self) -> None:
        self._scheduled = False
        self.process()

    def process(self) -> None:
        """Handle the core's events, write its output, arm its timer, wake the waiting tasks."""
        core = self._core
        while (event := core.next_event()) is not None:
            if type(event) is RequestDone:
                future = self._receipts.pop(event.receipt_id, None)
                if future is not None and not future.done():
                    if event.error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(event.error)
            elif type(event) is OpenTransport:
                self._open(event)
            elif type(event) is CloseTransport:
                self._close(abort=event.abort)
            elif type(event) is ConnectionMade:
                if event.reconnected is not None:
                    self._reconnected(event.reconnected)
            elif type(event) is ClientEnded:
                self._ended(event)
            else:
                assert type(event) is ConnectionDropped
                self.read_paused = False
                self._transport_paused = False
                self._owner.connection_dropped()
        self.write()
        self._arm()
        self.notify()

    def write(self) -> None:
        """Hand what the core holds to the transport, unless it asked for a pause."""
        core = self._core
        protocol = self.protocol
        if protocol is None or self.write_paused or not core.output_size:
            return
        transport = protocol.transport
        assert transport is not None
        transport.write(core.data_to_send(self.now()))

    def _arm(self) -> None:
        """Have the loop call the core's timer by its next deadline (early is harmless)."""
        deadline = self._core.next_deadline()
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if self._timer_at <= deadline:
                return
            timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        # The loop runs a timer up to its clock's resolution early: it is due.
        self._core.handle_timer(max(self.now(), self._timer_at))
        self.process()

    def _open(self, event: OpenTransport) -> None:
        self.ended = None
        self._opening = event
        self._open_task = self.loop.create_task(self._connect(event))

    async def _connect(self, event: OpenTransport) -> None:
        """Open the transport (TCP, then TLS); the core's timer bounds it (CloseTransport)."""
        broker = event.broker
        tls = self._tls
        try:
            context = _tls_context(tls) if broker.tls else None
            server_name = tls.server_hostname if isinstance(tls, TlsOptions) else None
            await self.loop.create_connection(
                lambda: _Protocol(self, event),
                broker.host,
                broker.port,
                ssl=context,
                server_hostname=None if context is None else broker.server_name(server_name),
                ssl_handshake_timeout=None if context is None else event.timeout,
            )
        except (OSError, ValueError, asyncio.TimeoutError) as exc:
            if self._opening is event:
                self._opening = None
                self._open_task = None
                self._core.transport_failed(exc, self.now())
                self.process()

    def _close(self, *, abort: bool) -> None:
        self._opening = None
        task, self._open_task = self._open_task, None
        if task is not None:
            task.cancel()
        protocol, self.protocol = self.protocol, None
        if protocol is None or protocol.transport is None:
            return
        self._closing = protocol
        transport = protocol.transport
        if abort:
            transport.abort()
            return
        data = self._core.data_to_send(self.now())
        if data:
            transport.write(data)
        transport.close()

    def _reconnected(self, report: Reconnected) -> None:
        hook = self._on_reconnect
        if hook is None:
            logger.warning("%s", report)
            return
        try:
            result = hook(report)
        except Exception:
            logger.exception("the on_reconnect hook failed")
            return
        if inspect.isawaitable(result):
            future = asyncio.ensure_future(result)
            self._hooks.add(future)
            future.add_done_callback(self._hook_done)

    def _hook_done(self, future: asyncio.Future[object]) -> None:
        self._hooks.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("the on_reconnect hook failed", exc_info=future.exception())

    def _ended(self, event: ClientEnded) -> None:
        self.ended = event
        self.read_paused = False
        self._transport_paused = False
        self._close(abort=True)
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        failure = event.error or NotConnected("the client is closed")
        receipts, self._receipts = self._receipts, {}
        for future in receipts.values():
            if not future.done():
                future.set_exception(failure)
        self._owner.client_ended(event)

    # -- waiting ---------------------------------------------------------------------------------

    async def closed(self, timeout: float) -> None:
        """Wait up to *timeout* for the last transport closed to be gone (TLS says goodbye)."""
        protocol, self._closing = self._closing, None
        if protocol is not None and not protocol.closed.done():
            await asyncio.wait({protocol.closed}, timeout=timeout)

    def notify(self) -> None:
        """Wake every task waiting for a change (they look again at what they wait for)."""
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for future in waiters:
                if not future.done():
                    future.set_result(None)

    async def changed(self, deadline: float | None) -> None:
        """Wait for the next change, or *deadline* (the loop's time; ``None``: no limit)."""
        loop = self.loop
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append(future)
        timer = None if deadline is None else loop.call_at(deadline, _wake, future)
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()
            if not future.done():
                future.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(future)

    async def wait(
        self, done: Callable[[], bool], deadline: float | None, *, check: bool = False
    ) -> bool:
        """Return ``True`` once *done*, ``False`` at *deadline* (``None``: never).

        With *check*, the core is asked each round whether waiting still makes sense
        (it raises a pending broker error, or why the client ended).
        """
        while not done():
            if check:
                self._core.check_usable()
            if deadline is not None and self.now() >= deadline:
                return False
            await self.changed(deadline)
        return True

    async def wait_ready(self, deadline: float, timeout: float) -> None:
        """Wait for a connection with room in the outbound buffer, up to *deadline*."""
        core = self._core
        if core.ready and core.has_room:
            return
        if not await self.wait(lambda: core.ready and core.has_room, deadline, check=True):
            what = "room in the outbound buffer" if core.ready else "connection to the broker"
            raise WaitTimeout(what, timeout)

    async def wait_room(self, timeout: float) -> None:
        """Wait until the broker took enough bytes that the outbound buffer has room.

        Raises:
            WaitTimeout: no room in time, or the connection stalled (the core closed it:
                what was buffered is lost).
            ConnectionLost: the connection ended before the bytes were written.
        """
        core = self._core
        number = core.counters.connections
        deadline = self.now() + timeout
        if not await self.wait(lambda: core.has_room or not core.ready, deadline):
            raise WaitTimeout(f"progress writing to {core.broker}", timeout)
        if core.counters.connections != number or not core.ready:
            loss = core.last_loss
            if isinstance(loss, WaitTimeout):
                raise loss.with_traceback(None)
            msg = "the connection ended before the bytes were written" + (
                f": {loss}" if loss else ""
            )
            raise ConnectionLost(msg, cause=loss)

    async def request(
        self, act: Callable[[float, float], str | None], timeout: float | None
    ) -> str | None:
        """Wait for the connection and room, act, then wait for the receipt it asked for.

        *act* is given the time and the seconds left; one deadline covers it all
        (*timeout*, default *receipt_timeout*). Return the receipt id awaited, if any.
        """
        core = self._core
        wait = positive("timeout", timeout, optional=True) or core.settings.receipt_timeout
        now = self.now()
        deadline = now + wait
        if not (core.ready and core.has_room):
            await self.wait_ready(deadline, wait)
            now = self.now()
        receipt_id = act(now, max(deadline - now, 1e-3))
        if receipt_id is not None:
            future = self.expect_receipt(receipt_id)
            self.process()
            await self.await_receipt(receipt_id, future)
            return receipt_id
        self.schedule()
        if not core.has_room:
            await self.wait_room(core.settings.write_timeout)
        return None

    @property
    def receipts_awaited(self) -> int:
        """Receipts that calls wait for."""
        return len(self._receipts)

    def expect_receipt(self, receipt_id: str) -> asyncio.Future[None]:
        """A future settled by the RequestDone of *receipt_id*."""
        future: asyncio.Future[None] = self.loop.create_future()
        self._receipts[receipt_id] = future
        return future

    async def await_receipt(self, receipt_id: str, future: Awaitable[None]) -> None:
        """Wait for *receipt_id* (the core settles it by its deadline); cancel-safe."""
        try:
            await future
        except asyncio.CancelledError:
            self._receipts.pop(receipt_id, None)
            self._core.forget_receipt(receipt_id)
            raise


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

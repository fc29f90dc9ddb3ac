"""The blocking client's I/O: one socket, one thread at a time doing I/O, the others woken."""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Final

from stomp_core import (
    ClientCore,
    ClientEnded,
    ClientError,
    CloseTransport,
    ConnectionDropped,
    ConnectionLost,
    ConnectionMade,
    OpenTransport,
    Reconnected,
    RequestDone,
    TlsOptions,
    WaitTimeout,
)
from stomp_sync._transport import Interrupted, open_socket, tls_context

logger = logging.getLogger("stomp_sync")

_READ_SIZE: Final = 256 * 1024
_SERVICE_EVERY: Final = 0.001
"""Seconds between two looks at the core's timers while messages are taken in a burst."""
_WOULD_BLOCK: Final = (
    BlockingIOError,
    InterruptedError,
    ssl.SSLWantReadError,
    ssl.SSLWantWriteError,
)


class SocketPump:
    """Moves bytes between one socket and the core, and lets threads wait for outcomes.

    Every method is called with the condition's lock held. One thread at a time does
    I/O (it releases the lock while it sleeps in ``select``); the others wait on the
    condition and are woken after every round, so none sleeps past what it waits for.
    A byte on the wake-up socket ends a ``select`` or a connection attempt at once.
    """

    def __init__(
        self,
        core: ClientCore,
        condition: threading.Condition,
        *,
        tls: TlsOptions | ssl.SSLContext | None,
        on_reconnect: Callable[[Reconnected], object] | None,
    ) -> None:
        self._core = core
        self._cond = condition
        self._tls = tls
        self._on_reconnect = on_reconnect
        self._sock: socket.socket | None = None
        self._opening: OpenTransport | None = None
        self._selector = selectors.DefaultSelector()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._busy = False
        self._waiters = 0
        """Threads waiting on the condition: none, and there is nobody to notify."""
        self._tls_sock: ssl.SSLSocket | None = None
        """The socket again when it is TLS (which may hold decrypted bytes select misses)."""
        self._watching = 0
        self._serviced = 0.0
        self._done: dict[str, ClientError | None] = {}
        self.ended: ClientEnded | None = None
        """How the client last ended (``None`` while it lives)."""

    def interrupt(self) -> None:
        """Wake the thread that does I/O (any thread, no lock needed)."""
        wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):
                wake.send(b"\0")

    def _acquire(self) -> None:
        """Make the wake-up socket pair while the client lives.

        It is released when the client ends, so that an ended client holds no file.
        """
        if self._wake_r is None:
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._selector = selectors.DefaultSelector()
            self._selector.register(self._wake_r, selectors.EVENT_READ)

    def _release(self) -> None:
        if self._busy or self._wake_r is None or self.ended is None:
            return
        self._selector.close()
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    # -- the core's events ---------------------------------------------------------------------

    def handle_events(self) -> None:
        """Do what the core said: open or close the socket, record outcomes, call hooks."""
        core = self._core
        while (event := core.next_event()) is not None:
            if type(event) is RequestDone:
                self._done[event.receipt_id] = event.error
            elif type(event) is OpenTransport:
                self._opening = event
                self.ended = None
                self._acquire()
            elif type(event) is CloseTransport:
                self._opening = None
                self._close_socket(graceful=not event.abort)
            elif type(event) is ConnectionMade:
                if event.reconnected is not None:
                    self._reconnected(event.reconnected)
            elif type(event) is ClientEnded:
                self.ended = event
                self._opening = None
                self._close_socket(graceful=False)
                self._release()
            else:
                assert type(event) is ConnectionDropped
        if self._waiters:
            self._cond.notify_all()

    def _reconnected(self, report: Reconnected) -> None:
        hook = self._on_reconnect
        if hook is None:
            logger.warning("%s", report)
            return
        self._cond.release()
        try:
            hook(report)
        finally:
            self._cond.acquire()

    def _close_socket(self, *, graceful: bool) -> None:
        sock, self._sock = self._sock, None
        self._tls_sock = None
        if sock is None:
            return
        if graceful:
            with contextlib.suppress(OSError, ValueError):
                self._selector.unregister(sock)
            if self._core.output_size:  # what is left (a WebSocket close), as far as it goes
                with contextlib.suppress(OSError):
                    sock.send(self._core.pending_output())
        else:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    # -- moving bytes --------------------------------------------------------------------------

    def write(self) -> None:
        """Write what the core holds, as far as the socket takes it now (never blocks)."""
        sock = self._sock
        core = self._core
        if sock is None or not core.output_size:
            return
        try:
            sent = sock.send(core.pending_output())
        except _WOULD_BLOCK:
            return
        except OSError as exc:
            core.transport_closed(time.monotonic(), exc)
            self.handle_events()
            return
        core.output_written(sent, time.monotonic())
        if self._busy and core.output_size:
            self.interrupt()  # the thread in select() must watch for room to write the rest

    def write_or_wait(self) -> None:
        """Write what the core holds; if it still holds more than it may, wait for room."""
        self.write()
        core = self._core
        if core.output_size and not core.has_room:
            wait = core.settings.write_timeout
            self.wait_room(time.monotonic() + wait, wait)

    def _read(self, sock: socket.socket) -> None:
        core = self._core
        try:
            data = sock.recv(_READ_SIZE)
        except _WOULD_BLOCK:
            return
        except OSError as exc:
            core.transport_closed(time.monotonic(), exc)
            return
        if not data:
            core.transport_closed(time.monotonic())
            return
        core.receive_data(data, time.monotonic())

    def service_soon(self) -> None:
        """:meth:`service`, at most once a millisecond (between messages taken in a burst).

        Every deadline the core keeps is far coarser (ACK coalescing: 10 ms; heart-beats:
        seconds), so a millisecond late costs nothing and spares a look per message.
        """
        now = time.monotonic()
        if now - self._serviced >= _SERVICE_EVERY:
            self._serviced = now
            self.service()

    def service(self) -> None:
        """Do what is due on the clock, without waiting (the hot path: usually nothing).

        What the socket holds is read first, so that a caller busy outside the client
        never takes a broker whose heart-beats wait unread for a dead one.
        """
        core = self._core
        due = core.next_deadline()
        if due is not None and time.monotonic() >= due:
            sock = self._sock
            if sock is not None:
                self._read(sock)
            core.handle_timer(time.monotonic())
            self.handle_events()
            self.write()

    # -- waiting --------------------------------------------------------------------------------

    def wait(
        self, done: Callable[[], bool], deadline: float | None, *, check: bool = False
    ) -> bool:
        """Return ``True`` once *done*, ``False`` at *deadline* (``None``: never).

        With *check*, the core is asked each round whether waiting still makes sense
        (it raises a pending broker error, or :class:`NotConnected` once ended).
        """
        while not done():
            if check:
                self._core.check_usable()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            if self._busy:
                self._sleep(None if deadline is None else deadline - now)
            else:
                self._round(deadline)
        return True

    def wait_ready(self, deadline: float, timeout: float) -> None:
        """Wait for a connection with room in the outbound buffer, up to *deadline*."""
        core = self._core
        if not self.wait(lambda: core.ready and core.has_room, deadline, check=True):
            what = "room in the outbound buffer" if core.ready else "connection to the broker"
            raise WaitTimeout(what, timeout)

    def wait_room(self, deadline: float, timeout: float) -> None:
        """Wait until the broker took enough bytes that the outbound buffer has room.

        Raises:
            WaitTimeout: no room by *deadline*, or the connection stalled (the core
                closed it: what was buffered is lost).
            ConnectionLost: the connection ended before the bytes were written.
        """
        core = self._core
        number = core.counters.connections
        if not self.wait(lambda: core.has_room or not core.ready, deadline):
            raise WaitTimeout(f"progress writing to {core.broker}", timeout)
        if core.counters.connections != number or not core.ready:
            loss = core.last_loss
            if isinstance(loss, WaitTimeout):
                raise loss.with_traceback(None)
            msg = "the connection ended before the bytes were written" + (
                f": {loss}" if loss else ""
            )
            raise ConnectionLost(msg, cause=loss)

    def await_receipt(self, receipt_id: str) -> None:
        """Wait for the outcome of *receipt_id* (the core settles it by its deadline)."""
        done = self._done
        self.wait(lambda: receipt_id in done, None)
        error = done.pop(receipt_id)
        if error is not None:
            raise error

    def idle_round(self, seconds: float) -> None:
        """One round of I/O for the heart-beat thread, unless a call is doing I/O."""
        if self._busy:
            self._sleep(seconds)
        else:
            self._round(time.monotonic() + seconds)

    def _sleep(self, seconds: float | None) -> None:
        """Wait on the condition until the thread doing I/O ends its round (or *seconds*)."""
        self._waiters += 1
        try:
            self._cond.wait(seconds)
        finally:
            self._waiters -= 1

    def _round(self, deadline: float | None) -> None:
        """Wait for the socket (lock released) until *deadline* or the core's next timer."""
        core = self._core
        self._acquire()
        self.service()
        if self._wake_r is None:
            return  # the client ended
        if self._opening is not None:
            self._open(self._opening)
            return
        core.flush(time.monotonic())
        self.write()
        sock = self._sock
        wake = core.next_deadline()
        if deadline is not None and (wake is None or deadline < wake):
            wake = deadline
        timeout = None if wake is None else max(0.0, wake - time.monotonic())
        tls_sock = self._tls_sock
        if sock is not None:
            if tls_sock is not None and tls_sock.pending():
                timeout = 0.0
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if core.output_size else 0)
            if events != self._watching:  # a system call: only when it changes
                self._selector.modify(sock, events)
                self._watching = events
        self._busy = True
        self._cond.release()
        try:
            ready = self._selector.select(timeout)
        finally:
            self._cond.acquire()
            self._busy = False
        if self.ended is not None:
            self._release()
        for key, mask in ready:
            fileobj = key.fileobj
            if fileobj is sock:
                if sock is self._sock:
                    if mask & selectors.EVENT_WRITE:
                        self.write()
                    if mask & selectors.EVENT_READ:
                        self._read(sock)
            elif isinstance(fileobj, socket.socket):
                with contextlib.suppress(OSError):
                    fileobj.recv(4096)  # the wake-up socket
        if tls_sock is not None and tls_sock is self._sock:
            while tls_sock is self._sock and tls_sock.pending():
                self._read(tls_sock)
        self.service()
        self.handle_events()
        self.write()

    def _open(self, event: OpenTransport) -> None:
        """Open the socket the core asked for (lock released meanwhile)."""
        core = self._core
        tls = self._tls
        wake = self._wake_r
        assert wake is not None
        with contextlib.suppress(OSError):
            wake.recv(4096)  # a wake-up meant for an earlier wait
        server_name = tls.server_hostname if isinstance(tls, TlsOptions) else None
        self._busy = True
        self._cond.release()
        sock: socket.socket | None = None
        error: BaseException | None = None
        try:
            context = tls_context(tls) if event.broker.tls else None
            sock = open_socket(
                event.broker,
                timeout=event.timeout,
                context=context,
                server_hostname=server_name,
                wake=wake,
            )
        except Interrupted:
            error = None
        except (OSError, WaitTimeout, ValueError) as exc:
            error = exc
        finally:
            self._cond.acquire()
            self._busy = False
        self._release()
        now = time.monotonic()
        if self._opening is not event:  # closed or timed out meanwhile
            if sock is not None:
                sock.close()
            self.handle_events()
            return
        self._opening = None
        if sock is None:
            core.transport_failed(error or OSError("interrupted"), now)
        else:
            self._sock = sock
            self._tls_sock = sock if isinstance(sock, ssl.SSLSocket) else None
            self._selector.register(sock, selectors.EVENT_READ)
            self._watching = selectors.EVENT_READ
            core.transport_opened(now)
        self.handle_events()
        self.write()

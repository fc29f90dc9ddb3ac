"""The socket shell: the broker core on a loopback port, served by one background thread."""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Final, TypeVar

from stomp_frame import Frame
from stomp_testing._core import BrokerConnection, BrokerCore
from stomp_testing._faults import Faults

__all__ = ["SocketConnection", "TestBroker"]

_T = TypeVar("_T")
_CHUNK: Final = 65536
_WAIT: Final = 5.0
"""How long a call that waits for the loop (close, drop, stop) waits at most, in seconds."""


class SocketConnection:
    """One accepted client connection of a :class:`TestBroker` (thread-safe).

    Attributes:
        number: Its number, counted from 1, in the order accepted.
        core: The core's side of it (read it under :meth:`TestBroker.locked`).
    """

    __test__ = False

    def __init__(self, broker: TestBroker, sock: socket.socket, core: BrokerConnection) -> None:
        self._broker = broker
        self._sock = sock
        self.core = core
        self.number = core.number
        self._pending = bytearray()
        self._closed = threading.Event()
        self._was_reading = True
        self._events = 0
        """What the serving thread's selector waits for on this socket."""

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else "open"
        return f"<SocketConnection {self.number} {state}>"

    @property
    def received(self) -> list[Frame]:
        """The frames received on this connection so far, in order (a copy)."""
        with self._broker._lock:
            return list(self.core.received)

    @property
    def beats_received(self) -> int:
        """How many heart-beats the client sent on this connection."""
        with self._broker._lock:
            return self.core.beats_received

    @property
    def closed(self) -> bool:
        """Whether the socket is closed (by either side)."""
        return self._closed.is_set()

    def commands(self) -> list[str]:
        """The commands received so far, in order."""
        return [frame.command for frame in self.received]

    def wait_closed(self, timeout: float = _WAIT) -> bool:
        """Wait until the socket is closed (by either side); return whether it is."""
        return self._closed.wait(timeout)

    def send_frame(self, frame: Frame) -> None:
        """Write *frame* to the client, in the negotiated version."""
        self._broker._act(lambda: self.core.send_frame(frame))

    def send_bytes(self, data: bytes) -> None:
        """Write raw *data* to the client."""
        self._broker._act(lambda: self.core.send_bytes(data))

    def close(self) -> None:
        """Close cleanly (after what was written); wait until the socket is closed."""
        self._broker._act(self.core.close)
        self._broker._wait_closed([self])

    def drop(self) -> None:
        """Drop at once (unsent bytes discarded, a reset); wait until the socket is closed."""
        self._broker._act(self.core.drop)
        self._broker._wait_closed([self])


class TestBroker:
    r"""A :class:`~stomp_testing.BrokerCore` on a loopback TCP port, for blocking clients.

    One background thread serves every connection with :mod:`selectors`; the core,
    its faults and inspection are guarded by one lock, so every method may be called
    from any thread. Use it as a context manager (``with TestBroker() as broker:``)
    or call :meth:`start` and :meth:`stop`.

    >>> import socket
    >>> from stomp_testing import TestBroker
    >>> with TestBroker() as broker:
    ...     with socket.create_connection((broker.host, broker.port)) as client:
    ...         client.sendall(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
    ...         broker.wait_for_command("CONNECT").get("accept-version")
    '1.2'

    Args:
        core: The broker to serve; a new :class:`~stomp_testing.BrokerCore` by default.
        host: The loopback address to listen on (``"::1"`` for IPv6).
        port: The port; 0 picks a free one (see :attr:`port`).
        websocket: Serve STOMP over WebSocket on this path (``"/ws"``) instead of plain
            TCP (needs the stomp-websocket package); :attr:`uri` is then ``ws://``.
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self,
        core: BrokerCore | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        websocket: str | None = None,
    ) -> None:
        self.core = BrokerCore() if core is None else core
        self.websocket = websocket
        """The WebSocket path it serves, or ``None`` for plain TCP."""
        """The broker served (touch it only under :meth:`locked`)."""
        self.host = host
        self._requested_port = port
        self.port = 0
        """The bound port, once started."""
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._selector: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._accepted: list[SocketConnection] = []
        self._deadline: float | None = None
        self.core.faults._watch(self._wake)

    def __repr__(self) -> str:
        return f"<TestBroker {self.core.name!r} on {self.uri}>"

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> TestBroker:
        """Listen and start the serving thread; return the broker.

        Raises:
            RuntimeError: it was started already.
        """
        if self._thread is not None:
            msg = "the test broker is started already"
            raise RuntimeError(msg)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._requested_port))
        listener.listen(64)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="stomp-testing-broker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, close every connection (dropped) and end the thread."""
        thread = self._thread
        if thread is None or self._stopping:
            return
        with self._lock:
            self._stopping = True
        self._wake()
        if thread is not threading.current_thread():
            thread.join(_WAIT)

    def __enter__(self) -> TestBroker:
        """Start (unless started already); the broker stops when the block ends."""
        return self if self._thread is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def uri(self) -> str:
        """``tcp://host:port`` of this broker (IPv6 hosts in brackets), or ``ws://.../path``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.websocket is not None:
            return f"ws://{host}:{self.port}{self.websocket}"
        return f"tcp://{host}:{self.port}"

    # -- faults, acting, looking ---------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The core's faults (thread-safe; the serving thread applies each change at once)."""
        return self.core.faults

    @contextlib.contextmanager
    def locked(self) -> Iterator[BrokerCore]:
        """Hold the broker's lock and give its core (to read or change several things at once).

        The serving thread applies what changed when the block ends.
        """
        with self._lock:
            yield self.core
        self._wake()

    @property
    def accepted(self) -> tuple[SocketConnection, ...]:
        """Every connection accepted so far, closed ones included, in order."""
        with self._lock:
            return tuple(self._accepted)

    @property
    def connections(self) -> tuple[SocketConnection, ...]:
        """The connections whose socket is open."""
        with self._lock:
            return tuple(c for c in self._accepted if not c.closed)

    @property
    def received(self) -> list[Frame]:
        """Every frame received, from every connection, in order (a copy)."""
        with self._lock:
            return list(self.core.received)

    def frames(self, command: str) -> list[Frame]:
        """The frames received with *command*, from every connection, in order."""
        with self._lock:
            return self.core.frames(command)

    def queued(self, destination: str) -> tuple[Frame, ...]:
        """The messages waiting in the queue *destination* (see :meth:`BrokerCore.queued`)."""
        with self._lock:
            return self.core.queued(destination)

    def unacknowledged(self) -> tuple[Frame, ...]:
        """The messages delivered and not yet acknowledged, on every connection."""
        with self._lock:
            return self.core.unacknowledged()

    def publish(
        self,
        destination: str,
        body: bytes = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> str:
        """Put a message in *destination* as if a client had sent it; return its id."""
        return self._act(lambda: self.core.publish(destination, body, headers))

    def drop_connections(self) -> None:
        """Drop every connection (as a crash would); wait until their sockets are closed."""
        connections = self.connections
        self._act(self.core.drop_connections)
        self._wait_closed(connections)

    # -- waiting -------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], _T], timeout: float = _WAIT) -> _T:
        """Wait until *predicate* (called under the lock, after each step) returns a true value.

        Raises:
            TimeoutError: it did not within *timeout* seconds.
        """
        with self._changed:
            result = self._changed.wait_for(predicate, timeout)
        if not result:
            msg = f"the test broker did not reach the expected state within {timeout} s"
            raise TimeoutError(msg)
        return result

    def wait_for_command(
        self, command: str, *, connection: int | None = None, timeout: float = _WAIT
    ) -> Frame:
        """Wait for the first frame of *command* (on the *connection*-th accepted, 1-based).

        Raises:
            TimeoutError: none came within *timeout* seconds.
        """

        def found() -> Frame | None:
            if connection is None:
                frames = self.core.received
            elif len(self._accepted) >= connection:
                frames = self._accepted[connection - 1].core.received
            else:
                return None
            return next((frame for frame in frames if frame.command == command), None)

        try:
            frame = self.wait_for(found, timeout)
        except TimeoutError:
            where = "" if connection is None else f" on connection {connection}"
            msg = f"no {command} frame{where} within {timeout} s"
            raise TimeoutError(msg) from None
        assert frame is not None
        return frame

    def wait_for_connections(
        self, count: int, timeout: float = _WAIT
    ) -> tuple[SocketConnection, ...]:
        """Wait until *count* connections were accepted (in all); return them.

        Raises:
            TimeoutError: fewer came within *timeout* seconds.
        """
        try:
            self.wait_for(lambda: len(self._accepted) >= count, timeout)
        except TimeoutError:
            msg = f"{len(self.accepted)} connections within {timeout} s, expected {count}"
            raise TimeoutError(msg) from None
        return self.accepted

    # -- the serving thread --------------------------------------------------------------------

    def _act(self, action: Callable[[], _T]) -> _T:
        with self._lock:
            result = action()
        self._wake()
        return result

    def _wait_closed(self, connections: Iterable[SocketConnection]) -> None:
        if threading.current_thread() is self._thread:
            return
        for connection in connections:
            connection.wait_closed(_WAIT)

    def _wake(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"\0")

    def _run(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while True:
                with self._lock:
                    if self._stopping:
                        break
                    timeout = self._arm(selector)
                ready = selector.select(timeout)
                with self._changed:
                    now = time.monotonic()
                    for key, _ in ready:
                        self._ready(key.fileobj, key.data, now)  # type: ignore[arg-type]
                    if self._deadline is not None and now >= self._deadline:
                        self.core.handle_timer(max(now, self._deadline))
                    self._flush(now)
                    self._changed.notify_all()
        finally:
            self._shut_down()

    def _arm(self, selector: selectors.BaseSelector) -> float | None:
        """Register what each socket waits for; return how long to wait for the next timer."""
        for connection in self._accepted:
            if connection.closed:
                continue
            events = selectors.EVENT_READ if connection.core.reading else 0
            if connection._pending:
                events |= selectors.EVENT_WRITE
            if events != connection._events:
                if not connection._events:
                    selector.register(connection._sock, events, connection)
                elif not events:
                    selector.unregister(connection._sock)
                else:
                    selector.modify(connection._sock, events, connection)
                connection._events = events
        self._deadline = self.core.next_deadline()
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def _ready(self, sock: socket.socket, connection: SocketConnection | None, now: float) -> None:
        if sock is self._wake_r:
            with contextlib.suppress(OSError):
                sock.recv(_CHUNK)
            return
        if connection is None:
            self._accept(now)
            return
        if connection.closed:
            return
        if connection._pending:
            self._write(connection, now)
        if connection._closed.is_set() or not connection.core.reading:
            return
        try:
            data = sock.recv(_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(connection, now, abort=False)
            return
        connection.core.receive_data(data, now)

    def _accept(self, now: float) -> None:
        assert self._listener is not None
        assert self._selector is not None
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        core = self.core.open_connection(now, websocket=self.websocket)
        connection = SocketConnection(self, sock, core)
        self._accepted.append(connection)

    def _flush(self, now: float) -> None:
        for connection in list(self._accepted):
            if connection.closed:
                continue
            core = connection.core
            if core.should_abort:
                self._close(connection, now, abort=True)
                continue
            reading = core.reading
            if reading and not connection._was_reading:
                core.receive_data(b"", now)  # what was held while not reading
            connection._was_reading = reading
            connection._pending += core.data_to_send()
            if connection._pending:
                self._write(connection, now)
            if not connection._closed.is_set() and core.should_close and not connection._pending:
                self._close(connection, now, abort=core.should_abort)

    def _write(self, connection: SocketConnection, now: float) -> None:
        try:
            sent = connection._sock.send(connection._pending)
        except BlockingIOError:
            return
        except OSError:
            self._close(connection, now, abort=True)
            return
        del connection._pending[:sent]

    def _close(self, connection: SocketConnection, now: float, *, abort: bool) -> None:
        sock = connection._sock
        if self._selector is not None and connection._events:
            self._selector.unregister(sock)
            connection._events = 0
        with contextlib.suppress(OSError):
            if abort:  # a reset, as a crash or a network failure gives
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        connection._pending.clear()
        connection.core.connection_lost(now)
        connection._closed.set()

    def _shut_down(self) -> None:
        with self._changed:
            now = time.monotonic()
            for connection in self._accepted:
                if not connection.closed:
                    self._close(connection, now, abort=False)
            for sock in (self._listener, self._wake_r, self._wake_w):
                if sock is not None:
                    sock.close()
            if self._selector is not None:
                self._selector.close()
            self._wake_w = None
            self._changed.notify_all()

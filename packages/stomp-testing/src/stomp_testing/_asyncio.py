"""The asyncio shell: the broker core served by ``asyncio.start_server``, in the caller's loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from types import TracebackType

from stomp_frame import Frame
from stomp_testing._core import BrokerConnection, BrokerCore
from stomp_testing._faults import Faults

__all__ = ["AsyncioTestBroker"]

_CHUNK = 65536


class _Served:
    """One connection: the core's side, the stream writer, and a wake-up for its reader."""

    def __init__(self, core: BrokerConnection, writer: asyncio.StreamWriter) -> None:
        self.core = core
        self.writer = writer
        self.readable = asyncio.Event()
        self.readable.set()
        self.closed = False


class AsyncioTestBroker:
    r"""A :class:`~stomp_testing.BrokerCore` on ``asyncio.start_server``, for asyncio clients.

    It runs in the event loop that starts it (no thread); its clock is the loop's.
    Methods other than :meth:`start` and :meth:`stop` are plain calls, to be made from
    the loop's thread; fault changes (thread-safe) are applied at once.

    >>> import asyncio
    >>> from stomp_testing import AsyncioTestBroker
    >>> async def main() -> str | None:
    ...     async with AsyncioTestBroker() as broker:
    ...         reader, writer = await asyncio.open_connection(broker.host, broker.port)
    ...         writer.write(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
    ...         answer = await reader.readuntil(b"\0")
    ...         writer.close()
    ...         return answer.split(b"\n")[0].decode()
    >>> asyncio.run(main())
    'CONNECTED'

    Args:
        core: The broker to serve; a new :class:`~stomp_testing.BrokerCore` by default.
        host: The loopback address to listen on.
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
        """The broker served."""
        self.websocket = websocket
        """The WebSocket path it serves, or ``None`` for plain TCP."""
        self.host = host
        self.port = port
        """The bound port, once started."""
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._served: list[_Served] = []
        self._timer: asyncio.TimerHandle | None = None
        self.core.faults._watch(self._faults_changed)

    def __repr__(self) -> str:
        return f"<AsyncioTestBroker {self.core.name!r} on {self.uri}>"

    @property
    def uri(self) -> str:
        """``tcp://host:port`` of this broker (IPv6 hosts in brackets), or ``ws://.../path``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.websocket is not None:
            return f"ws://{host}:{self.port}{self.websocket}"
        return f"tcp://{host}:{self.port}"

    async def start(self) -> AsyncioTestBroker:
        """Listen; return the broker.

        Raises:
            RuntimeError: it was started already.
        """
        if self._server is not None:
            msg = "the test broker is started already"
            raise RuntimeError(msg)
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for served in list(self._served):
            served.core.close()
        self._flush()
        await server.wait_closed()

    async def __aenter__(self) -> AsyncioTestBroker:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- faults, acting, looking ---------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The core's faults."""
        return self.core.faults

    @property
    def connections(self) -> tuple[BrokerConnection, ...]:
        """The core's side of the open connections."""
        return tuple(served.core for served in self._served)

    def frames(self, command: str) -> list[Frame]:
        """The frames received with *command*, from every connection, in order."""
        return self.core.frames(command)

    def queued(self, destination: str) -> tuple[Frame, ...]:
        """The messages waiting in the queue *destination*."""
        return self.core.queued(destination)

    def unacknowledged(self) -> tuple[Frame, ...]:
        """The messages delivered and not yet acknowledged, on every connection."""
        return self.core.unacknowledged()

    def publish(
        self,
        destination: str,
        body: bytes = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> str:
        """Put a message in *destination* as if a client had sent it; return its id."""
        message_id = self.core.publish(destination, body, headers)
        self._flush()
        return message_id

    def drop_connections(self) -> None:
        """Drop every connection (as a crash would)."""
        self.core.drop_connections()
        self._flush()

    # -- serving -------------------------------------------------------------------------------

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _faults_changed(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._flush)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        core = self.core.open_connection(self._now(), websocket=self.websocket)
        served = _Served(core, writer)
        self._served.append(served)
        try:
            while not served.closed:
                if not served.core.reading:
                    served.readable.clear()
                    await served.readable.wait()
                    continue
                try:
                    data = await reader.read(_CHUNK)
                except OSError:
                    data = b""
                if not data:
                    break
                served.core.receive_data(data, self._now())
                self._flush()
        finally:
            self._lost(served)

    def _lost(self, served: _Served) -> None:
        if served.closed:
            return
        if served in self._served:
            self._served.remove(served)
        served.closed = True
        served.core.connection_lost(self._now())
        served.writer.close()
        self._flush()

    def _flush(self) -> None:
        for served in list(self._served):
            core, transport = served.core, served.writer.transport
            if core.should_abort:
                transport.abort()
                self._lost(served)
                continue
            data = core.data_to_send()
            if data:
                served.writer.write(data)
            if core.should_close:
                served.writer.close()
                self._lost(served)
                continue
            if core.reading and not served.readable.is_set():
                core.receive_data(b"", self._now())  # what was held while not reading
                served.readable.set()
                data = core.data_to_send()
                if data:
                    served.writer.write(data)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.core.next_deadline()
        if deadline is not None and self._loop is not None and self._server is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer, deadline)

    def _on_timer(self, deadline: float) -> None:
        self._timer = None
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.core.handle_timer(max(self._now(), deadline))
            self._flush()

"""Fixtures: a scripted asyncio STOMP peer on loopback; ``async def`` tests run by ``asyncio.run``.

The broker behaves like a small broker (CONNECTED, RECEIPTs, MESSAGEs for SENDs to
subscribed destinations, DISCONNECT) unless its :class:`Script` says to misbehave: never
answer, refuse with ERROR, withhold receipts, stop reading, drop the connection at a
command. Everything it reads is recorded per connection, so a test can assert what the
client wrote. It runs on the test's own loop: ``broker = await make_broker(receipts=False)``.

(A shared sans-I/O test broker of the project will replace it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
from dataclasses import dataclass, field

import pytest

from stomp_frame import Frame, FrameError, HeartBeat, Parser, Version, serialize

TEST_TIMEOUT = 30.0
"""Seconds a test may run before it fails (a hang is a failure, not a stuck run)."""


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests on a fresh loop, stopping the brokers they started on it."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    arguments = {name: pyfuncitem.funcargs[name] for name in names}
    maker = arguments.get("make_broker")

    async def main() -> None:
        try:
            await asyncio.wait_for(function(**arguments), TEST_TIMEOUT)
        finally:
            if isinstance(maker, MakeBroker):
                await maker.stop_all()

    asyncio.run(main())
    return True


@dataclass
class Script:
    """How the fake broker behaves; the defaults make a well-behaved broker."""

    answer_connect: bool = True
    connect_error: str | None = None
    """Answer CONNECT with this ERROR message and keep the connection open."""
    version: str = "1.2"
    heart_beat: str = "0,0"
    """The CONNECTED ``heart-beat`` header (sx,sy)."""
    beat_every: float | None = None
    """Send an EOL this often (seconds) after CONNECTED."""
    receipts: bool = True
    disconnect_receipt: bool = True
    deliver: bool = True
    """Deliver SENDs to the subscriptions of their destination."""
    error_on: dict[str, str] = field(default_factory=dict)
    """Command -> ERROR message sent (with receipt-id) instead of processing it."""
    drop_on: str | None = None
    """Close the connection when this command arrives (on the first connection only)."""
    stall_after_connect: bool = False
    """Answer CONNECT, then stop reading (a broker that stops taking writes)."""


class Peer:
    """One accepted connection: what it received, and a way to write to it."""

    def __init__(self, writer: asyncio.StreamWriter, number: int) -> None:
        self.writer = writer
        self.number = number
        self.frames: list[Frame] = []
        self.beats = 0
        self.closed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def send(self, data: bytes) -> None:
        """Write raw bytes to the client (ignoring a closed connection)."""
        if not self.writer.is_closing():
            self.writer.write(data)

    def commands(self) -> list[str]:
        """The commands received so far, in order."""
        return [frame.command for frame in self.frames]

    def close(self) -> None:
        """Close the connection at once."""
        self.writer.transport.abort()
        self.closed.set()


class FakeBroker:
    """Listens on loopback; each connection runs the script in a task of its own."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.peers: list[Peer] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._subscriptions: dict[str, list[tuple[Peer, str]]] = {}
        self._ids = itertools.count(1)
        self._pending: dict[str, list[Frame]] = {}
        self._changed = asyncio.Event()

    async def start(self) -> FakeBroker:
        """Start listening on a free loopback port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def uri(self) -> str:
        """``tcp://127.0.0.1:port`` of this broker."""
        return f"tcp://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for peer in self.peers:
            peer.close()
            if peer.task is not None:
                peer.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await peer.task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, what: str, predicate: object, timeout: float = 5.0) -> None:
        """Wait until *predicate()* holds (checked after everything the broker does)."""
        assert callable(predicate)

        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the broker saw no {what} within {timeout} s") from None

    async def wait_for_command(self, command: str, peer: int = 0) -> Frame:
        """Wait until the *peer*-th connection received *command*; return that frame."""

        def seen() -> bool:
            return len(self.peers) > peer and command in self.peers[peer].commands()

        await self.wait_for(f"{command} on connection {peer}", seen)
        return next(f for f in self.peers[peer].frames if f.command == command)

    async def wait_for_peers(self, count: int) -> list[Peer]:
        """Wait until *count* connections were accepted."""
        await self.wait_for(f"{count} connections", lambda: len(self.peers) >= count)
        return list(self.peers)

    def send_to(self, peer: int, frame: Frame, version: Version = Version.V1_2) -> None:
        """Write *frame* to the *peer*-th connection."""
        self.peers[peer].send(serialize(frame, version))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(writer, len(self.peers))
        peer.task = asyncio.current_task()
        self.peers.append(peer)
        self._changed.set()
        try:
            await self._run(peer, reader)
        except (OSError, FrameError):  # gone, or not STOMP: hang up
            pass
        finally:
            for entries in self._subscriptions.values():
                entries[:] = [entry for entry in entries if entry[0] is not peer]
            if not self.script.connect_error:
                peer.close()
            self._changed.set()

    async def _run(self, peer: Peer, reader: asyncio.StreamReader) -> None:
        script = self.script
        parser = Parser(Version.V1_0)
        version = Version(script.version)
        while data := await reader.read(65536):
            for item in parser.feed(data):
                if isinstance(item, HeartBeat):
                    peer.beats += 1
                    self._changed.set()
                    continue
                peer.frames.append(item)
                self._changed.set()
                if not await self._answer(peer, item, parser, version):
                    return

    async def _answer(self, peer: Peer, frame: Frame, parser: Parser, version: Version) -> bool:
        """Answer one frame; ``False`` ends the connection's task."""
        script = self.script
        command = frame.command
        if command in ("CONNECT", "STOMP"):
            if not script.answer_connect:
                return True
            if script.connect_error is not None:
                peer.send(
                    serialize(Frame("ERROR", {"message": script.connect_error}), Version.V1_0)
                )
                return True
            headers = {"version": script.version, "heart-beat": script.heart_beat, "server": "f/1"}
            peer.send(serialize(Frame("CONNECTED", headers), Version.V1_0))
            parser.version = version
            if script.beat_every is not None:
                asyncio.get_running_loop().create_task(self._beat(peer, script.beat_every))
            if script.stall_after_connect:
                transport = peer.writer.transport
                assert isinstance(transport, asyncio.Transport)
                transport.pause_reading()
                await peer.closed.wait()
                return False
            return True
        if script.drop_on == command and peer.number == 0:
            peer.close()
            return False
        receipt = frame.get("receipt")
        if command in script.error_on:
            headers = {"message": script.error_on[command]}
            if receipt is not None:
                headers["receipt-id"] = receipt
            peer.send(serialize(Frame("ERROR", headers), version))
            return True
        if command == "SUBSCRIBE":
            entry = (peer, frame.get("id") or frame.get("destination") or "")
            self._subscriptions.setdefault(frame.get("destination") or "", []).append(entry)
        elif command == "SEND" and script.deliver:
            transaction = frame.get("transaction")
            if transaction is None:
                self._deliver(frame, version)
            else:
                self._pending.setdefault(transaction, []).append(frame)
        elif command == "COMMIT":
            for sent in self._pending.pop(frame.get("transaction") or "", []):
                self._deliver(sent, version)
        elif command == "ABORT":
            self._pending.pop(frame.get("transaction") or "", None)
        if command == "DISCONNECT":
            if script.disconnect_receipt and receipt is not None:
                peer.send(serialize(Frame("RECEIPT", {"receipt-id": receipt}), version))
                await peer.writer.drain()
                peer.close()
                return False
            return True
        if receipt is not None and script.receipts:
            peer.send(serialize(Frame("RECEIPT", {"receipt-id": receipt}), version))
        return True

    def _deliver(self, frame: Frame, version: Version) -> None:
        destination = frame.get("destination") or ""
        for peer, sub_id in list(self._subscriptions.get(destination, [])):
            message_id = f"m-{next(self._ids)}"
            headers = [
                ("subscription", sub_id),
                ("message-id", message_id),
                ("destination", destination),
                ("ack", message_id),
            ]
            skip = ("destination", "receipt", "transaction")
            headers += [(k, v) for k, v in frame.headers if k not in skip]
            peer.send(serialize(Frame("MESSAGE", headers, frame.body), version))

    async def _beat(self, peer: Peer, every: float) -> None:
        while not peer.closed.is_set():
            await asyncio.sleep(every)
            peer.send(b"\n")


class MakeBroker:
    """The ``make_broker`` fixture: ``await make_broker(receipts=False)`` starts a broker."""

    def __init__(self) -> None:
        self.started: list[FakeBroker] = []

    async def __call__(self, **script: object) -> FakeBroker:
        broker = await FakeBroker(Script(**script)).start()  # type: ignore[arg-type]
        self.started.append(broker)
        return broker

    async def stop_all(self) -> None:
        """Stop every broker started."""
        for broker in self.started:
            await broker.stop()


@pytest.fixture
def make_broker() -> MakeBroker:
    """Start fake brokers in a test (on its loop); all are stopped after it."""
    return MakeBroker()

"""Fixtures: a scripted STOMP peer on a loopback socket, in threads, for the client's unit tests.

It behaves like a small broker (CONNECTED, RECEIPTs, MESSAGEs for SENDs to subscribed
destinations, DISCONNECT) unless its :class:`Script` says to misbehave: never answer,
refuse with ERROR, withhold receipts, go silent, drop the connection at a command.
Everything it reads is recorded per connection, so a test can assert what the client
wrote.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from stomp_frame import Frame, FrameError, HeartBeat, Parser, Version, serialize


@dataclass
class Script:
    """How the fake broker behaves; the defaults make a well-behaved broker."""

    answer_connect: bool = True
    connect_error: str | None = None
    """Answer CONNECT with this ERROR message and keep the socket open (RabbitMQ's way)."""
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
    read: bool = True
    """Read from the socket at all (False: a broker that does not take writes)."""
    stall_after_connect: bool = False
    """Answer CONNECT, then stop reading (a broker that stops taking writes)."""


class Peer:
    """One accepted connection: what it received, and a way to write to it."""

    def __init__(self, sock: socket.socket, number: int) -> None:
        self.sock = sock
        self.number = number
        self.frames: list[Frame] = []
        self.beats = 0
        self.closed = threading.Event()
        self.lock = threading.Lock()

    def send(self, data: bytes) -> None:
        """Write raw bytes to the client (ignoring a closed socket)."""
        with self.lock, contextlib.suppress(OSError):
            self.sock.sendall(data)

    def commands(self) -> list[str]:
        """The commands received so far, in order."""
        return [frame.command for frame in list(self.frames)]

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.closed.set()


class FakeBroker:
    """Listens on loopback; each connection runs the script in a thread of its own."""

    def __init__(self, script: Script | None = None, *, family: int = socket.AF_INET) -> None:
        self.script = script or Script()
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self.host = host
        self.peers: list[Peer] = []
        self.connected = threading.Condition()
        self._subscriptions: dict[str, list[tuple[Peer, str, str]]] = {}
        self._ids = itertools.count(1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def uri(self) -> str:
        """``tcp://host:port`` of this broker."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    def stop(self) -> None:
        """Stop listening and close every connection."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        for peer in list(self.peers):
            peer.close()

    def wait_for_peers(self, count: int, timeout: float = 5.0) -> list[Peer]:
        """Wait until *count* connections were accepted."""
        with self.connected:
            if not self.connected.wait_for(lambda: len(self.peers) >= count, timeout):
                msg = f"{len(self.peers)} connections, expected {count}"
                raise AssertionError(msg)
        return list(self.peers)

    def wait_for_command(self, command: str, peer: int = 0, timeout: float = 5.0) -> Frame:
        """Wait until the *peer*-th connection received *command*; return that frame."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.peers) > peer:
                for frame in list(self.peers[peer].frames):
                    if frame.command == command:
                        return frame
            time.sleep(0.005)
        msg = f"no {command} on connection {peer}"
        raise AssertionError(msg)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            peer = Peer(sock, len(self.peers))
            with self.connected:
                self.peers.append(peer)
                self.connected.notify_all()
            threading.Thread(target=self._serve, args=(peer,), daemon=True).start()

    def _serve(self, peer: Peer) -> None:
        try:
            self._run(peer)
        except (OSError, FrameError):  # gone, or not STOMP (a TLS hello): hang up
            pass
        finally:
            self._unsubscribe_all(peer)
            if self._stopped.is_set() or not self.script.connect_error:
                peer.close()

    def _frames(self, peer: Peer, parser: Parser) -> Iterator[Frame]:
        while True:
            data = peer.sock.recv(65536)
            if not data:
                return
            for item in parser.feed(data):
                if isinstance(item, HeartBeat):
                    peer.beats += 1
                    continue
                peer.frames.append(item)
                yield item

    def _run(self, peer: Peer) -> None:
        script = self.script
        if not script.read:
            peer.closed.wait()
            return
        parser = Parser(Version.V1_0)
        version = Version(script.version)
        for frame in self._frames(peer, parser):
            command = frame.command
            if command in ("CONNECT", "STOMP"):
                if not script.answer_connect:
                    continue
                if script.connect_error is not None:
                    error = Frame("ERROR", {"message": script.connect_error})
                    peer.send(serialize(error, Version.V1_0))
                    continue
                connected = Frame(
                    "CONNECTED",
                    {"version": script.version, "heart-beat": script.heart_beat, "server": "f/1"},
                )
                peer.send(serialize(connected, Version.V1_0))
                parser.version = version
                if script.beat_every is not None:
                    self._beat(peer, script.beat_every)
                if script.stall_after_connect:
                    peer.closed.wait()
                    return
                continue
            if script.drop_on == command and peer.number == 0:
                peer.close()
                return
            receipt = frame.get("receipt")
            if command in script.error_on:
                headers = {"message": script.error_on[command]}
                if receipt is not None:
                    headers["receipt-id"] = receipt
                peer.send(serialize(Frame("ERROR", headers), version))
                continue
            if command == "SUBSCRIBE":
                entry = (peer, frame.get("id") or "", frame.get("ack") or "auto")
                self._subscriptions.setdefault(frame.get("destination") or "", []).append(entry)
            elif command == "SEND" and script.deliver:
                self._deliver(frame, version)
            if command == "DISCONNECT":
                if script.disconnect_receipt and receipt is not None:
                    peer.send(serialize(Frame("RECEIPT", {"receipt-id": receipt}), version))
                    peer.close()
                    return
                continue
            if receipt is not None and script.receipts:
                peer.send(serialize(Frame("RECEIPT", {"receipt-id": receipt}), version))

    def _deliver(self, frame: Frame, version: Version) -> None:
        destination = frame.get("destination") or ""
        for peer, sub_id, _ack in list(self._subscriptions.get(destination, [])):
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

    def _unsubscribe_all(self, peer: Peer) -> None:
        for entries in self._subscriptions.values():
            entries[:] = [entry for entry in entries if entry[0] is not peer]

    def _beat(self, peer: Peer, every: float) -> None:
        def beat() -> None:
            while not peer.closed.wait(every):
                peer.send(b"\n")

        threading.Thread(target=beat, daemon=True).start()

    def send_to(self, peer: int, frame: Frame, version: Version = Version.V1_2) -> None:
        """Write *frame* to the *peer*-th connection."""
        self.peers[peer].send(serialize(frame, version))

    def beats_received(self, peer: int = 0) -> int:
        """Heart-beats received on the *peer*-th connection."""
        return self.peers[peer].beats


class MakeBroker:
    """The ``make_broker`` fixture: ``make_broker(receipts=False)`` starts a scripted broker."""

    def __init__(self) -> None:
        self.started: list[FakeBroker] = []

    def __call__(self, *, family: int = socket.AF_INET, **script: object) -> FakeBroker:
        broker = FakeBroker(Script(**script), family=family)  # type: ignore[arg-type]
        self.started.append(broker)
        return broker


@pytest.fixture
def make_broker() -> Iterator[MakeBroker]:
    """Start fake brokers for a test; all are stopped after it."""
    maker = MakeBroker()
    yield maker
    for broker in maker.started:
        broker.stop()

"""Fixtures: the project's test broker (stomp_testing.TestBroker) on loopback, scripted per test.

``make_broker(**script)`` starts a :class:`stomp_testing.TestBroker` whose behaviour a
:class:`Script` sets through the broker's core options and faults: never answer,
refuse with ERROR, withhold receipts, stop reading, drop the connection at a command.
Everything it reads is recorded per connection, so a test can assert what the client
wrote; :class:`FakeBroker` and :class:`Peer` keep the names the tests use.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from stomp_commands import ALL_VERSIONS
from stomp_frame import Frame, Version, serialize
from stomp_testing import BrokerCore, SocketConnection, TestBroker

_RECEIPTED = ("SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT")


@dataclass
class Script:
    """How the broker behaves; the defaults make a well-behaved broker."""

    answer_connect: bool = True
    connect_error: str | None = None
    """Answer CONNECT with this ERROR message and keep the socket open (RabbitMQ's way)."""
    version: str = "1.2"
    """The newest version the broker speaks."""
    heart_beat: str = "0,0"
    """The CONNECTED ``heart-beat`` header (sx,sy)."""
    beat_every: float | None = None
    """Send heart-beats (at the negotiated interval; any value turns them on)."""
    receipts: bool = True
    disconnect_receipt: bool = True
    error_on: dict[str, str] = field(default_factory=dict)
    """Command -> ERROR message sent (with receipt-id) instead of processing it."""
    drop_on: str | None = None
    """Drop the connection when this command arrives (once)."""
    read: bool = True
    """Read from the socket at all (False: a broker that does not take writes)."""
    stall_after_connect: bool = False
    """Answer CONNECT, then stop reading (a broker that stops taking writes)."""


def _core(script: Script) -> BrokerCore:
    sx, sy = (int(part) for part in script.heart_beat.split(","))
    core = BrokerCore(
        name="f",
        server="f/1",
        versions=[v for v in ALL_VERSIONS if v.value <= script.version],
        heart_beat=(sx, sy),
        # The client's own hand-made MESSAGEs (three_messages) are acked: not an error.
        strict_acks=False,
        # Unacknowledged messages are not redelivered to a reconnected client.
        redelivery_limit=0,
        # The broker never judges a silent client (the tests judge the client).
        heart_beat_grace=1_000_000.0,
    )
    faults = core.faults
    if not script.answer_connect:
        faults.never_answer()
    if script.connect_error is not None:
        faults.error_on_connect(script.connect_error, close=False)
    if script.beat_every is None:
        faults.stop_heart_beating()
    if not script.receipts:
        faults.withhold_receipts(*_RECEIPTED)
    if not script.disconnect_receipt:
        faults.withhold_receipts("DISCONNECT")
    for command, message in script.error_on.items():
        faults.error_on(command, message)
    if script.drop_on is not None:
        faults.drop_on(script.drop_on)
    if not script.read:
        faults.stop_reading()
    if script.stall_after_connect:
        faults.stop_reading(after="CONNECT")
    return core


class _Closed:
    """``peer.closed.wait(timeout)``: whether the connection closed (by either side) in time."""

    def __init__(self, connection: SocketConnection) -> None:
        self._connection = connection

    def wait(self, timeout: float | None = None) -> bool:
        return self._connection.wait_closed(5.0 if timeout is None else timeout)

    def is_set(self) -> bool:
        return self._connection.closed


class Peer:
    """One accepted connection: what it received, and a way to write to it."""

    def __init__(self, connection: SocketConnection) -> None:
        self.connection = connection
        self.number = connection.number - 1
        self.closed = _Closed(connection)

    @property
    def frames(self) -> list[Frame]:
        """The frames received so far, in order."""
        return self.connection.received

    @property
    def beats(self) -> int:
        """The heart-beats received so far."""
        return self.connection.beats_received

    def send(self, data: bytes) -> None:
        """Write raw bytes to the client (ignored once closed)."""
        self.connection.send_bytes(data)

    def commands(self) -> list[str]:
        """The commands received so far, in order."""
        return self.connection.commands()

    def close(self) -> None:
        """Close the connection (and wait until it is closed)."""
        self.connection.close()


class FakeBroker:
    """A TestBroker on loopback, scripted; ``peers`` are its connections, in order."""

    def __init__(self, script: Script | None = None, *, family: int = socket.AF_INET) -> None:
        self.script = script or Script()
        self.host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.broker = TestBroker(_core(self.script), host=self.host).start()
        self.port = self.broker.port
        self._peers: dict[int, Peer] = {}

    @property
    def uri(self) -> str:
        """``tcp://host:port`` of this broker."""
        return self.broker.uri

    @property
    def peers(self) -> list[Peer]:
        """Every connection accepted so far, in order."""
        return [
            self._peers.setdefault(connection.number, Peer(connection))
            for connection in self.broker.accepted
        ]

    def stop(self) -> None:
        """Stop listening and close every connection."""
        self.broker.stop()

    def wait_for_peers(self, count: int, timeout: float = 5.0) -> list[Peer]:
        """Wait until *count* connections were accepted."""
        try:
            self.broker.wait_for_connections(count, timeout)
        except TimeoutError as exc:
            raise AssertionError(str(exc)) from None
        return self.peers

    def wait_for_command(self, command: str, peer: int = 0, timeout: float = 5.0) -> Frame:
        """Wait until the *peer*-th connection received *command*; return that frame."""
        try:
            return self.broker.wait_for_command(command, connection=peer + 1, timeout=timeout)
        except TimeoutError:
            msg = f"no {command} on connection {peer}"
            raise AssertionError(msg) from None

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
    """Start brokers for a test; all are stopped after it."""
    maker = MakeBroker()
    yield maker
    for broker in maker.started:
        broker.stop()

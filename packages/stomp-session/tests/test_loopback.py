"""The session against a tiny scripted broker built from stomp-frame and stomp-commands.

The broker keeps queues, subscriptions, pending acks, transactions and receipts just
enough to check what the client writes; a fake clock drives the heart-beats.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from stomp_commands import ALL_VERSIONS
from stomp_frame import Frame, HeartBeat, Parser, Version, serialize
from stomp_session import (
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    LocalProtocolError,
    MessageReceived,
    Output,
    PeerDead,
    ReceiptReceived,
    Session,
    State,
    TransactionAborted,
)


@dataclass
class Delivery:
    subscription: str
    message_id: str
    ack_id: str
    body: bytes


@dataclass
class ScriptedBroker:
    """A minimal STOMP server for one connection: parses client bytes, answers with bytes."""

    heart_beat: tuple[int, int] = (0, 0)
    versions: tuple[Version, ...] = ALL_VERSIONS
    version: Version = Version.V1_0
    parser: Parser = field(default_factory=lambda: Parser(Version.V1_0))
    received: list[Frame] = field(default_factory=list)
    beats: int = 0
    subscriptions: dict[str, tuple[str, str]] = field(default_factory=dict)
    unacked: dict[str, Delivery] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    nacked: list[str] = field(default_factory=list)
    transactions: dict[str, list[Frame]] = field(default_factory=dict)
    queues: dict[str, list[bytes]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def feed(self, data: bytes) -> bytes:
        """Read what the client wrote; return the bytes the broker answers."""
        out: list[bytes] = []
        self.parser.receive_data(data)
        for item in self.parser.events():
            if isinstance(item, HeartBeat):
                self.beats += 1
                continue
            self.received.append(item)
            out.append(self.handle(item))
        return b"".join(out)

    def write(self, frame: Frame) -> bytes:
        return serialize(frame, self.version)

    def handle(self, frame: Frame) -> bytes:
        command = frame.command
        answer = b""
        if command in ("CONNECT", "STOMP"):
            offered = (frame.get("accept-version") or "1.0").split(",")
            self.version = max(
                (v for v in self.versions if v.value in offered), key=ALL_VERSIONS.index
            )
            self.parser.version = self.version
            headers = [("version", self.version.value), ("server", "scripted/1")]
            headers.append(("heart-beat", f"{self.heart_beat[0]},{self.heart_beat[1]}"))
            return self.write(Frame("CONNECTED", headers))
        tx = frame.get("transaction")
        if tx is not None and command in ("SEND", "ACK", "NACK"):
            if tx not in self.transactions:
                return self.write(Frame("ERROR", {"message": "Bad transaction"}))
            self.transactions[tx].append(frame)
        elif command == "SEND":
            answer = self.deliver(frame.get("destination", ""), frame.body)
        elif command == "SUBSCRIBE":
            sub_id = frame.get("id", frame.get("destination", ""))
            self.subscriptions[sub_id] = (frame.get("destination", ""), frame.get("ack", "auto"))
        elif command == "UNSUBSCRIBE":
            del self.subscriptions[frame.get("id", "")]
        elif command in ("ACK", "NACK"):
            self.settle(frame)
        elif command == "BEGIN":
            self.transactions[frame.get("transaction", "")] = []
        elif command == "COMMIT":
            for held in self.transactions.pop(frame.get("transaction", "")):
                if held.command == "SEND":
                    answer += self.deliver(held.get("destination", ""), held.body)
                else:
                    self.settle(held)
        elif command == "ABORT":
            del self.transactions[frame.get("transaction", "")]
        receipt = frame.get("receipt")
        if receipt is not None:
            answer += self.write(Frame("RECEIPT", {"receipt-id": receipt}))
        return answer

    def settle(self, frame: Frame) -> None:
        if self.version is Version.V1_2:
            key = frame.get("id", "")
        else:
            key = frame.get("message-id", "")
            if self.version is Version.V1_1:
                assert frame.get("subscription") == self.unacked[key].subscription
        delivery = self.unacked.pop(key)
        (self.acked if frame.command == "ACK" else self.nacked).append(delivery.message_id)

    def deliver(self, destination: str, body: bytes) -> bytes:
        for sub_id, (dest, mode) in self.subscriptions.items():
            if dest == destination:
                n = next(self.ids)
                delivery = Delivery(sub_id, f"ID:scripted-{n}:1", f"ack:{n}", body)
                headers = [
                    ("subscription", sub_id),
                    ("destination", destination),
                    ("message-id", delivery.message_id),
                ]
                if mode != "auto":
                    key = delivery.ack_id if self.version is Version.V1_2 else delivery.message_id
                    self.unacked[key] = delivery
                    if self.version is Version.V1_2:
                        headers.append(("ack", delivery.ack_id))
                return self.write(Frame("MESSAGE", headers, body))
        self.queues.setdefault(destination, []).append(body)
        return b""


class Loop:
    """Wires a session to a broker, with a fake clock; collects events."""

    def __init__(self, session: Session, broker: ScriptedBroker) -> None:
        self.session = session
        self.broker = broker
        self.now = 0.0
        self.events: list[Event] = []

    def output(self, out: Output) -> None:
        self.events += out.events
        if out.data:
            self.write(out.data)

    def write(self, data: bytes) -> None:
        answer = self.broker.feed(data)
        if answer:
            self.output(self.session.receive_data(answer, self.now))

    def connect(self) -> Connected:
        self.write(self.session.connect(self.now))
        event = self.events[-1]
        assert isinstance(event, Connected)
        return event

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every deadline on the way, as a client's timer would."""
        end = self.now + seconds
        while (deadline := self.session.next_deadline()) is not None and deadline <= end:
            self.now = deadline
            self.output(self.session.handle_timer(self.now))
        self.now = end


def messages(events: list[Event]) -> list[MessageReceived]:
    return [e for e in events if isinstance(e, MessageReceived)]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_connect_subscribe_send_and_ack_on_every_version(version: Version) -> None:
    loop = Loop(Session(host="/", versions=(version,)), ScriptedBroker())
    assert loop.connect().version is version
    sub, data = loop.session.subscribe("/queue/a", id="s1", ack="client")
    loop.write(data)
    loop.write(loop.session.send("/queue/a", b"one"))
    (message,) = messages(loop.take())
    assert message.body == b"one"
    assert message.subscription == sub
    loop.write(loop.session.ack(message))
    assert loop.broker.acked == [message.message.message_id]
    assert loop.broker.unacked == {}


@pytest.mark.parametrize("version", [Version.V1_1, Version.V1_2])
def test_nack_reaches_the_broker_for_the_right_message(version: Version) -> None:
    loop = Loop(Session(host="/", versions=(version,)), ScriptedBroker())
    loop.connect()
    loop.write(loop.session.subscribe("/queue/a", ack="client-individual")[1])
    loop.write(loop.session.send("/queue/a", b"1"))
    loop.write(loop.session.send("/queue/a", b"2"))
    first, second = messages(loop.take())
    loop.write(loop.session.nack(second))
    loop.write(loop.session.ack(first))
    assert loop.broker.nacked == [second.message.message_id]
    assert loop.broker.acked == [first.message.message_id]


def test_receipts_resolve_through_the_broker() -> None:
    loop = Loop(Session(host="/"), ScriptedBroker())
    loop.connect()
    loop.take()
    loop.write(loop.session.send("/queue/nowhere", b"x", receipt="r-1"))
    assert loop.take() == [ReceiptReceived(receipt_id="r-1", command="SEND")]
    assert loop.session.pending_receipts == {}


def test_a_transaction_delivers_and_acks_only_at_commit() -> None:
    loop = Loop(Session(host="/"), ScriptedBroker())
    loop.connect()
    loop.write(loop.session.subscribe("/queue/a", id="s", ack="client")[1])
    loop.write(loop.session.send("/queue/a", b"before"))
    (before,) = messages(loop.take())
    tx, data = loop.session.begin()
    loop.write(data)
    loop.write(loop.session.send("/queue/a", b"inside", transaction=tx))
    loop.write(loop.session.ack(before, transaction=tx))
    assert messages(loop.take()) == []
    assert loop.broker.acked == []
    loop.write(loop.session.commit(tx, receipt="c"))
    events = loop.take()
    assert [m.body for m in messages(events)] == [b"inside"]
    assert ReceiptReceived(receipt_id="c", command="COMMIT") in events
    assert loop.broker.acked == [before.message.message_id]


def test_an_aborted_transaction_delivers_nothing() -> None:
    loop = Loop(Session(host="/"), ScriptedBroker())
    loop.connect()
    loop.write(loop.session.subscribe("/queue/a")[1])
    tx, data = loop.session.begin("t")
    loop.write(data)
    loop.write(loop.session.send("/queue/a", b"x", transaction=tx))
    loop.write(loop.session.abort(tx))
    assert messages(loop.take()) == []
    assert loop.broker.transactions == {}


def test_an_error_from_the_broker_fails_a_receipt_but_keeps_the_connection() -> None:
    broker = ScriptedBroker()
    loop = Loop(Session(host="/"), broker)
    loop.connect()
    loop.take()
    loop.write(loop.session.begin("t")[1])
    broker.transactions.clear()  # the broker forgets it: the next frame in it is refused
    loop.write(loop.session.send("/queue/a", b"x", transaction="t"))
    (error,) = loop.take()
    assert isinstance(error, ErrorReceived)
    assert error.message == "Bad transaction"
    assert loop.session.state is State.CONNECTED


def test_heart_beats_flow_both_ways_with_a_fake_clock() -> None:
    broker = ScriptedBroker(heart_beat=(1000, 1000))
    loop = Loop(Session(host="/", heart_beat=(500, 2000)), broker)
    event = loop.connect()
    # Client sends every max(500, 1000) ms; expects the broker every max(2000, 1000) ms.
    assert event.heart_beat == (1000, 2000)
    for _ in range(10):
        loop.advance(1.0)
        loop.output(loop.session.receive_data(b"\n", loop.now))  # the broker's beat
    assert broker.beats == 10
    assert loop.session.state is State.CONNECTED
    assert not loop.take()[1:]


def test_a_silent_broker_is_declared_dead() -> None:
    broker = ScriptedBroker(heart_beat=(1000, 0))
    loop = Loop(Session(host="/", heart_beat=(0, 1000), heart_beat_grace=2.5), broker)
    loop.connect()
    loop.take()
    loop.advance(2.4)
    assert loop.session.state is State.CONNECTED
    loop.advance(0.2)
    (dead,) = loop.take()
    assert isinstance(dead, PeerDead)
    assert dead.silent_for == pytest.approx(2.5)
    assert loop.session.state.value == "closed"


def test_reconnect_replays_subscriptions_and_refuses_stale_acks() -> None:
    session = Session(host="/", heart_beat=(1000, 1000))
    loop = Loop(session, ScriptedBroker(heart_beat=(1000, 1000)))
    loop.connect()
    _, first = session.subscribe("/queue/a", id="a", ack="client", headers={"selector": "x=1"})
    sub_b, second = session.subscribe("/queue/b")
    loop.write(first)
    loop.write(second)
    loop.write(session.send("/queue/a", b"m"))
    (old,) = messages(loop.take())
    tx, data = session.begin()
    loop.write(data)
    original = [f for f in loop.broker.received if f.command == "SUBSCRIBE"]

    # The broker vanishes: the client's timer finds it dead, the client closes the socket.
    loop.advance(10.0)
    assert session.state is State.CLOSED
    lost = session.connection_lost(loop.now)
    assert lost.events == (TransactionAborted(transaction=tx),)

    new_broker = ScriptedBroker()
    loop.broker = new_broker
    connected = loop.connect()
    assert connected.resubscribed == ("a", sub_b.id)
    replayed = [f for f in new_broker.received if f.command == "SUBSCRIBE"]
    assert replayed == original
    assert new_broker.subscriptions == {
        "a": ("/queue/a", "client"),
        replayed[1].get("id"): ("/queue/b", "auto"),
    }
    with pytest.raises(LocalProtocolError, match="earlier connection"):
        session.ack(old)
    loop.write(session.send("/queue/b", b"after"))
    assert [m.body for m in messages(loop.take())] == [b"after"]


def test_clean_disconnect_through_the_broker() -> None:
    loop = Loop(Session(host="/"), ScriptedBroker())
    loop.connect()
    loop.take()
    loop.write(loop.session.disconnect(receipt="bye"))
    assert loop.take() == [Disconnected(receipt_id="bye")]
    assert loop.session.state is State.CLOSED

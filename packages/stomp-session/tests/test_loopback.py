"""The session against the project's test broker (stomp_testing.BrokerCore), driven directly.

Bytes go from the session to a connection of the broker's sans-I/O core and back; the
broker keeps queues, subscriptions, pending acks, transactions and receipts, so a test
checks what the client wrote by what the broker did; a fake clock drives the heart-beats.
"""

from __future__ import annotations

import pytest

from stomp_commands import ALL_VERSIONS
from stomp_frame import Version
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
from stomp_testing import BrokerCore


class Loop:
    """Wires a session to one connection of the test broker's core, with a fake clock.

    The broker's own timers are not run: a test that wants its heart-beats writes them.
    """

    def __init__(self, session: Session, broker: BrokerCore) -> None:
        self.session = session
        self.now = 0.0
        self.events: list[Event] = []
        self.attach(broker)

    def attach(self, broker: BrokerCore) -> None:
        """Use a new connection to *broker* from now on."""
        self.broker = broker
        self.connection = broker.open_connection(self.now)

    def output(self, out: Output) -> None:
        self.events += out.events
        if out.data:
            self.write(out.data)

    def write(self, data: bytes) -> None:
        self.connection.receive_data(data, self.now)
        answer = self.connection.data_to_send()
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


def unacked_ids(broker: BrokerCore) -> list[str | None]:
    """The message ids the broker holds as delivered and not acknowledged."""
    return [frame.get("message-id") for frame in broker.unacknowledged()]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_connect_subscribe_send_and_ack_on_every_version(version: Version) -> None:
    loop = Loop(Session(host="/", versions=(version,)), BrokerCore())
    assert loop.connect().version is version
    sub, data = loop.session.subscribe("/queue/a", id="s1", ack="client")
    loop.write(data)
    loop.write(loop.session.send("/queue/a", b"one"))
    (message,) = messages(loop.take())
    assert message.body == b"one"
    assert message.subscription == sub
    assert unacked_ids(loop.broker) == [message.message.message_id]
    loop.write(loop.session.ack(message))
    assert len(loop.broker.frames("ACK")) == 1
    assert unacked_ids(loop.broker) == []  # the broker took it as the ack of that message
    assert loop.take() == []  # no ERROR


@pytest.mark.parametrize("version", [Version.V1_1, Version.V1_2])
def test_nack_reaches_the_broker_for_the_right_message(version: Version) -> None:
    loop = Loop(Session(host="/", versions=(version,)), BrokerCore())
    loop.connect()
    loop.write(loop.session.subscribe("/queue/a", ack="client-individual")[1])
    loop.write(loop.session.send("/queue/a", b"1"))
    loop.write(loop.session.send("/queue/a", b"2"))
    first, second = messages(loop.take())
    loop.write(loop.session.nack(second))
    (again,) = messages(loop.take())  # the broker redelivers what was nacked, at once
    assert again.message.message_id == second.message.message_id
    assert again.message.redelivered
    loop.write(loop.session.ack(first))
    assert unacked_ids(loop.broker) == [second.message.message_id]  # only the redelivery


def test_receipts_resolve_through_the_broker() -> None:
    loop = Loop(Session(host="/"), BrokerCore())
    loop.connect()
    loop.take()
    loop.write(loop.session.send("/queue/nowhere", b"x", receipt="r-1"))
    assert loop.take() == [ReceiptReceived(receipt_id="r-1", command="SEND")]
    assert loop.session.pending_receipts == {}


def test_a_transaction_delivers_and_acks_only_at_commit() -> None:
    loop = Loop(Session(host="/"), BrokerCore())
    loop.connect()
    loop.write(loop.session.subscribe("/queue/a", id="s", ack="client")[1])
    loop.write(loop.session.send("/queue/a", b"before"))
    (before,) = messages(loop.take())
    tx, data = loop.session.begin()
    loop.write(data)
    loop.write(loop.session.send("/queue/a", b"inside", transaction=tx))
    loop.write(loop.session.ack(before, transaction=tx))
    assert messages(loop.take()) == []
    assert unacked_ids(loop.broker) == [before.message.message_id]
    loop.write(loop.session.commit(tx, receipt="c"))
    events = loop.take()
    assert [m.body for m in messages(events)] == [b"inside"]
    assert ReceiptReceived(receipt_id="c", command="COMMIT") in events
    assert [f.body for f in loop.broker.unacknowledged()] == [b"inside"]  # "before" is acked


def test_an_aborted_transaction_delivers_nothing() -> None:
    loop = Loop(Session(host="/"), BrokerCore())
    loop.connect()
    loop.write(loop.session.subscribe("/queue/a")[1])
    tx, data = loop.session.begin("t")
    loop.write(data)
    loop.write(loop.session.send("/queue/a", b"x", transaction=tx))
    loop.write(loop.session.abort(tx))
    assert messages(loop.take()) == []
    assert loop.connection.transactions == ()
    assert loop.broker.queued("/queue/a") == ()


def test_an_error_from_the_broker_fails_a_receipt_but_keeps_the_connection() -> None:
    loop = Loop(Session(host="/"), BrokerCore())
    loop.connect()
    loop.take()
    loop.session.begin("t")  # the BEGIN never reaches the broker: the next frame in it is refused
    loop.write(loop.session.send("/queue/a", b"x", transaction="t"))
    (error,) = loop.take()
    assert isinstance(error, ErrorReceived)
    assert error.message == "Bad transaction: 't' is not open"
    assert loop.session.state is State.CONNECTED


def test_heart_beats_flow_both_ways_with_a_fake_clock() -> None:
    broker = BrokerCore(heart_beat=(1000, 1000))
    loop = Loop(Session(host="/", heart_beat=(500, 2000)), broker)
    event = loop.connect()
    # Client sends every max(500, 1000) ms; expects the broker every max(2000, 1000) ms.
    assert event.heart_beat == (1000, 2000)
    for _ in range(10):
        loop.advance(1.0)
        loop.output(loop.session.receive_data(b"\n", loop.now))  # the broker's beat
    assert loop.connection.beats_received == 10
    assert loop.session.state is State.CONNECTED
    assert not loop.take()[1:]


def test_a_silent_broker_is_declared_dead() -> None:
    broker = BrokerCore(heart_beat=(1000, 0))
    broker.faults.stop_heart_beating()
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
    loop = Loop(session, BrokerCore(heart_beat=(1000, 1000)))
    loop.connect()
    _, first = session.subscribe("/queue/a", id="a", ack="client", headers={"selector": "x=1"})
    sub_b, second = session.subscribe("/queue/b")
    loop.write(first)
    loop.write(second)
    loop.write(session.send("/queue/a", b"m"))
    (old,) = messages(loop.take())
    tx, data = session.begin()
    loop.write(data)
    original = loop.broker.frames("SUBSCRIBE")

    # The broker vanishes: the client's timer finds it dead, the client closes the socket.
    loop.advance(10.0)
    assert session.state is State.CLOSED
    lost = session.connection_lost(loop.now)
    assert lost.events == (TransactionAborted(transaction=tx),)

    new_broker = BrokerCore()
    loop.attach(new_broker)
    connected = loop.connect()
    assert connected.resubscribed == ("a", sub_b.id)
    replayed = new_broker.frames("SUBSCRIBE")
    assert replayed == original
    assert loop.connection.subscriptions == {"a": "/queue/a", replayed[1].get("id"): "/queue/b"}
    with pytest.raises(LocalProtocolError, match="earlier connection"):
        session.ack(old)
    loop.write(session.send("/queue/b", b"after"))
    assert [m.body for m in messages(loop.take())] == [b"after"]
    new_broker.publish("/queue/a", b"client-acked")
    assert [f.body for f in new_broker.unacknowledged()] == [b"client-acked"]  # "a" is ack:client


def test_clean_disconnect_through_the_broker() -> None:
    loop = Loop(Session(host="/"), BrokerCore())
    loop.connect()
    loop.take()
    loop.write(loop.session.disconnect(receipt="bye"))
    assert loop.take() == [Disconnected(receipt_id="bye")]
    assert loop.session.state is State.CLOSED
    assert loop.connection.should_close

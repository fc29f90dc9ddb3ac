# mypy: disable-error-code="comparison-overlap,unreachable"
# (mypy narrows an attribute read before a call changed it: these checks are reachable)
"""The simulated broker on its own: negotiation, queues and topics, acks, redelivery, faults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import ClientFactory, Protocol

from stomp_frame import Frame, Parser, Version, serialize
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor


class Raw(Protocol):
    """A bare STOMP peer: writes frames, parses what comes back."""

    def __init__(self) -> None:
        self.parser = Parser(Version.V1_0)
        self.frames: list[Frame] = []
        self.beats = 0
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.parser.receive_data(data)
        for event in self.parser.events():
            if isinstance(event, Frame):
                self.frames.append(event)
                if event.command == "CONNECTED":
                    self.parser.version = Version(event.get("version", "1.0"))
            else:
                self.beats += 1

    def connectionLost(self, reason: object = None) -> None:
        self.lost = True

    def send(self, command: str, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        version = self.parser.version
        cast(Any, self.transport).write(serialize(Frame(command, headers or {}, body), version))

    def last(self, command: str) -> Frame:
        return [f for f in self.frames if f.command == command][-1]


class RawFactory(ClientFactory):
    def __init__(self) -> None:
        self.protocol_made = Raw()

    def buildProtocol(self, addr: IAddress | None) -> Raw:
        return self.protocol_made


Opener = Callable[..., Raw]


@pytest.fixture
def open_raw(reactor: SimulatedReactor, broker: SimulatedBroker) -> Opener:
    def open_raw(version: str | None = "1.2", **headers: str) -> Raw:
        factory = RawFactory()
        reactor.connectTCP("mq", 61613, factory)
        reactor.flush()
        raw = factory.protocol_made
        connect = {"host": "mq", **headers}
        if version is not None:
            connect["accept-version"] = version
        raw.send("CONNECT", connect)
        reactor.flush()
        return raw

    return open_raw


def test_negotiation_picks_the_newest_common_version(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    assert open_raw("1.0,1.1").last("CONNECTED").get("version") == "1.1"
    assert open_raw(None).last("CONNECTED").get("version") == "1.0"
    broker.versions = (Version.V1_0,)
    assert open_raw("1.0,1.2").last("CONNECTED").get("version") == "1.0"
    refused = open_raw("1.2")
    error = refused.last("ERROR")
    assert error.get("version") == "1.0"
    reactor.flush()
    assert refused.lost


def test_credentials_and_vhosts_are_checked(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    broker.users = {"u": "p"}
    broker.vhosts = frozenset({"/"})
    assert open_raw(login="u", passcode="x").last("ERROR").get("message") == "Bad credentials"
    denied = open_raw(login="u", passcode="p").last("ERROR").get("message")
    assert denied == "Virtual host 'mq' access denied"
    factory = RawFactory()
    reactor.connectTCP("mq", 61613, factory)
    reactor.flush()
    factory.protocol_made.send("CONNECT", {"host": "/", "login": "u", "passcode": "p"})
    reactor.flush()
    assert factory.protocol_made.last("CONNECTED").get("version") == "1.0"


def test_frames_before_connect_and_garbage_are_refused_and_closed(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    factory = RawFactory()
    reactor.connectTCP("mq", 61613, factory)
    reactor.flush()
    raw = factory.protocol_made
    raw.send("SEND", {"destination": "/queue/a"})
    reactor.flush()
    assert raw.last("ERROR").get("message") == "SEND before CONNECT"
    assert raw.lost
    raw = open_raw()
    cast(Any, raw.transport).write(b"\x00\x01 nonsense\n\n\0")
    reactor.flush()
    assert raw.last("ERROR").get("message", "").startswith("malformed frame")
    raw = open_raw()
    raw.send("CONNECT", {"accept-version": "1.2", "host": "mq"})
    reactor.flush()
    assert raw.last("ERROR").get("message") == "already connected"
    raw = open_raw()
    raw.send("MESSAGE", {"destination": "/queue/a"})
    reactor.flush()
    assert raw.lost


def test_bad_frames_get_an_error_with_the_receipt_id_and_the_connection_stays(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    raw = open_raw()
    checks = [
        ("SEND", {}, "Missing destination"),
        ("SUBSCRIBE", {"id": "1"}, "Missing destination"),
        ("SUBSCRIBE", {"destination": "/queue/a"}, "Missing id"),
        ("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "x"}, "Invalid ack mode 'x'"),
        ("UNSUBSCRIBE", {"id": "9"}, "No subscription '9'"),
        ("ACK", {"id": "nope"}, "Unexpected ACK for 'nope'"),
        ("BEGIN", {}, "Missing transaction"),
        ("COMMIT", {"transaction": "t"}, "Bad transaction: 't' is not open"),
        ("ABORT", {"transaction": "t"}, "Bad transaction: 't' is not open"),
        (
            "SEND",
            {"destination": "/queue/a", "transaction": "t"},
            "Bad transaction: 't' is not open",
        ),
    ]
    for number, (command, headers, message) in enumerate(checks):
        raw.send(command, {**headers, "receipt": f"r{number}"})
        reactor.flush()
        error = raw.last("ERROR")
        assert (error.get("message"), error.get("receipt-id")) == (message, f"r{number}")
    raw.send("BEGIN", {"transaction": "t"})
    raw.send("BEGIN", {"transaction": "t", "receipt": "again"})
    raw.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1"})
    raw.send("SUBSCRIBE", {"destination": "/queue/b", "id": "1", "receipt": "dup"})
    reactor.flush()
    assert raw.last("ERROR").get("message") == "Duplicate subscription id '1'"
    assert not raw.lost


def test_queues_go_round_robin_and_topics_to_everyone(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    one, two = open_raw(), open_raw()
    for raw in (one, two):
        raw.send("SUBSCRIBE", {"destination": "/queue/q", "id": "q", "ack": "auto"})
        raw.send("SUBSCRIBE", {"destination": "/topic/t", "id": "t", "ack": "auto"})
    reactor.flush()
    for n in range(4):
        broker.publish("/queue/q", str(n).encode())
    broker.publish("/topic/t", b"all", {"kind": "news"})
    broker.publish("/topic/nobody", b"gone")
    reactor.flush()

    def got(raw: Raw, destination: str) -> list[bytes]:
        return [f.body for f in raw.frames if f.get("destination") == destination]

    assert got(one, "/queue/q") == [b"0", b"2"]
    assert got(two, "/queue/q") == [b"1", b"3"]
    assert got(one, "/topic/t") == got(two, "/topic/t") == [b"all"]
    assert one.last("MESSAGE").get("kind") == "news"
    assert broker.queued("/topic/nobody") == ()


def test_client_acks_are_cumulative_and_individual_ones_are_not(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    raw = open_raw()
    raw.send("SUBSCRIBE", {"destination": "/queue/c", "id": "c", "ack": "client"})
    raw.send("SUBSCRIBE", {"destination": "/queue/i", "id": "i", "ack": "client-individual"})
    reactor.flush()
    for n in range(3):
        broker.publish("/queue/c", b"c%d" % n)
        broker.publish("/queue/i", b"i%d" % n)
    reactor.flush()
    messages = {f.body: f for f in raw.frames if f.command == "MESSAGE"}
    raw.send("ACK", {"id": messages[b"c1"].get("ack", "")})
    raw.send("ACK", {"id": messages[b"i1"].get("ack", "")})
    reactor.flush()
    assert sorted(f.body for f in broker.unacknowledged()) == [b"c2", b"i0", b"i2"]


def test_unacked_messages_come_back_redelivered_and_dead_letter_past_the_limit(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    broker.redelivery_limit = 1
    broker.publish("/queue/a", b"x", {"k": "v"})
    for expected in ("false", "true"):
        raw = open_raw()
        raw.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
        reactor.flush()
        assert raw.last("MESSAGE").get("redelivered", "false") == expected
        raw.send("DISCONNECT", {"receipt": "bye"})
        reactor.flush()
        assert raw.last("RECEIPT").get("receipt-id") == "bye"
        assert raw.lost
    assert broker.queued("/queue/a") == ()
    (dead,) = broker.queued("/queue/DLQ")
    assert dead.get("original-destination") == "/queue/a"
    assert dead.get("k") == "v"


def test_nack_requeues_but_not_on_1_0(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    raw = open_raw("1.1")
    raw.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client-individual"})
    broker.publish("/queue/a", b"x")
    reactor.flush()
    first = raw.last("MESSAGE")
    assert not first.has("ack")  # the ack header is 1.2's
    raw.send("NACK", {"message-id": first.get("message-id", ""), "subscription": "1"})
    reactor.flush()
    again = raw.last("MESSAGE")
    assert (again.get("message-id"), again.get("redelivered")) == (first.get("message-id"), "true")
    old = open_raw("1.0")
    old.send("SUBSCRIBE", {"destination": "/queue/b", "ack": "client"})
    broker.publish("/queue/b", b"y")
    reactor.flush()
    message = old.last("MESSAGE")
    assert not message.has("subscription")  # no id was given
    # STOMP 1.0 has no NACK: a 1.0 parser reads it as an unknown command.
    nack = b"NACK\nmessage-id:" + message.get("message-id", "").encode() + b"\n\n\0"
    cast(Any, old.transport).write(nack)
    reactor.flush()
    error = old.last("ERROR").get("message") or ""
    assert "malformed frame" in error
    assert "NACK" in error
    assert broker.unacknowledged() == (again,) or len(broker.unacknowledged()) == 1


def test_transactions_apply_sends_and_acks_at_commit(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    raw = open_raw()
    raw.send("SUBSCRIBE", {"destination": "/queue/in", "id": "1", "ack": "client-individual"})
    broker.publish("/queue/in", b"x")
    reactor.flush()
    token = raw.last("MESSAGE").get("ack", "")
    raw.send("BEGIN", {"transaction": "t"})
    raw.send("SEND", {"destination": "/queue/out", "transaction": "t"}, b"y")
    raw.send("ACK", {"id": token, "transaction": "t"})
    reactor.flush()
    assert broker.queued("/queue/out") == ()
    assert len(broker.unacknowledged()) == 1
    raw.send("COMMIT", {"transaction": "t", "receipt": "c"})
    reactor.flush()
    assert [f.body for f in broker.queued("/queue/out")] == [b"y"]
    assert broker.unacknowledged() == ()
    raw.send("BEGIN", {"transaction": "u"})
    raw.send("NACK", {"id": token, "transaction": "u", "receipt": "gone"})
    reactor.flush()
    assert raw.last("ERROR").get("message", "").startswith("Unexpected NACK")


def test_heart_beats_both_ways(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    raw = open_raw(**{"heart-beat": "1000,500"})
    assert raw.last("CONNECTED").get("heart-beat") == "500,1000"
    reactor.advance(1.6)
    assert raw.beats == 3  # every 500 ms
    cast(Any, raw.transport).write(b"\n")
    reactor.advance(2.9)
    assert not raw.lost
    reactor.advance(0.6)  # silent for more than 3 x 1000 ms (checked each second): dropped
    assert raw.lost
    quiet = open_raw(**{"heart-beat": "0,500"})
    broker.faults.stop_heart_beating()
    reactor.advance(5)
    assert quiet.beats == 0
    fixed = SimulatedBroker(heart_beat=(0, 0))
    fixed.listen(1, interface="fixed", reactor=reactor)
    factory = RawFactory()
    reactor.connectTCP("fixed", 1, factory)
    reactor.flush()
    factory.protocol_made.send("CONNECT", {"accept-version": "1.2", "heart-beat": "9,9"})
    reactor.flush()
    assert factory.protocol_made.last("CONNECTED").get("heart-beat") == "0,0"


def test_faults_drop_on_the_nth_frame_and_error_on_send(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    with pytest.raises(ValueError, match="nth"):
        broker.faults.drop_on("SEND", nth=0)
    broker.faults.drop_on("SEND", nth=2)
    raw = open_raw()
    raw.send("SEND", {"destination": "/queue/a"}, b"1")
    reactor.flush()
    assert not raw.lost
    raw.send("SEND", {"destination": "/queue/a"}, b"2")
    reactor.flush()
    assert raw.lost
    assert [f.body for f in broker.queued("/queue/a")] == [b"1"]
    broker.faults.error_on_send("No", destination="/queue/x", close=True)
    raw = open_raw()
    raw.send("SEND", {"destination": "/queue/y"})
    raw.send("SEND", {"destination": "/queue/x", "receipt": "r"})
    reactor.flush()
    assert raw.last("ERROR").get("receipt-id") == "r"
    assert raw.lost
    assert len(broker.queued("/queue/y")) == 1


def test_inspection_and_stopping(
    reactor: SimulatedReactor, broker: SimulatedBroker, open_raw: Opener
) -> None:
    raw = open_raw()
    assert repr(broker) == "<SimulatedBroker 'mq' connections=1>"
    (connection,) = broker.connections
    assert repr(connection) == "<SimulatedConnection version=1.2 open=True>"
    assert connection.connect_frame is not None
    assert [f.command for f in connection.received] == ["CONNECT"]
    connection.close()
    reactor.flush()
    assert raw.lost
    assert not connection.open
    reactor.run_until(broker.stop_listening())
    assert not reactor.listening("mq", 61613)
    factory = RawFactory()
    reactor.connectTCP("mq", 61613, factory)
    reactor.flush()
    assert factory.protocol_made.frames == []
    other = SimulatedBroker()
    port = other.listen(0, interface="any", reactor=reactor)
    assert port >= 40000
    assert reactor.listening("any", port)
    with pytest.raises(OSError, match="already in use"):
        other.listen(port, interface="any", reactor=reactor)

# mypy: disable-error-code="comparison-overlap,unreachable"
# (mypy narrows an attribute read before a call changed it: these checks are reachable)
"""Heart-beats on reactor timers: they go out on time, and a silent broker is found out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol

from stomp_frame import Parser
from stomp_twisted import Client, ClientState, ConnectionLost, WaitTimeout
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]


class Recorder(Protocol):
    """A broker that answers CONNECT with a fixed CONNECTED and records what arrives when."""

    def __init__(self, reactor: SimulatedReactor, connected: bytes) -> None:
        self.reactor = reactor
        self.answer = connected
        self.arrivals: list[tuple[float, bytes]] = []

    def dataReceived(self, data: bytes) -> None:
        self.arrivals.append((self.reactor.seconds(), data))
        if data.startswith(b"CONNECT"):
            cast(Any, self.transport).write(self.answer)

    def beats(self) -> list[float]:
        return [at for at, data in self.arrivals if data == b"\n"]


class RecorderFactory(Factory):
    def __init__(self, reactor: SimulatedReactor, connected: bytes) -> None:
        self.reactor = reactor
        self.connected = connected
        self.built: list[Recorder] = []

    def buildProtocol(self, addr: IAddress | None) -> Recorder:
        protocol = Recorder(self.reactor, self.connected)
        self.built.append(protocol)
        return protocol


def test_heart_beats_go_out_at_the_negotiated_interval(
    reactor: SimulatedReactor, new_client: Maker
) -> None:
    # The client can send every 500 ms; the broker wants one every 1000 ms: max() wins.
    factory = RecorderFactory(reactor, b"CONNECTED\nversion:1.2\nheart-beat:0,1000\n\n\0")
    reactor.listenTCP(61613, factory, interface="mq")
    client = new_client(heart_beat=(500, 0))
    reactor.run_until(client.connect())
    reactor.advance(5.0)
    (server,) = factory.built
    assert server.beats() == [1.0, 2.0, 3.0, 4.0, 5.0]
    # Requests do not push beats back (the session schedules them from the last beat).
    reactor.run_until(client.send("/queue/a", b"x"))
    reactor.advance(1.0)
    assert server.beats()[-1] == 6.0


def test_no_heart_beats_when_either_side_declines(
    reactor: SimulatedReactor, new_client: Maker
) -> None:
    factory = RecorderFactory(reactor, b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0")
    reactor.listenTCP(61613, factory, interface="mq")
    client = new_client(heart_beat=(500, 500))
    reactor.run_until(client.connect())
    reactor.advance(30.0)
    assert factory.built[0].beats() == []
    assert client.state is ClientState.CONNECTED
    assert reactor.getDelayedCalls() == []  # no timer left running for nothing


def test_a_silent_broker_is_detected_within_the_grace(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    broker.heart_beat = (1000, 0)  # the broker promises a beat every second
    client = new_client(heart_beat=(0, 1000), auto_reconnect=False)
    reactor.run_until(client.connect())
    ended = client.disconnected
    reactor.advance(10.0)
    assert client.state is ClientState.CONNECTED  # it beats, so nothing happens
    broker.faults.stop_heart_beating()
    silent_since = reactor.seconds()  # its last beat came at 10.0
    with pytest.raises(ConnectionLost) as caught:
        reactor.run_until(ended)
    assert reactor.seconds() == pytest.approx(silent_since + 2.5)  # DEFAULT grace: 2.5 intervals
    cause = caught.value.cause
    assert isinstance(cause, ConnectionLost)
    assert str(cause) == "tcp://mq:61613 was silent for 2.5 s (the heart-beat limit is 2.5 s)"
    assert isinstance(cause.cause, WaitTimeout)
    assert str(cause.cause) == "no data from tcp://mq:61613 within 2.5 s"
    assert broker.connections == ()


def test_a_silent_broker_is_replaced_by_reconnecting(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    broker.heart_beat = (1000, 0)
    client = new_client("tcp://mq:61613?initialReconnectDelay=10", heart_beat=(0, 1000))
    reactor.run_until(client.connect())
    broker.faults.stop_heart_beating()
    reactor.advance(2.5)
    assert client.state is ClientState.RECONNECTING
    broker.faults.clear()
    reactor.advance(0.1)
    assert client.state is ClientState.CONNECTED
    assert len(broker.frames("CONNECT")) == 2


def test_the_grace_factor_is_configurable(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    broker.heart_beat = (1000, 0)
    client = new_client(heart_beat=(0, 1000), heart_beat_grace=1.5, auto_reconnect=False)
    reactor.run_until(client.connect())
    broker.faults.stop_heart_beating()
    with pytest.raises(ConnectionLost):
        reactor.run_until(client.disconnected)
    assert reactor.seconds() == pytest.approx(1.5)


def test_a_client_that_beats_is_kept_by_the_broker(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(heart_beat=(1000, 1000))
    reactor.run_until(client.connect())
    reactor.advance(60.0)
    assert client.state is ClientState.CONNECTED
    (connection,) = broker.connections
    assert connection.heart_beat == (1000, 1000)


def test_the_broker_side_parser_sees_only_beats_between_frames(
    reactor: SimulatedReactor, new_client: Maker
) -> None:
    factory = RecorderFactory(reactor, b"CONNECTED\nversion:1.2\nheart-beat:0,250\n\n\0")
    reactor.listenTCP(61613, factory, interface="mq")
    client = new_client(heart_beat=(250, 0))
    reactor.run_until(client.connect())
    reactor.run_until(client.send("/queue/a", b"body"))
    reactor.advance(1.0)
    parser = Parser()
    for _, data in factory.built[0].arrivals:
        parser.receive_data(data)
    events = list(parser.events())
    assert [getattr(e, "command", "beat") for e in events] == [
        "CONNECT",
        "SEND",
        "beat",
        "beat",
        "beat",
        "beat",
    ]
    assert factory.built[0].beats() == [0.25, 0.5, 0.75, 1.0]

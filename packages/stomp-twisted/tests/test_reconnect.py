# mypy: disable-error-code="comparison-overlap,unreachable"
# (mypy narrows an attribute read before a call changed it: these checks are reachable)
"""Auto-reconnect: failover after a drop, subscription replay, budgets, and the ends of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from twisted.internet.defer import Deferred

from stomp_frame import Frame
from stomp_session import MessageReceived
from stomp_twisted import (
    BrokerError,
    Client,
    ClientState,
    ConnectFailed,
    ConnectionLost,
)
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]
TWO = "failover:(tcp://a:61613,tcp://b:61613)?randomize=false&initialReconnectDelay=100"


@pytest.fixture
def pair(reactor: SimulatedReactor) -> tuple[SimulatedBroker, SimulatedBroker]:
    first, second = SimulatedBroker(name="a"), SimulatedBroker(name="b")
    first.listen(61613, interface="a", reactor=reactor)
    second.listen(61613, interface="b", reactor=reactor)
    return first, second


def subscribe_frames(broker: SimulatedBroker) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (f.get("id"), f.get("destination"), f.get("prefetch-count"))
        for f in broker.frames("SUBSCRIBE")
    ]


def test_reconnect_goes_to_the_next_broker_and_resubscribes(
    reactor: SimulatedReactor, pair: tuple[SimulatedBroker, SimulatedBroker], new_client: Maker
) -> None:
    first, second = pair
    client = new_client(TWO)
    reactor.run_until(client.connect())
    received: list[tuple[str, bytes]] = []

    def handler(message: MessageReceived) -> None:
        received.append((message.destination, message.body))

    subs = [
        reactor.run_until(client.subscribe(f"/queue/{name}", handler, max_in_flight=n))
        for n, name in enumerate("xyz", start=1)
    ]
    first.faults.drop_on("SEND")  # the first broker dies as a SEND comes in
    reactor.run_until(first.stop_listening())
    client.send("/queue/x", b"lost with the connection")
    reactor.flush()
    assert client.state is ClientState.RECONNECTING
    reactor.advance(0.1)  # the reconnect phase waits initialReconnectDelay first
    assert client.state is ClientState.CONNECTED
    assert str(client.broker) == "tcp://b:61613"
    assert subscribe_frames(second) == [
        (sub.id, sub.destination, str(sub.max_in_flight)) for sub in subs
    ]
    for name in "xyz":
        second.publish(f"/queue/{name}", name.encode())
    reactor.flush()
    assert sorted(received) == [("/queue/x", b"x"), ("/queue/y", b"y"), ("/queue/z", b"z")]


def test_a_drop_replays_subscriptions_on_the_same_broker(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("tcp://mq:61613?initialReconnectDelay=10")
    reactor.run_until(client.connect())
    received: list[bytes] = []
    topic = reactor.run_until(
        client.subscribe("/topic/t", lambda m: received.append(m.body), ack="auto", id="t1")
    )
    queue = reactor.run_until(
        client.subscribe("/queue/q", lambda m: received.append(m.body), headers={"selector": "x"})
    )
    broker.drop_connections()
    reactor.advance(0.01)
    assert client.state is ClientState.CONNECTED
    frames = broker.frames("SUBSCRIBE")
    assert [(f.get("id"), f.get("ack")) for f in frames] == [
        ("t1", "auto"),
        (queue.id, "client-individual"),
        ("t1", "auto"),
        (queue.id, "client-individual"),
    ]
    assert frames[1] == frames[3]  # exactly the same SUBSCRIBE
    assert frames[3].get("selector") == "x"
    broker.publish("/topic/t", b"t")
    broker.publish("/queue/q", b"q")
    reactor.flush()
    assert received == [b"t", b"q"]
    assert topic.active
    assert queue.active


def test_unacked_messages_of_the_lost_connection_are_redelivered_not_acked(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("tcp://mq:61613?initialReconnectDelay=10")
    reactor.run_until(client.connect())
    gates: list[tuple[MessageReceived, Deferred[None]]] = []

    async def handler(message: MessageReceived) -> None:
        gate: Deferred[None] = Deferred()
        gates.append((message, gate))
        await gate

    reactor.run_until(client.subscribe("/queue/a", handler))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    broker.drop_connections()
    reactor.advance(0.01)
    assert [(m.message.redelivered, m.body) for m, _ in gates] == [(False, b"x"), (True, b"x")]
    gates[0][1].callback(None)  # the old one finishes: its ack cannot go out
    reactor.flush()
    assert broker.frames("ACK") == []
    gates[1][1].callback(None)
    reactor.flush()
    assert len(broker.frames("ACK")) == 1
    assert broker.unacknowledged() == ()


def test_a_failover_broker_with_another_vhost_gets_the_subscriptions_again(
    reactor: SimulatedReactor, pair: tuple[SimulatedBroker, SimulatedBroker], new_client: Maker
) -> None:
    first, second = pair
    client = new_client(
        "failover:(tcp://a:61613,tcp://b:61613?vhost=other)?randomize=false", vhost="main"
    )
    reactor.run_until(client.connect())
    sub = reactor.run_until(client.subscribe("/queue/a", print, id="s1"))
    reactor.run_until(first.stop_listening())
    first.drop_connections()
    reactor.advance(1.0)
    assert str(client.broker) == "tcp://b:61613?vhost=other"
    assert second.frames("CONNECT")[0].get("host") == "other"
    (again,) = second.frames("SUBSCRIBE")
    assert again.get("id") == sub.id
    assert again.get("ack") == "client-individual"


def test_giving_up_reconnecting_ends_the_client_with_connection_lost(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("tcp://mq:61613?maxReconnectAttempts=2&initialReconnectDelay=100")
    reactor.run_until(client.connect())
    ended = client.disconnected
    reactor.run_until(broker.stop_listening())
    broker.drop_connections()
    with pytest.raises(ConnectFailed, match="gave up reconnecting") as caught:
        reactor.run_until(ended)
    assert caught.value.attempts == 2
    assert reactor.seconds() == pytest.approx(0.3)  # 100 ms, then 200 ms
    assert client.state is ClientState.CLOSED


def test_without_auto_reconnect_a_drop_ends_the_client(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(auto_reconnect=False)
    reactor.run_until(client.connect())
    broker.drop_connections()
    with pytest.raises(
        ConnectionLost, match="the connection was lost: tcp://mq:61613 closed the connection"
    ) as caught:
        reactor.run_until(client.disconnected)
    assert caught.value.cause is not None
    assert len(reactor.tcpClients) == 1


def test_an_error_answering_connect_during_a_reconnect_ends_the_client(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client()
    reactor.run_until(client.connect())
    broker.faults.error_on_connect("Bad CONNECT")
    broker.drop_connections()
    with pytest.raises(BrokerError, match="Bad CONNECT"):
        reactor.run_until(client.disconnected)


def test_a_protocol_failure_drops_the_connection_and_reconnects(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("tcp://mq:61613?initialReconnectDelay=10")
    reactor.run_until(client.connect())
    (connection,) = broker.connections
    cast(Any, connection.transport).write(b"GARBAGE\n\n\0")
    reactor.flush()
    assert client.state is ClientState.RECONNECTING
    reactor.advance(0.01)
    assert client.state is ClientState.CONNECTED


def test_an_unsolicited_error_while_reconnecting_is_not_possible_but_a_late_one_is_logged(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.withhold_receipts()
    sent = client.send("/queue/a", b"x", receipt=True, timeout=1)
    reactor.advance(1)
    assert sent.called
    sent.addErrback(lambda _: None)
    (connection,) = broker.connections
    receipt_id = broker.frames("SEND")[0].get("receipt", "")
    connection.write_frame(Frame("ERROR", {"message": "late", "receipt-id": receipt_id}))
    reactor.flush()
    assert client.state is ClientState.CONNECTED  # it answered a request: not fatal

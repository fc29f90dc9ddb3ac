# mypy: disable-error-code="comparison-overlap,unreachable"
# (mypy narrows an attribute read before a call changed it: these checks are reachable)
"""Edges: subscriptions across versions, failing receipts, shutdown overlaps, the test network."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, Protocol

from stomp_frame import Version
from stomp_session import MessageReceived
from stomp_twisted import (
    Client,
    ClientError,
    ClientState,
    InvalidRequest,
    NotConnected,
    WaitTimeout,
)
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]


def test_the_client_is_an_async_context_manager(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    async def scenario() -> ClientState:
        async with new_client() as client:
            await client.send("/queue/a", b"x", receipt=True)
            state = client.state
        assert client.state is ClientState.CLOSED
        return state

    assert reactor.run_until(Deferred.fromCoroutine(scenario())) is ClientState.CONNECTED
    assert [f.command for f in broker.received] == ["CONNECT", "SEND", "DISCONNECT"]


def test_a_subscription_whose_receipt_never_comes_is_forgotten(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.withhold_receipts()
    with pytest.raises(WaitTimeout, match="SUBSCRIBE to /queue/a"):
        reactor.run_until(client.subscribe("/queue/a", print, receipt=True, timeout=1))
    assert client.subscriptions == {}
    assert [f.command for f in broker.received][-2:] == ["SUBSCRIBE", "UNSUBSCRIBE"]


def test_unsubscribing_while_reconnecting_forgets_the_subscription(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("tcp://mq:61613?initialReconnectDelay=1000")
    reactor.run_until(client.connect())
    sub = reactor.run_until(client.subscribe("/queue/a", print))
    broker.drop_connections()
    reactor.flush()
    assert client.state is ClientState.RECONNECTING
    reactor.run_until(client.unsubscribe(sub))
    reactor.advance(1.0)
    assert client.state is ClientState.CONNECTED
    assert len(broker.frames("SUBSCRIBE")) == 1  # not made again


@pytest.mark.parametrize("vhost", [None, "other"])
def test_a_subscription_an_older_broker_cannot_take_is_removed(
    reactor: SimulatedReactor,
    new_client: Maker,
    caplog: pytest.LogCaptureFixture,
    vhost: str | None,
) -> None:
    modern, old = SimulatedBroker(name="new"), SimulatedBroker(name="old", versions=[Version.V1_0])
    modern.listen(61613, interface="new", reactor=reactor)
    old.listen(61613, interface="old", reactor=reactor)
    option = f"?vhost={vhost}" if vhost else ""
    client = new_client(f"failover:(tcp://new:61613,tcp://old:61613{option})?randomize=false")
    reactor.run_until(client.connect())
    kept = reactor.run_until(client.subscribe("/queue/kept", print))
    # STOMP 1.0 cannot escape a line break in a header: this SUBSCRIBE cannot be replayed.
    lost = reactor.run_until(client.subscribe("/queue/lost", print, headers={"note": "a\nb"}))
    reactor.run_until(modern.stop_listening())
    with caplog.at_level(logging.ERROR, logger="stomp_twisted"):
        modern.drop_connections()
        reactor.advance(1.0)
    assert client.version is Version.V1_0
    assert list(client.subscriptions) == [kept.id]
    assert not lost.active
    assert repr(lost).startswith(f"<Subscription {lost.id!r} to '/queue/lost'")
    assert lost.id in caplog.text
    assert [f.get("destination") for f in old.frames("SUBSCRIBE")] == ["/queue/kept"]


def test_an_error_while_shutting_down_is_logged_and_the_first_reason_stays(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate: Deferred[None] = Deferred()

    async def slow(message: MessageReceived) -> None:
        await gate

    reactor.run_until(client.subscribe("/queue/a", slow))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    ended = client.disconnected
    result = client.disconnect()
    broker.faults.error_on_send("Nope")
    client.send("/queue/b", b"y")  # handlers may still send while the client drains
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        reactor.flush()
    assert "the broker sent ERROR: Nope" in caplog.text  # logged; the shutdown goes on
    gate.callback(None)
    done = reactor.run_until(result)
    assert done.receipt
    assert reactor.run_until(ended) == done  # requested: no failure


def test_requests_after_the_goodbye_are_refused(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.withhold_receipts()
    result = client.disconnect(timeout=5)
    reactor.flush()
    assert client.state is ClientState.DISCONNECTING
    with pytest.raises(NotConnected, match="disconnecting"):
        reactor.run_until(client.send("/queue/a", b"x", receipt=True))
    reactor.run_until(result)


def test_the_timeouts_of_requests_are_checked(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        reactor.run_until(client.send("/queue/a", b"x", receipt=True, timeout=-1))
    with pytest.raises(ClientError, match="timeout must be a positive number"):
        reactor.run_until(client.send("/queue/a", b"x", receipt=True, timeout=float("nan")))
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        client.disconnect(timeout=0)


class Quiet(Protocol):
    pass


def test_the_memory_transport_behaves_like_a_tcp_transport(
    reactor: SimulatedReactor, broker: SimulatedBroker
) -> None:
    factory = ClientFactory.forProtocol(Quiet)
    connector = reactor.connectTCP("mq", 61613, factory)
    assert str(connector.getDestination()) == "IPv4Address(type='TCP', host='mq', port=61613)"
    reactor.flush()
    transport: Any = cast(Any, connector).transport
    with pytest.raises(TypeError, match="must be bytes"):
        transport.write("text")
    transport.writeSequence([b"CONNECT\naccept-version:1.2\n", b"host:mq\n\n\0"])
    assert transport.getTcpNoDelay() is True
    assert transport.getTcpKeepAlive() is False
    transport.setTcpNoDelay(False)
    transport.setTcpKeepAlive(True)
    transport.registerProducer(object(), True)
    assert transport.producer is not None
    transport.unregisterProducer()
    assert transport.producer is None
    assert transport.getHost().port == transport.getPeer().port or transport.getHost() is not None
    reactor.flush()
    assert broker.connections[0].version is Version.V1_2
    with pytest.raises(NotImplementedError):
        connector.connect()
    transport.stopProducing()
    reactor.flush()
    assert broker.connections == ()
    transport.write(b"after the close")  # ignored, as on a closed socket
    transport.loseWriteConnection()
    connector.disconnect()  # nothing left to do


def test_stopping_a_connection_attempt(reactor: SimulatedReactor) -> None:
    failed: list[str] = []

    class Watcher(ClientFactory):
        def clientConnectionFailed(self, connector: object, reason: Any) -> None:
            failed.append(type(reason.value).__name__)

    reactor.blackhole("void", 1)
    connector = reactor.connectTCP("void", 1, Watcher())
    reactor.advance(100)
    assert failed == []
    connector.disconnect()
    connector.stopConnecting()  # twice: nothing more
    assert failed == ["UserError"]


def test_run_until_knows_when_nothing_can_happen(reactor: SimulatedReactor) -> None:
    with pytest.raises(AssertionError, match="nothing is scheduled"):
        reactor.run_until(Deferred())


def test_a_port_stops_listening_once(reactor: SimulatedReactor) -> None:
    port = reactor.listenTCP(0, ClientFactory(), interface="h")
    reactor.run_until(port.stopListening())
    reactor.run_until(port.stopListening())
    port.startListening()
    assert not reactor.listening("h", port.getHost().port)


def test_a_vhost_connect_cannot_carry_fails_without_retrying(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    with pytest.raises(InvalidRequest, match=r"line break"):
        new_client("tcp://mq:61613?vhost=a%0Ab")  # CONNECT is never escaped: refused when made
    assert broker.frames("CONNECT") == []
    assert reactor.tcpClients == []


def test_the_global_reactor_is_the_default() -> None:
    from twisted.internet import reactor

    client = Client("tcp://h:1")
    assert client.state is ClientState.IDLE
    assert SimulatedBroker().factory() is not None
    assert reactor is not None

# mypy: disable-error-code="comparison-overlap,unreachable"
# (mypy narrows an attribute read before a call changed it: these checks are reachable)
"""Graceful shutdown: stop taking messages, wait for handlers (then give up), DISCONNECT."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from twisted.internet.defer import CancelledError, Deferred

from stomp_frame import Frame
from stomp_session import MessageReceived
from stomp_twisted import (
    Client,
    ClientState,
    ConnectionLost,
    DisconnectResult,
    UnfinishedHandler,
)
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]


class Slow:
    def __init__(self) -> None:
        self.gates: list[Deferred[None]] = []
        self.started: list[bytes] = []
        self.cancelled: list[bytes] = []

    async def __call__(self, message: MessageReceived) -> None:
        self.started.append(message.body)
        gate: Deferred[None] = Deferred()
        self.gates.append(gate)
        try:
            await gate
        except CancelledError:
            self.cancelled.append(message.body)
            raise


def commands(broker: SimulatedBroker) -> list[str]:
    return [frame.command for frame in broker.received]


def test_disconnect_waits_for_handlers_then_says_goodbye(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    slow = Slow()
    reactor.run_until(client.subscribe("/queue/a", slow))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    ended = client.disconnected
    result = client.disconnect()
    reactor.advance(5.0)
    assert client.state is ClientState.DISCONNECTING
    assert not result.called
    assert "DISCONNECT" not in commands(broker)
    slow.gates[0].callback(None)
    done = reactor.run_until(result)
    assert done == DisconnectResult(receipt=True)
    assert done.clean
    assert commands(broker)[-2:] == ["ACK", "DISCONNECT"]  # acked before the goodbye
    assert broker.frames("DISCONNECT")[0].get("receipt") is not None
    assert reactor.run_until(ended) == done
    assert client.state is ClientState.CLOSED
    assert broker.connections == ()
    assert reactor.run_until(client.disconnect()) == done  # again: the same result


def test_disconnect_gives_up_on_handlers_after_the_timeout_and_reports_them(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slow = Slow()
    sub = reactor.run_until(client.subscribe("/queue/a", slow))
    broker.publish("/queue/a", b"stuck")
    reactor.advance(1.0)
    message_id = broker.unacknowledged()[0].get("message-id")
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        result = reactor.run_until(client.disconnect(timeout=3))
    assert reactor.seconds() == pytest.approx(4.0)
    (unfinished,) = result.unfinished
    assert unfinished == UnfinishedHandler(
        subscription=sub.id, destination="/queue/a", message_id=message_id or "", running_for=4.0
    )
    assert result.receipt is True
    assert not result.clean
    assert slow.cancelled == [b"stuck"]  # cancelled, not silently abandoned
    assert "still works on message" in caplog.text
    assert broker.frames("ACK") == []
    assert broker.frames("NACK") == []
    reactor.flush()
    assert [f.get("redelivered") for f in broker.queued("/queue/a")] == ["true"]


def test_messages_arriving_during_shutdown_are_not_handled(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    slow = Slow()
    reactor.run_until(client.subscribe("/queue/a", slow, headers={"prefetch-count": "0"}))
    broker.publish("/queue/a", b"1")
    reactor.flush()
    client.disconnect()
    broker.publish("/queue/a", b"2")
    reactor.flush()
    assert slow.started == [b"1"]
    slow.gates[0].callback(None)
    reactor.flush()
    assert client.state is ClientState.CLOSED
    assert [f.body for f in broker.queued("/queue/a")] == [b"2"]


def test_queued_messages_are_dropped_unacknowledged_at_shutdown(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slow = Slow()
    reactor.run_until(
        client.subscribe("/queue/a", slow, max_in_flight=1, headers={"prefetch-count": "0"})
    )
    for body in (b"1", b"2", b"3"):
        broker.publish("/queue/a", body)
    reactor.flush()
    with caplog.at_level(logging.INFO, logger="stomp_twisted"):
        client.disconnect()
        slow.gates[0].callback(None)
        reactor.flush()
    assert "2 queued message(s) left unhandled" in caplog.text
    assert len(broker.frames("ACK")) == 1
    assert [f.body for f in broker.queued("/queue/a")] == [b"2", b"3"]


def test_auto_subscriptions_are_unsubscribed_first(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    sub = reactor.run_until(client.subscribe("/queue/a", print, ack="auto"))
    reactor.run_until(client.subscribe("/queue/b", print))
    reactor.run_until(client.disconnect())
    (unsubscribe,) = broker.frames("UNSUBSCRIBE")
    assert unsubscribe.get("id") == sub.id


def test_a_missing_disconnect_receipt_is_waited_for_then_the_client_closes(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.withhold_receipts()
    result = reactor.run_until(client.disconnect(timeout=2))
    assert result == DisconnectResult(receipt=False)
    assert reactor.seconds() == pytest.approx(2.0)
    reactor.flush()
    assert broker.connections == ()


def test_a_broker_that_never_closes_is_cut_off(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    (connection,) = broker.connections
    connection.close = lambda: None  # type: ignore[method-assign]  # it answers, never closes
    result = reactor.run_until(client.disconnect(timeout=2))
    assert result.receipt is True
    reactor.flush()
    assert broker.connections == ()


def test_an_error_ends_the_client_with_the_unfinished_handlers_attached(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(disconnect_timeout=1, auto_reconnect=False)
    reactor.run_until(client.connect())
    slow = Slow()
    reactor.run_until(client.subscribe("/queue/a", slow))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    broker.drop_connections()
    with pytest.raises(ConnectionLost) as caught:
        reactor.run_until(client.disconnected)
    assert [u.destination for u in caught.value.unfinished] == ["/queue/a"]
    assert slow.cancelled == [b"x"]
    with pytest.raises(ConnectionLost):  # every later request says why the client ended
        reactor.run_until(client.send("/queue/z", b"y"))


def test_a_lost_connection_during_shutdown_ends_it(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    slow = Slow()
    reactor.run_until(client.subscribe("/queue/a", slow))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    result = client.disconnect(timeout=30)
    broker.drop_connections()
    reactor.flush()
    assert client.state is ClientState.DISCONNECTING  # no reconnection while shutting down
    slow.gates[0].callback(None)
    assert reactor.run_until(result).receipt is False
    assert broker.frames("ACK") == []  # the ack of an old connection is not sent


def test_handlers_may_send_while_the_client_drains(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    gate: Deferred[None] = Deferred()

    async def reply(message: MessageReceived) -> None:
        await gate
        await client.send("/queue/replies", b"re: " + message.body, receipt=True)

    reactor.run_until(client.subscribe("/queue/a", reply))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    result = client.disconnect()
    gate.callback(None)
    assert reactor.run_until(result).clean
    assert [f.body for f in broker.queued("/queue/replies")] == [b"re: x"]


def test_disconnect_waits_for_receipts_still_awaited(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker.faults.withhold_receipts()
    sent = client.send("/queue/a", b"x", receipt=True, timeout=30)
    result = client.disconnect(timeout=5)
    reactor.advance(1.0)
    assert "DISCONNECT" not in commands(broker)
    (connection,) = broker.connections
    receipt_id = broker.frames("SEND")[0].get("receipt", "")
    connection.write_frame(Frame("RECEIPT", {"receipt-id": receipt_id}))
    reactor.flush()
    assert sent.called
    assert "DISCONNECT" in commands(broker)
    broker.faults.clear()  # so that DISCONNECT is answered
    # (already answered or not: the client closes within the timeout either way)
    reactor.run_until(result)
    other = SimulatedBroker(name="other")
    other.faults.withhold_receipts()
    other.listen(1, interface="other", reactor=reactor)
    late = Client("tcp://other:1", reactor=reactor, heart_beat=(0, 0))
    reactor.run_until(late.connect())
    pending = late.send("/queue/a", b"y", receipt=True, timeout=60)
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        done = reactor.run_until(late.disconnect(timeout=2))
    assert "1 receipt(s) still awaited after 2.000 s" in caplog.text
    assert done.receipt is False
    with pytest.raises(ConnectionLost, match="before the RECEIPT for SEND"):
        reactor.run_until(pending)

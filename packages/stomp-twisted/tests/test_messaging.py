# mypy: disable-error-code="comparison-overlap,unreachable"
# (mypy narrows an attribute read before a call changed it: these checks are reachable)
"""Requests: send, subscribe, ack/nack, transactions, receipts with timeouts, broker ERRORs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.defer import CancelledError, Deferred

from stomp_frame import Frame, Version
from stomp_session import LocalProtocolError, MessageReceived
from stomp_twisted import (
    PREFETCH_HEADERS,
    BrokerError,
    Client,
    ClientState,
    ConnectionLost,
    InvalidRequest,
    WaitTimeout,
)
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]


def bodies(received: list[MessageReceived]) -> list[bytes]:
    return [message.body for message in received]


def test_send_and_receive_with_an_ack_after_the_handler(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    received: list[MessageReceived] = []
    sub = reactor.run_until(client.subscribe("/queue/a", received.append, receipt=True))
    assert sub.ack == "client-individual"
    assert sub.id in client.subscriptions
    reactor.run_until(client.send("/queue/a", b"one", headers={"kind": "test"}))
    reactor.flush()
    assert bodies(received) == [b"one"]
    assert received[0].frame.get("kind") == "test"
    (ack,) = broker.frames("ACK")
    assert ack.get("id") == received[0].message.ack_id
    assert broker.unacknowledged() == ()
    assert sub.in_flight == 0


def test_send_without_receipt_fires_once_written(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    sent = client.send("/queue/a", b"x")
    assert sent.called  # the hot path: no waiting
    reactor.flush()
    assert [f.body for f in broker.queued("/queue/a")] == [b"x"]


def test_send_with_receipt_fires_when_the_receipt_comes(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    sent = client.send("/queue/a", b"x", receipt=True, content_length=False)
    assert not sent.called
    reactor.flush()
    assert sent.called
    (frame,) = broker.frames("SEND")
    assert frame.get("receipt") is not None
    assert not frame.has("content-length")


def test_a_receipt_that_never_comes_times_out(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.withhold_receipts()
    with pytest.raises(WaitTimeout) as caught:
        reactor.run_until(client.send("/queue/a", b"x", receipt=True, timeout=2))
    assert reactor.seconds() == 2.0
    assert str(caught.value) == "no RECEIPT for SEND to /queue/a from tcp://mq:61613 within 2 s"
    with pytest.raises(WaitTimeout):
        reactor.run_until(client.send("/queue/a", b"x", receipt=True))
    assert reactor.seconds() == 12.0  # the default receipt_timeout
    broker.faults.clear()
    reactor.run_until(client.send("/queue/a", b"y", receipt=True))  # late receipts are ignored


def test_an_error_answering_a_send_fails_it_with_the_frame(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.error_on_send("Access refused", destination="/queue/secret")
    with pytest.raises(BrokerError) as caught:
        reactor.run_until(client.send("/queue/secret", b"x", receipt=True))
    error = caught.value
    assert error.frame.command == "ERROR"
    assert error.frame.get("message") == "Access refused"
    assert error.error.receipt_id == error.frame.get("receipt-id")
    assert error.command == "SEND"
    assert str(error) == "the broker sent ERROR in answer to SEND: Access refused"
    # The connection goes on.
    reactor.run_until(client.send("/queue/open", b"y", receipt=True))
    assert client.state is ClientState.CONNECTED


def test_an_error_answering_nothing_fails_the_next_request_and_the_connection_stays(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.error_on_send("Access refused")
    client.send("/queue/a", b"x")  # no receipt: the ERROR answers no request
    reactor.flush()
    broker.faults.clear()
    with pytest.raises(BrokerError) as caught:
        reactor.run_until(client.send("/queue/a", b"y"))  # the next request, once
    assert caught.value.frame.get("message") == "Access refused"
    assert caught.value.command is None
    assert client.state is ClientState.CONNECTED
    reactor.run_until(client.send("/queue/a", b"z", receipt=True))


def test_pending_requests_fail_with_an_error_that_answers_nothing(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.withhold_receipts()
    sent = client.send("/queue/a", b"x", receipt=True)
    reactor.flush()
    (connection,) = broker.connections
    connection.write_frame(Frame("ERROR", {"message": "Unknown destination"}))
    with pytest.raises(BrokerError) as caught:
        reactor.run_until(sent)
    assert caught.value.frame.get("message") == "Unknown destination"
    assert client.state is ClientState.CONNECTED


def test_subscribe_sets_prefetch_to_max_in_flight_unless_given(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    reactor.run_until(client.subscribe("/queue/a", print, max_in_flight=7))
    reactor.run_until(client.subscribe("/queue/b", print, headers={"prefetch-count": "2"}))
    reactor.run_until(client.subscribe("/queue/c", print, ack="auto"))
    reactor.flush()
    a, b, c = broker.frames("SUBSCRIBE")
    assert [a.get(name) for name in PREFETCH_HEADERS] == ["7", "7"]
    assert [b.get(name) for name in PREFETCH_HEADERS] == [None, "2"]
    assert [c.get(name) for name in PREFETCH_HEADERS] == [None, None]
    assert c.get("ack") == "auto"


def test_subscribe_checks_its_arguments(reactor: SimulatedReactor, client: Client) -> None:
    with pytest.raises(InvalidRequest, match="max_in_flight"):
        reactor.run_until(client.subscribe("/queue/a", print, max_in_flight=0))
    with pytest.raises(InvalidRequest, match="set by its own parameter") as caught:
        reactor.run_until(client.subscribe("/queue/a", print, headers={"ack": "auto"}))
    assert isinstance(caught.value.__cause__, LocalProtocolError)
    assert client.subscriptions == {}


def test_a_refused_subscription_is_forgotten(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    reactor.run_until(client.subscribe("/queue/a", print, id="dup"))
    with pytest.raises(InvalidRequest, match="already in use"):
        reactor.run_until(client.subscribe("/queue/b", print, id="dup"))
    assert list(client.subscriptions) == ["dup"]


def test_stomp_1_0_subscribes_with_client_acks_by_default(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(versions=["1.0"])
    reactor.run_until(client.connect())
    received: list[MessageReceived] = []
    sub = reactor.run_until(client.subscribe("/queue/a", received.append))
    assert sub.ack == "client"
    with pytest.raises(InvalidRequest):
        reactor.run_until(client.subscribe("/queue/b", print, ack="client-individual"))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    assert bodies(received) == [b"x"]
    assert broker.frames("ACK")[0].get("message-id") == received[0].message.message_id


def test_a_1_0_message_without_subscription_header_goes_by_destination(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(versions=["1.0"])
    reactor.run_until(client.connect())
    received: list[MessageReceived] = []
    reactor.run_until(client.subscribe("/queue/a", received.append, ack="auto"))
    (connection,) = broker.connections
    connection.write_frame(Frame("MESSAGE", {"destination": "/queue/a", "message-id": "m1"}, b"x"))
    reactor.flush()
    assert bodies(received) == [b"x"]


def test_a_message_for_an_unknown_subscription_is_logged_and_not_acked(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reactor.run_until(client.subscribe("/queue/a", print))
    (connection,) = broker.connections
    connection.write_frame(
        Frame(
            "MESSAGE",
            {"subscription": "ghost", "destination": "/queue/z", "message-id": "m1", "ack": "a1"},
            b"x",
        )
    )
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        reactor.flush()
    assert "'m1' to '/queue/z' is for subscription 'ghost'" in caplog.text
    assert "dropped unacknowledged" in caplog.text
    assert broker.frames("ACK") == []
    assert broker.frames("NACK") == []


def test_unsubscribe_stops_the_handler(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    received: list[MessageReceived] = []
    sub = reactor.run_until(client.subscribe("/queue/a", received.append))
    reactor.run_until(client.unsubscribe(sub, receipt=True))
    assert not sub.active
    assert client.subscriptions == {}
    assert broker.frames("UNSUBSCRIBE")[0].get("id") == sub.id
    broker.publish("/queue/a", b"x")
    reactor.flush()
    assert received == []
    with pytest.raises(InvalidRequest, match="no active subscription"):
        reactor.run_until(client.unsubscribe(sub.id))


def test_handlers_may_ack_or_nack_themselves(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    seen: list[bytes] = []

    def handler(message: MessageReceived) -> None:
        seen.append(message.body)
        if message.body == b"no" and not message.message.redelivered:
            client.nack(message)
        else:
            client.ack(message, receipt=True)

    reactor.run_until(client.subscribe("/queue/a", handler))
    broker.publish("/queue/a", b"no")
    broker.publish("/queue/a", b"yes")
    reactor.flush()
    assert seen == [b"no", b"yes", b"no"]  # NACKed once, then redelivered
    assert len(broker.frames("NACK")) == 1
    assert len(broker.frames("ACK")) == 2  # no automatic ack on top
    assert broker.unacknowledged() == ()


def test_transactions_commit_and_abort(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    tx = reactor.run_until(client.begin(receipt=True))
    reactor.run_until(client.send("/queue/a", b"1", transaction=tx))
    reactor.flush()
    assert broker.queued("/queue/a") == ()
    reactor.run_until(client.commit(tx, receipt=True))
    assert [f.body for f in broker.queued("/queue/a")] == [b"1"]
    tx = reactor.run_until(client.begin())
    reactor.run_until(client.send("/queue/a", b"2", transaction=tx))
    reactor.run_until(client.abort(tx, receipt=True))
    assert [f.body for f in broker.queued("/queue/a")] == [b"1"]
    with pytest.raises(InvalidRequest, match="no open transaction"):
        reactor.run_until(client.commit(tx))
    with pytest.raises(InvalidRequest):
        reactor.run_until(client.send("/queue/a", b"3", transaction="nope"))


def test_the_transaction_helper_commits_or_aborts(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    async def good() -> str:
        async with client.transaction() as tx:
            await client.send("/queue/a", b"in", transaction=tx)
        return tx

    async def bad() -> None:
        async with client.transaction(receipt=False) as tx:
            await client.send("/queue/a", b"out", transaction=tx)
            raise KeyError(tx)

    reactor.run_until(Deferred.fromCoroutine(good()))
    with pytest.raises(KeyError):
        reactor.run_until(Deferred.fromCoroutine(bad()))
    reactor.flush()
    assert [f.body for f in broker.queued("/queue/a")] == [b"in"]
    assert [f.command for f in broker.received[-3:]] == ["BEGIN", "SEND", "ABORT"]


def test_acks_in_a_transaction_take_effect_at_commit(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    received: list[MessageReceived] = []
    reactor.run_until(client.subscribe("/queue/a", received.append, ack="client-individual"))
    tx = reactor.run_until(client.begin())

    def handler(message: MessageReceived) -> None:
        client.ack(message, transaction=tx)

    reactor.run_until(client.subscribe("/queue/b", handler))
    broker.publish("/queue/b", b"x")
    reactor.flush()
    assert len(broker.unacknowledged()) == 1
    reactor.run_until(client.commit(tx, receipt=True))
    assert broker.unacknowledged() == ()


def test_a_transaction_lost_with_the_connection_is_reported(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tx = reactor.run_until(client.begin())
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        broker.drop_connections()
        reactor.advance(1)
    assert f"transaction {tx!r} was rolled back" in caplog.text
    assert client.state is ClientState.CONNECTED
    with pytest.raises(ConnectionLost, match="rolled it back"):
        reactor.run_until(client.commit(tx))


def test_a_receipt_pending_when_the_connection_drops_fails_with_connection_lost(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    broker.faults.drop_on("SEND")
    with pytest.raises(ConnectionLost, match="before the RECEIPT for SEND") as caught:
        reactor.run_until(client.send("/queue/a", b"x", receipt=True))
    assert caught.value.cause is not None


def test_requests_wait_for_a_reconnection(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("tcp://mq:61613?initialReconnectDelay=1000")
    reactor.run_until(client.connect())
    broker.drop_connections()
    reactor.flush()
    assert client.state is ClientState.RECONNECTING
    sent = client.send("/queue/a", b"later", receipt=True)
    assert not sent.called
    reactor.run_until(sent)
    assert reactor.seconds() == pytest.approx(1.0)
    assert [f.body for f in broker.queued("/queue/a")] == [b"later"]
    broker.faults.never_answer()
    broker.drop_connections()
    reactor.flush()
    with pytest.raises(WaitTimeout, match=r"no connection to the broker within 3 s"):
        reactor.run_until(client.send("/queue/a", b"never", timeout=3))


def test_stomp_1_2_cannot_be_asked_for_something_1_0_cannot_say(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(versions=[Version.V1_0])
    reactor.run_until(client.connect())
    with pytest.raises(InvalidRequest):
        reactor.run_until(client.send("/queue/a", b"x", headers={"a": "line\nbreak"}))
    with pytest.raises(InvalidRequest):
        reactor.run_until(client.send("/queue/a", b"x", receipt=True, headers={"b": "x\ny"}))


def test_sends_wait_for_room_each_until_its_own_timeout_then_go_in_order(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(max_outgoing=1000, write_timeout=60)
    reactor.run_until(client.connect())
    link: Any = client._driver._link  # the transport's producer
    link.pauseProducing()  # the transport's write buffer is full
    body = b"x" * 400
    first = [client.send("/queue/a", body) for _ in range(3)]  # fill the core's buffer
    reactor.flush()
    short = client.send("/queue/a", b"short", timeout=1)
    long = client.send("/queue/a", b"long", timeout=3)
    later = client.send("/queue/a", b"later", timeout=10)
    assert not short.called
    assert not long.called
    assert not later.called
    reactor.advance(1.5)
    with pytest.raises(WaitTimeout, match=r"no room in the outbound buffer within 1 s"):
        reactor.run_until(short)
    assert not long.called
    reactor.advance(2)
    with pytest.raises(WaitTimeout, match=r"no room in the outbound buffer within 3 s"):
        reactor.run_until(long)
    assert not later.called
    link.resumeProducing()
    reactor.run_until(later)
    for sent in first:
        reactor.run_until(sent)
    assert [f.body for f in broker.queued("/queue/a")][-2:] == [body, b"later"]
    assert b"short" not in [f.body for f in broker.queued("/queue/a")]


def test_a_cancelled_wait_for_room_sends_nothing(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(max_outgoing=1000, write_timeout=60)
    reactor.run_until(client.connect())
    link: Any = client._driver._link  # the transport's producer
    link.pauseProducing()
    filled = [client.send("/queue/a", b"y" * 400) for _ in range(3)]
    waiting = client.send("/queue/a", b"cancelled", timeout=5)
    kept = client.send("/queue/a", b"kept", timeout=5)
    waiting.cancel()
    with pytest.raises(CancelledError):
        reactor.run_until(waiting)
    link.resumeProducing()
    reactor.run_until(kept)
    for sent in filled:
        reactor.run_until(sent)
    bodies = [f.body for f in broker.queued("/queue/a")]
    assert bodies[-1] == b"kept"
    assert b"cancelled" not in bodies

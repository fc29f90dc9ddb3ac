"""Each client behaviour written once, run against every client (sync, Twisted).

A behaviour here is decided by stomp-core; the clients only move bytes and wait, so
the same situation gives the same outcome, error class and text in every one of them.
"""

from __future__ import annotations

import logging
import time

import pytest

from stomp_core import (
    BrokerError,
    ClientError,
    ClientState,
    ConnectFailed,
    ConnectionLost,
    InvalidRequest,
    MessageStale,
    NotConnected,
    WaitTimeout,
)
from stomp_frame import Frame, Version
from stomp_testing import TestBroker
from tests.contract._drivers import Driver
from tests.contract.conftest import MakeClient

SECRET = "pa55-w0rd-xyzzy"


def wait_until(predicate: object, timeout: float = 5.0) -> None:
    """Poll *predicate* (a callable) until true; fail the test if it never is."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("the condition never held")
        time.sleep(0.01)


# -- defaults and spellings ------------------------------------------------------------------


def test_heart_beats_are_off_by_default_and_receipt_ids_read_receipt_n(
    client: Driver, broker: TestBroker
) -> None:
    connected = client.connected
    assert connected is not None
    assert connected.heart_beat == (0, 0)
    assert broker.frames("CONNECT")[0].get("heart-beat") == "0,0"
    client.send("/queue/a", b"x", receipt=True)
    assert broker.frames("SEND")[0].get("receipt") == "receipt-1"


def test_a_caller_chosen_receipt_id_and_transaction_id_are_used(
    client: Driver, broker: TestBroker
) -> None:
    client.send("/queue/a", b"x", receipt="mine-1")
    assert broker.frames("SEND")[0].get("receipt") == "mine-1"
    tx = client.begin("tx-custom")
    assert tx == "tx-custom"
    client.send("/queue/a", b"y", transaction=tx)
    client.commit(tx, receipt=True)
    assert broker.frames("COMMIT")[0].get("transaction") == "tx-custom"


def test_versions_are_taken_as_strings_too(make_client: MakeClient, broker: TestBroker) -> None:
    client = make_client(versions=["1.0", "1.1"])
    assert client.connect().version is Version.V1_1
    assert broker.frames("CONNECT")[0].get("accept-version") == "1.0,1.1"


def test_an_unknown_version_is_refused_when_the_client_is_made(make_client: MakeClient) -> None:
    with pytest.raises(InvalidRequest, match=r"unknown STOMP version '2\.0'"):
        make_client(versions=["2.0"])


# -- misuse ------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["login", "passcode"])
def test_a_nul_in_a_credential_is_refused_when_the_client_is_made(
    make_client: MakeClient, broker: TestBroker, field: str
) -> None:
    """Defect 3: it used to pass the constructor and wedge the client at connect()."""
    options = {"login": "user", "passcode": SECRET}
    options[field] = "bad\0value"
    with pytest.raises(InvalidRequest, match="NUL") as caught:
        make_client(**options)
    assert isinstance(caught.value, ValueError)
    assert SECRET not in str(caught.value)
    assert broker.accepted == ()


def test_a_nul_in_a_connect_header_is_refused_when_the_client_is_made(
    make_client: MakeClient,
) -> None:
    with pytest.raises(InvalidRequest, match="NUL"):
        make_client(connect_headers={"client-id": "a\0b"})


def test_misuse_is_a_client_error_and_a_value_error_and_sends_nothing(
    client: Driver, broker: TestBroker
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.commit("no-such-tx")
    assert isinstance(caught.value, ClientError)
    assert isinstance(caught.value, ValueError)
    assert type(caught.value).__module__ == "stomp_core"
    with pytest.raises(InvalidRequest, match="timeout must be a positive number"):
        client.send("/queue/a", b"x", receipt=True, timeout=-1)
    client.send("/queue/probe", b"", receipt=True)
    assert [f.command for f in broker.received if f.command != "CONNECT"] == ["SEND"]


def test_acknowledging_a_message_of_an_auto_subscription_is_misuse(
    client: Driver, broker: TestBroker
) -> None:
    client.subscribe("/queue/a", ack="auto")
    broker.publish("/queue/a", b"x")
    message = client.receive(5)
    assert message is not None
    with pytest.raises(InvalidRequest, match="ack mode is auto"):
        client.ack(message)


# -- receipts and broker errors ----------------------------------------------------------------


def test_a_receipt_that_never_comes_fails_the_call_and_the_connection_stays(
    client: Driver, broker: TestBroker
) -> None:
    broker.faults.withhold_receipts("SEND")
    with pytest.raises(
        WaitTimeout, match=r"no RECEIPT for SEND to /queue/a from (tcp|ws)://"
    ) as caught:
        client.send("/queue/a", b"x", receipt=True, timeout=0.3)
    assert isinstance(caught.value, TimeoutError)
    broker.faults.clear()
    client.send("/queue/a", b"y", receipt=True)
    assert client.state is ClientState.CONNECTED


def test_an_error_for_a_receipt_fails_that_call_with_the_message_and_first_body_line(
    client: Driver, broker: TestBroker
) -> None:
    broker.faults.error_on_send("Access refused", destination="/queue/secret")
    with pytest.raises(BrokerError) as caught:
        client.send("/queue/secret", b"x", receipt=True)
    error = caught.value
    assert error.command == "SEND"
    assert str(error).startswith("the broker sent ERROR in answer to SEND: Access refused")
    assert error.frame.command == "ERROR"
    client.send("/queue/open", b"y", receipt=True)  # the connection goes on


def test_an_error_that_answers_no_request_is_raised_by_the_next_call_once(
    client: Driver, broker: TestBroker
) -> None:
    broker.faults.error_on_send("Quota exceeded")
    client.send("/queue/a", b"x")  # no receipt: nothing waits for the answer
    broker.wait_for_command("SEND")
    broker.faults.clear()
    wait_until(lambda: client.counters.frames_in >= 2)  # CONNECTED, ERROR
    with pytest.raises(BrokerError, match="Quota exceeded"):
        client.send("/queue/a", b"y", receipt=True)
    client.send("/queue/a", b"z", receipt=True)  # raised once; the connection stayed
    assert client.state is ClientState.CONNECTED


# -- messages ----------------------------------------------------------------------------------


def test_a_message_for_an_unknown_subscription_is_dropped_unacknowledged(
    client: Driver, broker: TestBroker, caplog: pytest.LogCaptureFixture
) -> None:
    client.subscribe("/queue/a", ack="client-individual")
    (connection,) = broker.connections
    with caplog.at_level(logging.WARNING):
        connection.send_frame(
            Frame(
                "MESSAGE",
                {
                    "subscription": "ghost",
                    "destination": "/queue/z",
                    "message-id": "m1",
                    "ack": "1",
                },
                b"x",
            )
        )
        assert client.receive(0.5) is None
    assert "'m1' to '/queue/z' is for subscription 'ghost'" in caplog.text
    assert broker.frames("ACK") == []
    assert broker.frames("NACK") == []


def test_a_stomp_1_0_message_without_subscription_header_is_matched_by_destination(
    make_client: MakeClient, broker: TestBroker
) -> None:
    client = make_client(versions=["1.0"])
    client.connect()
    client.subscribe("/queue/a", ack="client")
    (connection,) = broker.connections
    connection.send_frame(Frame("MESSAGE", {"destination": "/queue/a", "message-id": "m1"}, b"x"))
    message = client.receive(5)
    assert message is not None
    assert message.subscription is not None
    assert message.subscription.destination == "/queue/a"
    assert message.headers == {"destination": "/queue/a", "message-id": "m1"}


def test_messages_carry_a_headers_mapping_and_know_their_connection(
    client: Driver, broker: TestBroker
) -> None:
    client.subscribe("/queue/a", ack="client-individual")
    broker.publish("/queue/a", b"x", {"colour": "blue"})
    message = client.receive(5)
    assert message is not None
    assert message.headers["colour"] == "blue"
    assert message.headers["destination"] == "/queue/a"
    assert client.is_current(message)
    client.ack(message, receipt=True)
    assert broker.unacknowledged() == ()


# -- lost connections --------------------------------------------------------------------------


def test_a_transaction_lost_with_its_connection_cannot_be_committed(
    client: Driver, broker: TestBroker
) -> None:
    tx = client.begin()
    client.send("/queue/a", b"x", transaction=tx)
    broker.drop_connections()
    wait_until(lambda: len(client.reconnects) == 1)
    assert client.reconnects[0].aborted_transactions == (tx,)
    with pytest.raises(ConnectionLost, match="rolled it back"):
        client.commit(tx)
    with pytest.raises(ConnectionLost, match="rolled back"):
        client.send("/queue/a", b"y", transaction=tx)
    client.abort(tx)  # quietly: the broker already rolled it back


def test_an_ack_of_a_message_from_a_lost_connection_is_refused_at_once(
    client: Driver, broker: TestBroker
) -> None:
    """Defect 6: refused before the new connection is up, not after a timeout."""
    client.subscribe("/queue/a", ack="client-individual")
    broker.publish("/queue/a", b"x")
    message = client.receive(5)
    assert message is not None
    broker.faults.never_answer()  # the client will stay reconnecting
    broker.drop_connections()
    wait_until(lambda: client.state is not ClientState.CONNECTED)
    with pytest.raises(MessageStale, match="earlier connection") as caught:
        client.ack(message, receipt=True, timeout=30)  # would wait 30 s for a connection
    assert isinstance(caught.value, InvalidRequest)
    assert not client.is_current(message)
    assert client.state is ClientState.RECONNECTING


def test_messages_of_a_lost_connection_are_dropped_and_reported_even_after_a_long_outage(
    client: Driver, broker: TestBroker
) -> None:
    """Defects 5 and 7: nothing handed on after the loss; the report counts what was dropped."""
    client.subscribe(
        "/queue/a", ack="client-individual", headers={"prefetch-count": "100"}, max_in_flight=1
    )
    for n in range(2):
        broker.publish("/queue/a", b"%d" % n)
    first = client.receive(5)  # the second waits in the client, not taken
    assert first is not None
    wait_until(lambda: client.counters.messages_received == 2)
    broker.faults.never_answer()
    broker.drop_connections()
    wait_until(lambda: client.state is not ClientState.CONNECTED)
    with pytest.raises(MessageStale):
        client.ack(first)
    with pytest.raises(WaitTimeout):  # the outage outlasts a call
        client.send("/queue/b", b"", receipt=True, timeout=0.5)
    broker.faults.clear()
    wait_until(lambda: len(client.reconnects) == 1, timeout=10)
    report = client.reconnects[0]
    assert report.discarded == 1, "the untaken message, dropped for redelivery"
    bodies = []
    for _ in range(2):  # each settled before the next (one handler at a time)
        message = client.receive(5)
        assert message is not None
        assert client.is_current(message)
        bodies.append(message.body)
        client.ack(message)
    assert sorted(bodies) == [b"0", b"1"]
    assert client.counters.messages_discarded == 1


def test_without_auto_reconnect_a_loss_ends_the_client_and_later_calls_say_why(
    make_client: MakeClient, broker: TestBroker
) -> None:
    client = make_client(auto_reconnect=False)
    client.connect()
    broker.drop_connections()
    wait_until(lambda: client.state is ClientState.CLOSED)
    with pytest.raises(ConnectionLost, match=r"the connection was lost: (tcp|ws)://"):
        client.send("/queue/a", b"x")


def test_giving_up_reconnecting_ends_the_client_with_connect_failed(
    make_client: MakeClient, broker: TestBroker
) -> None:
    client = make_client(f"failover:({broker.uri})?maxReconnectAttempts=1&initialReconnectDelay=1")
    client.connect()
    broker.stop()
    wait_until(lambda: client.state is ClientState.CLOSED, timeout=10)
    with pytest.raises(ConnectFailed, match="gave up reconnecting"):
        client.send("/queue/a", b"x")


def test_a_call_made_while_reconnecting_times_out_within_its_own_deadline(
    client: Driver, broker: TestBroker
) -> None:
    """Defect 2: the deadline covers the reconnection."""
    broker.faults.never_answer()
    broker.drop_connections()
    wait_until(lambda: client.state is ClientState.RECONNECTING)
    with pytest.raises(WaitTimeout, match=r"no connection to the broker within 0\.5 s"):
        client.send("/queue/a", b"x", receipt=True, timeout=0.5)


def test_close_ends_a_call_waiting_for_its_receipt(client: Driver, broker: TestBroker) -> None:
    """Defect 2: close() ends every waiting call promptly with a clear error."""
    broker.faults.withhold_receipts("SEND")
    waiting = client.in_background(lambda: client.send("/queue/a", b"x", receipt=True, timeout=60))
    broker.wait_for_command("SEND")
    client.close()
    with pytest.raises(NotConnected, match="the client was closed"):
        waiting.result(timeout=10)  # 60 s if close() did not end it
    assert client.state is ClientState.CLOSED


# -- back-pressure -----------------------------------------------------------------------------


def test_a_broker_that_stops_reading_makes_sends_wait_then_fail_with_bounded_memory(
    make_client: MakeClient, broker: TestBroker
) -> None:
    """Defect 4: sends wait for room, the stall ends the connection; nothing piles up."""
    client = make_client(auto_reconnect=False, write_timeout=0.5, max_outgoing=1 << 20)
    client.connect()
    broker.faults.stop_reading()
    body = b"x" * (1 << 20)
    accepted = 0
    failure: ClientError | None = None
    for _ in range(200):
        try:
            client.send("/queue/big", body)
        except ClientError as error:
            failure = error
            break
        accepted += 1
    assert isinstance(failure, (WaitTimeout, ConnectionLost, NotConnected)), failure
    assert accepted < 50, "a few MiB of socket buffers at most, not 200 MiB"
    wait_until(lambda: client.state is ClientState.CLOSED)


# -- observability -------------------------------------------------------------------------------


def test_counters_count_frames_messages_and_receipts(client: Driver, broker: TestBroker) -> None:
    client.subscribe("/queue/a", ack="client-individual")
    client.send("/queue/a", b"x", receipt=True)
    message = client.receive(5)
    assert message is not None
    client.ack(message, receipt=True)
    counters = client.counters
    assert counters.messages_received == 1
    assert counters.messages_acked == 1
    assert counters.receipts_awaited == 2
    assert counters.frames_out == 4  # CONNECT, SUBSCRIBE, SEND, ACK
    assert counters.connections == 1
    assert counters.bytes_in > 0
    assert counters.bytes_out > 0


def test_the_wire_trace_shows_every_frame_and_never_the_passcode(
    make_client: MakeClient, broker: TestBroker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client = make_client(login="alice", passcode=SECRET)
        client.connect()
        client.send("/queue/a", b"hello", receipt=True)
    assert ">>> CONNECT" in caplog.text
    assert "passcode:***" in caplog.text
    assert ">>> SEND | destination:/queue/a" in caplog.text
    assert "(5 body bytes)" in caplog.text
    assert "<<< RECEIPT" in caplog.text
    assert SECRET not in caplog.text


def test_a_graceful_disconnect_is_confirmed_and_later_calls_are_refused(
    client: Driver, broker: TestBroker
) -> None:
    result = client.disconnect()
    assert result.receipt
    assert broker.frames("DISCONNECT")[0].get("receipt") is not None
    assert client.state is ClientState.CLOSED
    with pytest.raises(NotConnected):
        client.send("/queue/a", b"x")


def test_a_subscription_the_broker_refuses_is_not_replayed(
    client: Driver, broker: TestBroker
) -> None:
    broker.faults.error_on("SUBSCRIBE", "Bad selector", destination="/queue/bad")
    with pytest.raises(BrokerError, match="Bad selector"):
        client.subscribe("/queue/bad", receipt=True)
    broker.faults.clear()
    client.subscribe("/queue/good", receipt=True)
    broker.drop_connections()
    wait_until(lambda: len(client.reconnects) == 1)
    replayed = [f.get("destination") for f in broker.frames("SUBSCRIBE")]
    assert replayed == ["/queue/bad", "/queue/good", "/queue/good"]

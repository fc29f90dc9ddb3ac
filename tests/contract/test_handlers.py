"""Handlers per subscription, written once, run on every client that has them (Twisted, asyncio).

What a handler's outcome does is decided by stomp-core's Dispatcher; the clients only run
the handlers (a ``Deferred``, a task) and wait, so the same situation settles the same
frames, reports the same unfinished handlers and ends with the same error in each.
"""

from __future__ import annotations

import threading

import pytest

from stomp_core import ErrorAction, HandlerFailed, InvalidRequest
from stomp_session import MessageReceived
from stomp_testing import TestBroker
from tests.contract._drivers import HOLD, HandlerDriver
from tests.contract.conftest import MakeHandlerClient
from tests.contract.test_contract import wait_until


class Seen:
    """The messages a handler got, from the client's thread, read by the test's."""

    def __init__(self, result: str | None = None, error: BaseException | None = None) -> None:
        self.messages: list[MessageReceived] = []
        self._lock = threading.Lock()
        self._result = result
        self._error = error

    def __call__(self, message: MessageReceived) -> str | None:
        with self._lock:
            self.messages.append(message)
        if self._error is not None:
            raise self._error
        return self._result

    @property
    def bodies(self) -> list[bytes]:
        with self._lock:
            return [message.body for message in self.messages]

    def count(self) -> int:
        with self._lock:
            return len(self.messages)


def test_a_handler_success_acknowledges_its_message(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    seen = Seen()
    handler_client.subscribe_handler("/queue/a", seen)
    subscribe = broker.frames("SUBSCRIBE")[-1]
    assert subscribe.get("ack") == "client-individual"
    assert subscribe.get("prefetch-count") == "16"
    broker.publish("/queue/a", b"one")
    broker.publish("/queue/a", b"two")
    wait_until(lambda: len(broker.frames("ACK")) == 2)
    assert seen.bodies == [b"one", b"two"]
    assert broker.unacknowledged() == ()


def test_at_most_max_in_flight_handlers_run_and_the_broker_keeps_the_rest(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    seen = Seen(HOLD)
    sub = handler_client.subscribe_handler("/queue/jobs", seen, max_in_flight=2)
    for n in range(5):
        broker.publish("/queue/jobs", f"job {n}".encode())
    wait_until(lambda: seen.count() == 2)
    assert handler_client.in_flight(sub) == 2
    assert len(broker.queued("/queue/jobs")) == 3
    for released in range(5):
        wait_until(lambda n=released: seen.count() > n)
        handler_client.release(seen.messages[released])
    wait_until(lambda: len(broker.frames("ACK")) == 5)
    assert seen.bodies == [f"job {n}".encode() for n in range(5)]


def test_a_failed_handler_forwards_a_copy_to_the_error_destination(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    seen = Seen(error=ValueError("cannot process\na poison order"))
    handler_client.subscribe_handler(
        "/queue/orders", seen, error_destination="/queue/orders.failed"
    )
    broker.publish("/queue/orders", b"poison", {"customer": "42"})
    wait_until(lambda: bool(broker.frames("ACK")))
    (copy,) = broker.queued("/queue/orders.failed")
    assert copy.body == b"poison"
    assert copy.get("customer") == "42"
    assert copy.get("persistent") == "true"
    assert copy.get("handler-error") == "ValueError: cannot process a poison order"
    assert broker.unacknowledged() == ()
    assert broker.frames("NACK") == []


def test_a_failed_handler_without_error_destination_nacks(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    seen = Seen(error=RuntimeError("the database is down"))
    handler_client.subscribe_handler("/queue/invoices", seen)
    broker.publish("/queue/invoices", b"invoice 7")
    wait_until(lambda: len(broker.frames("NACK")) >= 2)  # the broker delivers it again
    assert broker.frames("ACK") == []
    assert seen.messages[1].message.redelivered


def test_an_asynchronous_failure_is_handled_as_a_raised_one(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    seen = Seen(HOLD)
    handler_client.subscribe_handler("/queue/late", seen, error_destination="/queue/late.failed")
    broker.publish("/queue/late", b"slow failure")
    wait_until(lambda: seen.count() == 1)
    handler_client.release(seen.messages[0], KeyError("gone"))
    wait_until(lambda: bool(broker.frames("ACK")))
    (copy,) = broker.queued("/queue/late.failed")
    assert copy.get("handler-error") == "KeyError: 'gone'"


def test_an_on_error_hook_chooses_the_action(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    def skip_bad_input(message: MessageReceived, error: BaseException) -> ErrorAction:
        return ErrorAction.ACK if isinstance(error, ValueError) else ErrorAction.NACK

    seen = Seen(error=ValueError("bad input"))
    handler_client.subscribe_handler(
        "/queue/parse", seen, on_error=skip_bad_input, error_destination="/queue/parse.failed"
    )
    broker.publish("/queue/parse", b"garbage")
    wait_until(lambda: bool(broker.frames("ACK")))
    assert broker.queued("/queue/parse.failed") == ()
    assert broker.frames("NACK") == []


def test_client_mode_acknowledges_in_delivery_order(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    seen = Seen(HOLD)
    handler_client.subscribe_handler("/queue/c", seen, ack="client", max_in_flight=2)
    broker.publish("/queue/c", b"first")
    broker.publish("/queue/c", b"second")
    wait_until(lambda: seen.count() == 2)
    handler_client.release(seen.messages[1])
    handler_client.send("/queue/other", b"x", receipt=True)  # a round trip: any ACK is in
    assert broker.frames("ACK") == []
    handler_client.release(seen.messages[0])
    wait_until(lambda: len(broker.frames("ACK")) == 2)


def test_on_stomp_1_0_a_failure_leaves_the_message_and_ends_the_client(
    make_handler_client: MakeHandlerClient, broker: TestBroker
) -> None:
    client = make_handler_client(versions=["1.0"])
    client.connect()
    seen = Seen(error=RuntimeError("the database is down"))
    client.subscribe_handler("/queue/legacy", seen)
    assert broker.frames("SUBSCRIBE")[-1].get("ack") == "client"
    broker.publish("/queue/legacy", b"legacy order")
    with pytest.raises(HandlerFailed, match=r"RuntimeError\('the database is down'\)") as failed:
        client.ended(timeout=10)
    assert failed.value.subscription == seen.messages[0].subscription.id  # type: ignore[union-attr]
    assert failed.value.unfinished == ()
    assert broker.frames("ACK") == []
    assert broker.frames("DISCONNECT")
    wait_until(lambda: bool(broker.queued("/queue/legacy")))
    assert broker.queued("/queue/legacy")[0].get("redelivered") == "true"


def test_a_graceful_end_waits_for_handlers_then_reports_and_cancels_the_unfinished(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    stuck = Seen(HOLD)
    quick = Seen()
    stuck_id = handler_client.subscribe_handler("/queue/slow", stuck)
    handler_client.subscribe_handler("/queue/fast", quick)
    broker.publish("/queue/slow", b"huge report")
    broker.publish("/queue/fast", b"small report")
    wait_until(lambda: stuck.count() == 1 and bool(broker.frames("ACK")))
    result = handler_client.shut_down(timeout=0.5)
    assert result.receipt
    assert not result.clean
    (item,) = result.unfinished
    assert (item.subscription, item.destination) == (stuck_id, "/queue/slow")
    assert item.message_id == stuck.messages[0].message_id
    assert item.running_for >= 0.5
    assert len(broker.frames("ACK")) == 1
    wait_until(lambda: bool(broker.queued("/queue/slow")))
    assert [m.body for m in broker.queued("/queue/slow")] == [b"huge report"]
    assert handler_client.ended(timeout=5) == result


def test_a_graceful_end_with_every_handler_done_is_clean(
    handler_client: HandlerDriver, broker: TestBroker
) -> None:
    seen = Seen(HOLD)
    handler_client.subscribe_handler("/queue/d", seen)
    broker.publish("/queue/d", b"work")
    wait_until(lambda: seen.count() == 1)
    done = handler_client.in_background(lambda: handler_client.shut_down(timeout=5))
    handler_client.release(seen.messages[0])
    result = done.result(10)
    assert result.clean
    assert len(broker.frames("ACK")) == 1
    ack_at = broker.received.index(broker.frames("ACK")[0])
    assert broker.received.index(broker.frames("DISCONNECT")[0]) > ack_at


def test_max_in_flight_below_one_is_refused(handler_client: HandlerDriver) -> None:
    with pytest.raises(InvalidRequest, match="max_in_flight must be an int >= 1, got 0"):
        handler_client.subscribe_handler("/queue/a", Seen(), max_in_flight=0)

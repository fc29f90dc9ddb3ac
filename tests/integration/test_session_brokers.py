"""stomp-session against real brokers: the protocol core driven by a plain socket loop.

Each test is a small client in a few lines around a ``Session``, which is what the sync and
Twisted clients are; it proves negotiation, acks per version, receipts, transactions and
replay after a lost connection on ActiveMQ and RabbitMQ.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import TypeVar

import pytest

from stomp_commands import AckMode
from stomp_frame import Version
from stomp_session import (
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    MessageReceived,
    ReceiptReceived,
    Session,
    State,
)
from tests.integration._brokers import BrokerInfo, QueueNamer

TIMEOUT = 10.0
E = TypeVar("E")


class Driver:
    """A blocking loop around a session: write what it says, feed it what arrives."""

    def __init__(self, broker: BrokerInfo, version: Version) -> None:
        self.broker = broker
        self.session = Session(
            host=broker.vhost,
            login=broker.login,
            passcode=broker.passcode,
            versions=(version,),
        )
        self.sock: socket.socket | None = None
        self.events: list[Event] = []

    def connect(self) -> Connected:
        self.sock = socket.create_connection(self.broker.address, timeout=TIMEOUT)
        self.sock.sendall(self.session.connect(time.monotonic()))
        return self.wait_for(Connected)

    def write(self, data: bytes) -> None:
        """Write what the session returned."""
        assert self.sock is not None
        self.sock.sendall(data)

    def drop(self) -> None:
        """Close the socket abruptly, as a network failure would."""
        assert self.sock is not None
        self.sock.close()
        self.sock = None
        self.events.extend(self.session.connection_lost(time.monotonic()).events)

    def wait_for(self, kind: type[E], **match: object) -> E:
        deadline = time.monotonic() + TIMEOUT
        while True:
            for index, event in enumerate(self.events):
                if isinstance(event, kind) and all(
                    getattr(event, name) == value for name, value in match.items()
                ):
                    del self.events[index]
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"timed out waiting for {kind.__name__}; have {self.events!r}")
            assert self.sock is not None
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                pytest.fail("the broker closed the connection")
            output = self.session.receive_data(data, time.monotonic())
            if output.data:
                self.sock.sendall(output.data)
            self.events.extend(output.events)

    def message(self) -> MessageReceived:
        event = self.wait_for(MessageReceived)
        assert isinstance(event, MessageReceived)
        return event

    def nothing_for(self, seconds: float) -> None:
        assert self.sock is not None
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        output = self.session.receive_data(data, time.monotonic())
        unexpected = [e for e in output.events if isinstance(e, MessageReceived)]
        assert not unexpected, unexpected

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            if self.session.state is State.CONNECTED:
                self.write(self.session.disconnect(receipt="bye"))
                self.wait_for(Disconnected)
        finally:
            self.sock.close()


@pytest.fixture
def driver(broker: BrokerInfo, version: Version) -> Iterator[Driver]:
    client = Driver(broker, version)
    yield client
    client.close()


def _individual(version: Version) -> AckMode:
    return "client" if version is Version.V1_0 else "client-individual"


def test_negotiates_the_only_version_offered(driver: Driver, version: Version) -> None:
    connected = driver.connect()
    assert isinstance(connected, Connected)
    assert connected.version is version
    assert driver.session.version is version


def test_send_receive_and_ack_with_receipts(
    driver: Driver, version: Version, unique_queue: QueueNamer
) -> None:
    driver.connect()
    queue = unique_queue("ack")
    _, data = driver.session.subscribe(queue, ack=_individual(version), receipt="sub")
    driver.write(data)
    driver.wait_for(ReceiptReceived)
    driver.write(driver.session.send(queue, b"payload", receipt="sent"))
    message = driver.message()
    assert message.body == b"payload"
    assert message.destination == queue
    driver.write(driver.session.ack(message, receipt="acked"))
    receipts = {driver.wait_for(ReceiptReceived).receipt_id for _ in range(2)}
    assert receipts == {"sent", "acked"}


def test_transaction_sends_appear_only_after_commit_and_never_after_abort(
    driver: Driver, unique_queue: QueueNamer
) -> None:
    driver.connect()
    queue = unique_queue("tx")
    _, data = driver.session.subscribe(queue, receipt="sub")
    driver.write(data)
    driver.wait_for(ReceiptReceived)

    aborted, data = driver.session.begin()
    driver.write(data)
    driver.write(driver.session.send(queue, b"never", transaction=aborted))
    driver.write(driver.session.abort(aborted, receipt="aborted"))
    driver.wait_for(ReceiptReceived)

    committed, data = driver.session.begin()
    driver.write(data)
    driver.write(driver.session.send(queue, b"first", transaction=committed))
    driver.write(driver.session.send(queue, b"second", transaction=committed))
    driver.nothing_for(0.5)
    driver.write(driver.session.commit(committed))
    assert [driver.message().body, driver.message().body] == [b"first", b"second"]
    driver.nothing_for(0.5)


@pytest.mark.parametrize("version", [Version.V1_1, Version.V1_2], ids=["1.1", "1.2"])
def test_nack_gives_the_message_back_to_the_broker(
    driver: Driver, broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    driver.connect()
    queue = unique_queue("nack")
    _, data = driver.session.subscribe(queue, ack="client-individual")
    driver.write(data)
    driver.write(driver.session.send(queue, b"refused", headers={"persistent": "true"}))
    message = driver.message()
    driver.write(driver.session.nack(message, receipt="nacked"))
    driver.wait_for(ReceiptReceived)
    if broker.facts.nack == "requeue":
        # RabbitMQ requeues a NACKed message at once, marked as redelivered.
        again = driver.message()
        assert again.body == b"refused"
        assert again.message.redelivered
        driver.write(driver.session.ack(again))
    elif broker.facts.nack == "discard":
        # Artemis takes a NACK as an ACK: the message is gone, not redelivered.
        driver.nothing_for(0.5)
        driver.write(driver.session.unsubscribe(next(iter(driver.session.subscriptions))))
        _, data = driver.session.subscribe(queue, receipt="again")
        driver.write(data)
        driver.wait_for(ReceiptReceived)
        driver.nothing_for(0.5)
    else:
        # ActiveMQ moves it to the dead-letter queue of its destination.
        dead_letters = broker.dead_letter_queue(queue)
        assert dead_letters is not None
        _, data = driver.session.subscribe(dead_letters)
        driver.write(data)
        assert driver.message().body == b"refused"


def test_subscriptions_are_replayed_after_a_lost_connection(
    driver: Driver, version: Version, unique_queue: QueueNamer
) -> None:
    driver.connect()
    first, second = unique_queue("replay-a"), unique_queue("replay-b")
    for queue in (first, second):
        _, data = driver.session.subscribe(queue, ack=_individual(version))
        driver.write(data)
    driver.drop()
    connected = driver.connect()
    assert isinstance(connected, Connected)
    driver.write(driver.session.send(first, b"to a"))
    driver.write(driver.session.send(second, b"to b"))
    bodies = set()
    for _ in range(2):
        message = driver.message()
        bodies.add(message.body)
        driver.write(driver.session.ack(message))
    assert bodies == {b"to a", b"to b"}


def test_an_ack_for_a_message_of_the_old_connection_is_refused(
    driver: Driver, version: Version, unique_queue: QueueNamer
) -> None:
    from stomp_session import LocalProtocolError

    driver.connect()
    queue = unique_queue("stale")
    _, data = driver.session.subscribe(queue, ack=_individual(version))
    driver.write(data)
    driver.write(driver.session.send(queue, b"stale"))
    old = driver.message()
    driver.drop()
    driver.connect()
    with pytest.raises(LocalProtocolError):
        driver.session.ack(old)
    redelivered = driver.message()
    assert redelivered.body == b"stale"
    driver.write(driver.session.ack(redelivered, receipt="acked"))
    driver.wait_for(ReceiptReceived)


def test_a_broker_error_is_an_event_with_its_frame(
    driver: Driver, broker: BrokerInfo, version: Version
) -> None:
    driver.connect()
    # The session refuses malformed frames locally, so provoke the broker with a COMMIT of a
    # transaction it never saw (the session knows it: its BEGIN is not written).
    tx, _ = driver.session.begin()  # BEGIN deliberately not written
    driver.write(driver.session.commit(tx, receipt="bad-commit"))
    error = driver.wait_for(ErrorReceived)
    assert isinstance(error, ErrorReceived)
    assert error.error.message
    assert error.error.frame.command == "ERROR"
    if version.value in broker.facts.closes_on_error:
        assert driver.sock is not None
        driver.sock.settimeout(TIMEOUT)
        assert driver.sock.recv(65536) == b"", "the broker closes the connection after an ERROR"
        driver.drop()
    else:
        driver.write(driver.session.send("/topic/still-open", b"", receipt="still-open"))
        driver.wait_for(ReceiptReceived)

"""stomp-twisted's client against real ActiveMQ and RabbitMQ, on the real (global) reactor.

The reactor runs for the whole session in a daemon thread; each test runs its scenario, an
``async def`` on the reactor thread, with ``blockingCallFromThread`` and a timeout (a hung
scenario is cancelled, and fails the test, instead of hanging it). Broker restarts, which block
for seconds, happen on the test's thread between two scenarios. This keeps the tests plain
pytest functions (no plugin, no greenlets) and works with any other test in the same run: the
reactor can only run once per process, and here it runs once, for all of them.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from stomp_session import MessageReceived
from stomp_twisted import (
    ERROR_HEADER,
    BrokerError,
    Client,
    ClientState,
    ConnectFailed,
    ErrorAction,
    TlsOptions,
)
from stomp_twisted.testing import ReactorThread
from tests.integration._brokers import BrokerInfo, QueueNamer, client_settings

T = TypeVar("T")
TIMEOUT = 10.0


def make_client(broker: BrokerInfo, reactor: Any, uri: str | None = None, **options: Any) -> Client:
    settings: dict[str, Any] = {**client_settings(broker, TIMEOUT), "reactor": reactor, **options}
    host, port = broker.address
    return Client(uri or f"tcp://{host}:{port}", **settings)


async def within(reactor: Any, waited: Deferred[T], seconds: float = TIMEOUT) -> T:
    result: T = await waited.addTimeout(seconds, reactor)
    return result


async def left_in(
    broker: BrokerInfo, reactor: Any, queue: str, expect: int = 0
) -> list[tuple[bytes, bool]]:
    """What is still in *queue*: a marker is sent, then everything is read up to it.

    A message left unacknowledged by an earlier consumer comes back before the marker, or
    just after it when the broker requeues it late (RabbitMQ requeues asynchronously when a
    connection closes): with *expect*, reading goes on until that many other messages came.
    """
    marker = uuid.uuid4().hex.encode()
    found: list[tuple[bytes, bool]] = []
    seen_marker = False
    enough: Deferred[None] = Deferred()

    def collect(message: MessageReceived) -> None:
        nonlocal seen_marker
        if message.body == marker:
            seen_marker = True
        else:
            found.append((message.body, message.message.redelivered))
        if seen_marker and len(found) >= expect and not enough.called:
            enough.callback(None)

    async with make_client(broker, reactor) as client:
        await client.send(queue, marker, receipt=True)
        await client.subscribe(queue, collect, receipt=True)
        await within(reactor, enough)
    return found


class Gates:
    """Async handlers that wait until released; they count how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.pending: list[Deferred[None]] = []
        self.done: list[bytes] = []
        self.full: Deferred[None] = Deferred()
        self.wanted = 0

    async def handler(self, message: MessageReceived) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        gate: Deferred[None] = Deferred()
        self.pending.append(gate)
        if len(self.pending) >= self.wanted and not self.full.called:
            self.full.callback(None)
        try:
            await gate
        finally:
            self.running -= 1
        self.done.append(message.body)

    def release_all(self) -> None:
        pending, self.pending = self.pending, []
        for gate in pending:
            gate.callback(None)


def test_handlers_run_concurrently_up_to_the_limit_and_are_acked(
    broker: BrokerInfo,
    unique_queue: QueueNamer,
    twisted_reactor: ReactorThread,
) -> None:
    queue = unique_queue("tw-concurrency")
    count = 12

    async def scenario(reactor: Any) -> tuple[int, list[bytes], list[tuple[bytes, bool]]]:
        gates = Gates()
        gates.wanted = 4
        async with make_client(broker, reactor) as client:
            for n in range(count):
                await client.send(queue, b"%02d" % n, receipt=n == count - 1)
            everything: Deferred[None] = Deferred()
            sub = await client.subscribe(queue, gates.handler, max_in_flight=4, receipt=True)
            await within(reactor, gates.full)
            # Give the broker time to push more if it would (it must not: prefetch is 4).
            await deferLater(reactor, 0.3)
            assert gates.running == 4
            assert sub.in_flight == 4
            while len(gates.done) < count:
                gates.release_all()
                await deferLater(reactor, 0.05)
            everything.callback(None)
            await everything
        return gates.peak, sorted(gates.done), await left_in(broker, reactor, queue)

    peak, done, left = twisted_reactor.run(scenario)
    assert peak == 4
    assert done == [b"%02d" % n for n in range(count)]
    assert left == []  # every one was acknowledged


def test_a_failed_message_goes_to_the_error_destination(
    broker: BrokerInfo, unique_queue: QueueNamer, twisted_reactor: ReactorThread
) -> None:
    queue, errors = unique_queue("tw-routing"), unique_queue("tw-errors")

    async def scenario(reactor: Any) -> tuple[MessageReceived, list[tuple[bytes, bool]]]:
        copies: Deferred[MessageReceived] = Deferred()

        def handler(message: MessageReceived) -> None:
            if message.body == b"bad":
                raise ValueError("cannot parse\nthis")

        async with make_client(broker, reactor) as client:
            await client.subscribe(queue, handler, error_destination=errors, receipt=True)
            await client.subscribe(errors, copies.callback, receipt=True)
            await client.send(queue, b"bad", headers={"order": "17"}, receipt=True)
            copy = await within(reactor, copies)
        return copy, await left_in(broker, reactor, queue)

    copy, left = twisted_reactor.run(scenario)
    assert copy.body == b"bad"
    assert copy.frame.get(ERROR_HEADER) == "ValueError: cannot parse this"
    assert copy.frame.get("order") == "17"
    assert copy.frame.get("persistent") == "true"
    assert left == []  # the original was acknowledged once the copy was stored


def test_a_failed_message_is_nacked_without_error_destination(
    broker: BrokerInfo, unique_queue: QueueNamer, twisted_reactor: ReactorThread
) -> None:
    queue = unique_queue("tw-nack")
    dead_letters = broker.dead_letter_queue(queue)

    async def scenario(reactor: Any) -> list[tuple[bytes, bool]]:
        seen: list[tuple[bytes, bool]] = []
        second: Deferred[None] = Deferred()
        dead: Deferred[MessageReceived] = Deferred()

        def handler(message: MessageReceived) -> None:
            seen.append((message.body, message.message.redelivered))
            if not message.message.redelivered:
                raise RuntimeError("try again")
            second.callback(None)

        async with make_client(broker, reactor) as client:
            await client.subscribe(queue, handler, receipt=True)
            if dead_letters is not None:
                await client.subscribe(dead_letters, dead.callback, receipt=True)
            await client.send(queue, b"payload", headers={"persistent": "true"}, receipt=True)
            if broker.facts.nack == "discard":
                await deferLater(reactor, 0.5)  # Artemis drops it: nothing comes back
            elif dead_letters is None:
                await within(reactor, second)  # RabbitMQ redelivers a NACKed message at once
            else:
                moved = await within(reactor, dead)  # ActiveMQ dead-letters it
                seen.append((moved.body, moved.message.redelivered))
        if broker.facts.nack == "discard":
            seen.extend(await left_in(broker, reactor, queue))
        return seen

    seen = twisted_reactor.run(scenario)
    assert seen[0] == (b"payload", False)
    if broker.facts.nack == "discard":
        assert seen == [(b"payload", False)]
    elif dead_letters is None:
        assert seen[1] == (b"payload", True)
    else:
        assert seen[1][0] == b"payload"


def test_graceful_shutdown_waits_for_in_flight_handlers(
    broker: BrokerInfo,
    unique_queue: QueueNamer,
    twisted_reactor: ReactorThread,
) -> None:
    queue = unique_queue("tw-shutdown")

    async def scenario(reactor: Any) -> tuple[bool, bool, list[tuple[bytes, bool]]]:
        gates = Gates()
        gates.wanted = 2
        client = make_client(broker, reactor)
        await client.connect()
        await client.subscribe(queue, gates.handler, max_in_flight=2, receipt=True)
        await client.send(queue, b"a", receipt=True)
        await client.send(queue, b"b", receipt=True)
        await within(reactor, gates.full)
        reactor.callLater(0.3, gates.release_all)  # they finish while the client waits
        result = await client.disconnect()
        return (
            result.clean,
            client.state is ClientState.CLOSED,
            await left_in(broker, reactor, queue),
        )

    clean, ended, left = twisted_reactor.run(scenario)
    assert clean
    assert ended
    assert left == []  # acked before DISCONNECT


def test_graceful_shutdown_gives_up_and_reports_handlers_that_never_finish(
    broker: BrokerInfo, unique_queue: QueueNamer, twisted_reactor: ReactorThread
) -> None:
    queue = unique_queue("tw-giveup")

    async def scenario(reactor: Any) -> tuple[list[str], list[tuple[bytes, bool]]]:
        gates = Gates()
        gates.wanted = 1
        client = make_client(broker, reactor)
        await client.connect()
        await client.subscribe(queue, gates.handler, receipt=True)
        await client.send(queue, b"stuck", receipt=True)
        await within(reactor, gates.full)
        result = await client.disconnect(timeout=0.5)
        assert result.receipt
        left = await left_in(broker, reactor, queue, expect=1)
        return [u.destination for u in result.unfinished], left

    unfinished, left = twisted_reactor.run(scenario)
    assert unfinished == [queue]
    assert left == [(b"stuck", True)]  # not acknowledged: delivered again, marked


def test_an_error_frame_fails_the_request_with_the_frame(
    broker: BrokerInfo, twisted_reactor: ReactorThread
) -> None:
    async def scenario(reactor: Any) -> tuple[BrokerError, str]:
        client = make_client(broker, reactor)
        await client.connect()
        try:
            # ActiveMQ refuses a selector that does not parse (RabbitMQ ignores selectors);
            # RabbitMQ knows no such destination type (ActiveMQ makes a queue of it).
            await client.subscribe("/queue/x", print, headers={"selector": "a = ("}, receipt=True)
            await client.send("/nowhere/x", b"x", receipt=True)
        except BrokerError as error:
            # With a receipt-id it answers that request; without one (RabbitMQ, Artemis) it
            # fails every request still awaiting its receipt: here, the one that caused it.
            await client.disconnect()
            return error, client.state.value
        msg = "no ERROR came"
        raise AssertionError(msg)

    error, outcome = twisted_reactor.run(scenario)
    assert error.frame.command == "ERROR"
    assert error.error.message
    assert outcome == "closed"  # the client went on, then disconnected when asked
    if broker.facts.selector_refusal == "answered":  # ActiveMQ
        assert error.command == "SUBSCRIBE"
    elif broker.facts.selector_refusal == "unanswered":  # Artemis: no receipt-id in it
        assert error.command is None
        assert error.error.message == 'Invalid selector "a = ("'
    else:
        assert error.command is None
        assert error.error.message == "Unknown destination"


def test_failover_after_a_broker_restart_resubscribes(
    broker: BrokerInfo, unique_queue: QueueNamer, twisted_reactor: ReactorThread
) -> None:
    if not broker.restartable:
        pytest.fail(f"{broker.name} was not started by scripts/brokers/start.sh: cannot restart it")
    queue = unique_queue("tw-failover")
    host, port = broker.address
    uri = (
        f"failover:(tcp://{host}:{port})?initialReconnectDelay=200&maxReconnectDelay=2000"
        "&maxReconnectAttempts=200"
    )
    received: list[bytes] = []
    arrivals: list[Deferred[None]] = []
    holder: dict[str, Client] = {}

    def handler(message: MessageReceived) -> None:
        received.append(message.body)
        for waiter in arrivals:
            if not waiter.called:
                waiter.callback(None)

    async def before(reactor: Any) -> None:
        client = make_client(broker, reactor, uri, heart_beat=(2000, 2000))
        holder["client"] = client
        await client.connect()
        await client.subscribe(queue, handler, receipt=True)
        arrived: Deferred[None] = Deferred()
        arrivals.append(arrived)
        await client.send(queue, b"before", receipt=True)
        await within(reactor, arrived)

    async def after(reactor: Any) -> tuple[int, list[bytes]]:
        client = holder["client"]
        arrived: Deferred[None] = Deferred()
        arrivals.append(arrived)
        # Waits for the reconnection (receipt timeout covers it), then goes out.
        await client.send(queue, b"after", receipt=True, timeout=60)
        await within(reactor, arrived, 30)
        connects = client.connected
        assert connects is not None
        result = await client.disconnect()
        assert result.receipt
        return len(arrivals), list(received)

    twisted_reactor.run(before)
    broker.restart()
    arrived_count, bodies = twisted_reactor.run(after, timeout=120)
    assert arrived_count == 2
    assert bodies == [b"before", b"after"]  # the replayed subscription got it


def test_tls_verified_with_a_client_certificate(
    tls_broker: BrokerInfo, unique_queue: QueueNamer, twisted_reactor: ReactorThread
) -> None:
    queue = unique_queue("tw-tls")
    host, port = tls_broker.tls_address
    assert tls_broker.ca_file is not None
    tls = TlsOptions(
        ca_file=tls_broker.ca_file,
        client_cert=tls_broker.client_cert,
        client_key=tls_broker.client_key,
    )

    async def scenario(reactor: Any) -> bytes:
        got: Deferred[MessageReceived] = Deferred()
        async with make_client(tls_broker, reactor, f"ssl://{host}:{port}", tls=tls) as client:
            await client.subscribe(queue, got.callback, receipt=True)
            await client.send(queue, b"over tls", receipt=True)
            message = await within(reactor, got)
        return message.body

    assert twisted_reactor.run(scenario) == b"over tls"

    async def wrong_name(reactor: Any) -> BaseException | None:
        client = make_client(
            tls_broker,
            reactor,
            f"ssl://{host}:{port}?serverHostname=wrong.example&startupMaxReconnectAttempts=0",
            tls=TlsOptions(ca_file=tls_broker.ca_file),
        )
        try:
            await client.connect()
        except ConnectFailed as failed:
            return failed.cause
        await client.disconnect()
        return None

    cause = twisted_reactor.run(wrong_name)
    assert cause is not None
    assert "wrong.example" in str(cause)


def test_stomp_1_0_poison_pill_leaves_the_message_for_redelivery(
    broker: BrokerInfo, unique_queue: QueueNamer, twisted_reactor: ReactorThread
) -> None:
    queue = unique_queue("tw-poison")

    async def scenario(reactor: Any) -> tuple[str, list[tuple[bytes, bool]]]:
        def handler(message: MessageReceived) -> None:
            raise RuntimeError("poison")

        client = make_client(broker, reactor, versions=["1.0"])
        await client.connect()
        ended = client.disconnected
        # Sent first: RabbitMQ may answer the DISCONNECT of the poison pill before the RECEIPT
        # of an earlier SEND (its SEND receipts wait for the store), and that one is lost.
        await client.send(queue, b"pill", receipt=True)
        await client.subscribe(queue, handler)
        try:
            await within(reactor, ended)
        except Exception as error:  # noqa: BLE001 - the failure is what is checked
            reason = type(error).__name__
        else:
            reason = "no failure"
        return reason, await left_in(broker, reactor, queue, expect=1)

    reason, left = twisted_reactor.run(scenario)
    assert reason == "HandlerFailed"
    assert [body for body, _ in left] == [b"pill"]


def test_an_on_error_hook_can_drop_a_message(
    broker: BrokerInfo, unique_queue: QueueNamer, twisted_reactor: ReactorThread
) -> None:
    queue = unique_queue("tw-hook")

    async def scenario(reactor: Any) -> list[tuple[bytes, bool]]:
        decided: Deferred[None] = Deferred()

        def hook(message: MessageReceived, error: BaseException) -> ErrorAction:
            reactor.callLater(0.2, decided.callback, None)
            return ErrorAction.ACK

        def handler(message: MessageReceived) -> None:
            raise RuntimeError("unwanted")

        async with make_client(broker, reactor) as client:
            await client.subscribe(queue, handler, on_error=hook, receipt=True)
            await client.send(queue, b"drop me", receipt=True)
            await within(reactor, decided)
        return await left_in(broker, reactor, queue)

    assert twisted_reactor.run(scenario) == []

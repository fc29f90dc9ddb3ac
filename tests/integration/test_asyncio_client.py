"""stomp-asyncio's client against real ActiveMQ and RabbitMQ, over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from stomp_asyncio import (
    ERROR_HEADER,
    BrokerError,
    Client,
    ConnectFailed,
    ConnectionLost,
    HandlerFailed,
    MessageReceived,
    MessageStale,
    NotConnected,
    Reconnected,
    TlsOptions,
    WaitTimeout,
)
from stomp_frame import Version
from tests.integration._brokers import BrokerInfo, QueueNamer, client_settings, uri_of

TIMEOUT = 10.0
VERSIONS = [Version.V1_0, Version.V1_1, Version.V1_2]
NACK_VERSIONS = [Version.V1_1, Version.V1_2]
T = TypeVar("T")


def run(test: Callable[[], Awaitable[T]], timeout: float = 120.0) -> T:
    """Run one test's coroutine on a fresh loop, failing it after *timeout* seconds."""

    async def main() -> T:
        return await asyncio.wait_for(test(), timeout)

    return asyncio.run(main())


def make_client(broker: BrokerInfo, *, uri: str | None = None, **options: object) -> Client:
    settings = {**client_settings(broker, TIMEOUT), **options}
    return Client(uri or uri_of(broker), **settings)  # type: ignore[arg-type]


def individual(version: Version) -> str:
    """The per-message ack mode of the version (1.0 has only ``client``)."""
    return "client" if version is Version.V1_0 else "client-individual"


async def expect(client: Client) -> MessageReceived:
    message = await client.receive(timeout=TIMEOUT)
    assert message is not None, "no message within the timeout"
    return message


def test_the_version_offered_is_negotiated(broker: BrokerInfo, version: Version) -> None:
    async def test() -> None:
        async with make_client(broker, versions=(version,)) as client:
            assert client.version is version
            assert client.connected is not None
            if version is Version.V1_0 and not broker.facts.server_in_1_0:
                assert client.connected.server is None  # Artemis names itself from 1.1 on
            else:
                assert client.connected.server

    run(test)


def test_send_receive_and_ack_with_receipts(
    broker: BrokerInfo, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-ack")

    async def test() -> None:
        async with make_client(broker, versions=(version,)) as client:
            await client.subscribe(queue, ack=individual(version), receipt=True)  # type: ignore[arg-type]
            for n in range(3):
                await client.send(queue, f"message {n}".encode(), receipt=True)
            bodies = []
            async for message in client.messages(idle_timeout=TIMEOUT):
                bodies.append(message.body)
                await client.ack(message, receipt=True)
                if len(bodies) == 3:
                    break
            assert bodies == [b"message 0", b"message 1", b"message 2"]
            assert await client.receive(timeout=0.5) is None, "acked messages do not come back"
        async with make_client(broker, versions=(version,)) as again:
            await again.subscribe(queue, receipt=True)
            assert await again.receive(timeout=0.5) is None

    run(test)


@pytest.mark.parametrize("version", NACK_VERSIONS, ids=["1.1", "1.2"])
def test_nack_and_redelivery(
    broker: BrokerInfo, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-nack")

    async def test() -> None:
        async with make_client(broker, versions=(version,)) as client:
            await client.subscribe(queue, ack="client-individual")
            await client.send(queue, b"refused", headers={"persistent": "true"}, receipt=True)
            await client.nack(await expect(client), receipt=True)
            dead_letters = broker.dead_letter_queue(queue)
            if broker.facts.nack == "discard":  # Artemis: a NACK acknowledges, it is gone
                assert await client.receive(timeout=0.5) is None
                return
            if dead_letters is None:  # RabbitMQ requeues at once, marked
                again = await expect(client)
                assert again.message.redelivered
            else:  # ActiveMQ moves a persistent message to the queue's dead-letter queue
                await client.subscribe(dead_letters, ack="client-individual")
                again = await expect(client)
            assert again.body == b"refused"
            await client.ack(again, receipt=True)

    run(test)


def test_transaction_commit_and_abort(
    broker: BrokerInfo, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-tx")

    async def test() -> None:
        async with make_client(broker, versions=(version,)) as client:
            await client.subscribe(queue, receipt=True)
            async with client.transaction() as tx:
                await client.send(queue, b"first", transaction=tx)
                await client.send(queue, b"second", transaction=tx)
                assert await client.receive(timeout=0.5) is None, "nothing before the commit"
            assert [(await expect(client)).body, (await expect(client)).body] == [
                b"first",
                b"second",
            ]

            async def abort_inside() -> None:
                async with client.transaction() as tx:
                    await client.send(queue, b"never", transaction=tx)
                    raise LookupError

            with pytest.raises(LookupError):
                await abort_inside()
            await client.send(queue, b"after", receipt=True)
            assert (await expect(client)).body == b"after", "the aborted message never appears"
            assert await client.receive(timeout=0.3) is None

    run(test)


def test_acks_in_an_aborted_transaction_leave_the_message_unacknowledged(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-tx-ack")

    async def test() -> None:
        async with make_client(broker) as client:
            await client.subscribe(queue, ack="client-individual")
            await client.send(queue, b"x", receipt=True)
            message = await expect(client)
            tx = await client.begin()
            await client.ack(message, transaction=tx)
            await client.abort(tx, receipt=True)
        async with make_client(broker) as again:
            await again.subscribe(queue, ack="client-individual")
            if not broker.facts.transactional_acks:  # Artemis applied the ack at once
                assert await again.receive(timeout=0.5) is None
                return
            redelivered = await expect(again)
            assert redelivered.body == b"x"
            await again.ack(redelivered, receipt=True)

    run(test)


def test_receipts_for_subscribe_unsubscribe_and_disconnect(
    broker: BrokerInfo, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-receipts")

    async def test() -> None:
        client = make_client(broker, versions=(version,))
        await client.connect()
        sub = await client.subscribe(queue, receipt=True)
        await client.send(queue, b"x", receipt=True)
        assert (await expect(client)).body == b"x"
        await client.unsubscribe(sub, receipt=True)
        result = await client.disconnect()
        assert result.receipt
        assert not client.is_connected

    run(test)


def test_binary_body_with_nul_bytes_and_one_mebibyte(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-binary")
    binary = bytes(range(256)) * 4 + b"\x00\x00end\x00"
    big = bytes(i % 251 for i in range(1 << 20))

    async def test() -> None:
        async with make_client(broker) as client:
            await client.subscribe(queue)
            await client.send(queue, binary, receipt=True)
            await client.send(queue, big, receipt=True)
            assert (await expect(client)).body == binary
            assert (await expect(client)).body == big

    run(test)


def test_heart_beats_keep_an_idle_connection_alive(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-idle")

    async def test() -> None:
        async with make_client(broker, heart_beat=(1000, 1000), auto_reconnect=False) as client:
            assert client.connected is not None
            assert client.connected.heart_beat[0] > 0
            await asyncio.sleep(4.5)  # the caller awaits something else for three intervals
            assert client.is_connected
            await client.subscribe(queue)
            await client.send(queue, b"still here", receipt=True)
            assert (await expect(client)).body == b"still here"

    run(test)


def test_bad_credentials_are_a_broker_error(broker: BrokerInfo) -> None:
    async def test() -> None:
        client = make_client(broker, passcode="wrong-" + broker.passcode, connected_timeout=30.0)
        with pytest.raises(BrokerError) as info:
            await client.connect()
        assert "wrong-" not in str(info.value)
        assert not client.is_connected

    run(test)


def test_a_bad_frame_gets_the_brokers_error_as_a_typed_error(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    # Artemis closes the connection after any ERROR on 1.2: no reconnection, to see it closed.
    closes = Version.V1_2.value in broker.facts.closes_on_error

    async def test() -> None:
        async with make_client(broker, auto_reconnect=not closes) as client:

            async def provoke() -> None:
                if broker.facts.selector_refusal != "ignored":  # refuses a bad selector
                    await client.subscribe(
                        unique_queue("bad"), headers={"selector": "a = = b"}, receipt=True
                    )
                else:  # RabbitMQ refuses an unknown kind of destination
                    await client.send("/no-such-kind/x", b"x", receipt=True)

            with pytest.raises(BrokerError) as info:
                await provoke()
            assert info.value.frame.command == "ERROR"
            if closes:
                with pytest.raises(ConnectionLost):
                    await client.receive(timeout=TIMEOUT)
            else:
                assert client.is_connected

    run(test)


def test_tls_with_the_test_ca(tls_broker: BrokerInfo, unique_queue: QueueNamer) -> None:
    queue = unique_queue("aio-tls")
    options = TlsOptions(
        ca_file=tls_broker.ca_file,
        client_cert=tls_broker.client_cert,
        client_key=tls_broker.client_key,
    )

    async def test() -> None:
        for tls in (options, tls_broker.ssl_context(client_cert=True)):
            async with make_client(tls_broker, uri=uri_of(tls_broker, tls=True), tls=tls) as client:
                await client.subscribe(queue)
                await client.send(queue, b"over TLS", receipt=True)
                assert (await expect(client)).body == b"over TLS"

    run(test)


def test_tls_refuses_a_wrong_host_name(tls_broker: BrokerInfo) -> None:
    host, port = tls_broker.tls_address
    uri = (
        f"failover:(ssl://{host}:{port}?serverHostname=not-the-broker.example)"
        "?startupMaxReconnectAttempts=0"
    )

    async def test() -> None:
        client = make_client(tls_broker, uri=uri, tls=tls_broker.ssl_context(client_cert=True))
        with pytest.raises(ConnectFailed) as info:
            await client.connect()
        assert isinstance(info.value.cause, ssl.SSLCertVerificationError)
        assert "not-the-broker.example" in str(info.value.cause)

    run(test)


def test_tls_without_the_ca_does_not_verify(tls_broker: BrokerInfo) -> None:
    async def test() -> None:
        uri = uri_of(tls_broker, tls=True, options="startupMaxReconnectAttempts=0")
        client = make_client(tls_broker, uri=uri)  # the system trust store: not the test CA
        with pytest.raises(ConnectFailed) as info:
            await client.connect()
        assert isinstance(info.value.cause, ssl.SSLCertVerificationError)

    run(test)


def test_a_dropped_connection_is_reconnected_and_subscriptions_replayed(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-replay")
    told: list[Reconnected] = []

    async def test() -> None:
        async with make_client(broker, on_reconnect=told.append) as client:
            await client.subscribe(queue, ack="client-individual")
            await client.send(queue, b"before", receipt=True)
            old = await expect(client)
            protocol = client._link.protocol
            assert protocol is not None
            assert protocol.transport is not None
            protocol.transport.abort()  # the connection drops under the client
            again = await expect(client)  # reconnects and resubscribes meanwhile
            assert told, "the caller is told"
            assert told[0].connected.resubscribed
            assert again.body == b"before"
            assert again.message.redelivered
            with pytest.raises(MessageStale):
                await client.ack(old)
            await client.ack(again, receipt=True)

    run(test)


def test_restart_mid_stream_loses_nothing(
    broker: BrokerInfo, unique_queue: QueueNamer, caplog: pytest.LogCaptureFixture
) -> None:
    """10,000 persistent messages; the broker restarts in the middle; every one arrives.

    As the blocking client's test: once the consumer has a third of the messages it starts
    the restart and holds its acks until the broker is down (so that un-acked messages must
    be redelivered), and the producer waits for the broker to go down after sending half
    (so that it sends into the outage and must reconnect and re-send what was not confirmed).
    """
    if not broker.restartable:
        pytest.skip(f"{broker.name} was not started by scripts/brokers/start.sh")
    caplog.set_level(logging.ERROR, "stomp_asyncio")
    total, batch = 10_000, 100
    queue = unique_queue("aio-restart")
    uri = uri_of(
        broker,
        options="initialReconnectDelay=200&maxReconnectDelay=1000&maxReconnectAttempts=300",
    )
    received: Counter[int] = Counter()
    unmarked_duplicates: list[int] = []
    reconnections: list[Reconnected] = []

    async def test() -> None:
        stopped, restarted = asyncio.Event(), asyncio.Event()

        async def produce() -> None:
            producer = make_client(broker, uri=uri)
            await producer.connect()
            try:
                sent = 0
                while sent < total:
                    if sent == total // 2:
                        await asyncio.wait_for(stopped.wait(), 180)
                    size = min(batch, total - sent)
                    resend = False
                    while True:
                        try:
                            for n in range(sent, sent + size):
                                headers = {"persistent": "true", "seq": str(n)}
                                if resend:
                                    headers["x-resent"] = "true"
                                last = n == sent + size - 1
                                await producer.send(queue, b"%d" % n, headers=headers, receipt=last)
                            break
                        except (ConnectionLost, WaitTimeout):
                            resend = True  # stored in part, perhaps: send it again, marked
                    sent += size
            finally:
                producer.close()

        async def restart() -> None:
            await asyncio.to_thread(broker.stop)
            stopped.set()
            await asyncio.to_thread(broker.start)
            restarted.set()

        consumer = make_client(broker, uri=uri, on_reconnect=reconnections.append)
        await consumer.connect()
        await consumer.subscribe(
            queue,
            ack="client-individual",
            headers={"activemq.prefetchSize": "200", "prefetch-count": "200"},
            receipt=True,
        )
        producing = asyncio.ensure_future(produce())
        restarting: asyncio.Future[None] | None = None
        try:
            while len(received) < total:
                if producing.done() and producing.exception() is not None:
                    raise producing.exception()  # type: ignore[misc]
                if len(received) >= total // 3 and restarting is None:
                    restarting = asyncio.ensure_future(restart())
                message = await consumer.receive(timeout=5.0)
                if message is None:
                    continue
                seq = int(message.frame.get("seq") or "-1")
                if received[seq] and not (
                    message.message.redelivered or message.frame.get("x-resent") == "true"
                ):
                    unmarked_duplicates.append(seq)
                received[seq] += 1
                if restarting is not None and not stopped.is_set():
                    continue  # hold the ack: the broker must redeliver it after the restart
                with contextlib.suppress(MessageStale, ConnectionLost, NotConnected):
                    await consumer.ack(message)
            await producing
            assert restarting is not None
            await restarting
        finally:
            producing.cancel()
            consumer.close()
        assert restarted.is_set(), "the broker restart did not complete"

    run(test, timeout=400.0)
    assert reconnections, "the consumer never lost its connection"
    duplicates = sum(received.values()) - len(received)
    logging.getLogger(__name__).warning(
        "%s restart (asyncio): %d distinct, %d duplicates (all marked), %d reconnections",
        broker.name,
        len(received),
        duplicates,
        len(reconnections),
    )
    missing = sorted(set(range(total)) - set(received))
    assert not missing, f"{len(missing)} messages never arrived, first {missing[:10]}"
    assert duplicates > 0, "the acks held over the restart must come back"
    assert not unmarked_duplicates, (
        f"duplicates without a redelivery mark: {unmarked_duplicates[:10]}"
    )


# -- handlers per subscription ------------------------------------------------------------------


async def left_in(broker: BrokerInfo, queue: str, expect: int = 0) -> list[tuple[bytes, bool]]:
    """What is still in *queue*: a marker is sent, then everything is read up to it.

    With *expect*, reading goes on until that many other messages came (RabbitMQ
    requeues a closed connection's messages asynchronously, perhaps after the marker).
    """
    marker = uuid.uuid4().hex.encode()
    found: list[tuple[bytes, bool]] = []
    seen_marker = False
    async with make_client(broker) as client:
        await client.send(queue, marker, receipt=True)
        await client.subscribe(queue, ack="client-individual", receipt=True)
        while not (seen_marker and len(found) >= expect):
            message = await expect_message(client)
            if message.body == marker:
                seen_marker = True
            else:
                found.append((message.body, message.message.redelivered))
            await client.ack(message)
    return found


async def expect_message(client: Client) -> MessageReceived:
    return await expect(client)


class Gates:
    """Async handlers that wait until the test lets them finish, counting how many run."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.running = 0
        self.peak = 0
        self.done: list[bytes] = []
        self.full = asyncio.Event()
        self.release = asyncio.Event()

    async def handler(self, message: MessageReceived) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        if self.running >= self.wanted:
            self.full.set()
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        self.done.append(message.body)


def test_handlers_run_concurrently_up_to_the_limit_and_are_acked(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-concurrency")
    count = 12

    async def test() -> tuple[int, list[bytes], list[tuple[bytes, bool]]]:
        gates = Gates(4)
        async with make_client(broker) as client:
            for n in range(count):
                await client.send(queue, b"%02d" % n, receipt=n == count - 1)
            sub = await client.subscribe(queue, gates.handler, max_in_flight=4, receipt=True)
            await asyncio.wait_for(gates.full.wait(), TIMEOUT)
            # Give the broker time to push more if it would (it must not: prefetch is 4).
            await asyncio.sleep(0.3)
            assert gates.running == 4
            assert client.handlers[sub.id].in_flight == 4
            gates.release.set()
            while len(gates.done) < count:
                await asyncio.sleep(0.05)
        return gates.peak, sorted(gates.done), await left_in(broker, queue)

    peak, done, left = run(test)
    assert peak == 4
    assert done == [b"%02d" % n for n in range(count)]
    assert left == []  # every one was acknowledged


@pytest.mark.parametrize("version", VERSIONS, ids=["1.0", "1.1", "1.2"])
def test_a_failed_message_goes_to_the_error_destination(
    broker: BrokerInfo, unique_queue: QueueNamer, version: Version
) -> None:
    queue, errors = unique_queue("aio-routing"), unique_queue("aio-errors")

    async def test() -> tuple[MessageReceived, list[bytes], list[tuple[bytes, bool]]]:
        copies: asyncio.Queue[MessageReceived] = asyncio.Queue()
        handled: list[bytes] = []

        async def handler(message: MessageReceived) -> None:
            if message.body == b"bad":
                raise ValueError("cannot parse\nthis")
            handled.append(message.body)

        # The copies are read on STOMP 1.2: RabbitMQ escapes header values on 1.0 too.
        async with make_client(broker, versions=[version]) as client, make_client(broker) as reader:
            await client.subscribe(queue, handler, error_destination=errors, receipt=True)
            await reader.subscribe(errors, copies.put_nowait, receipt=True)
            await client.send(queue, b"good 1", receipt=True)
            await client.send(queue, b"bad", headers={"order": "17"}, receipt=True)
            await client.send(queue, b"good 2", receipt=True)
            copy = await asyncio.wait_for(copies.get(), TIMEOUT)
            while len(handled) < 2:
                await asyncio.sleep(0.05)
        return copy, handled, await left_in(broker, queue)

    copy, handled, left = run(test)
    assert copy.body == b"bad"
    assert copy.frame.get(ERROR_HEADER) == "ValueError: cannot parse this"
    assert copy.frame.get("order") == "17"
    assert copy.frame.get("persistent") == "true"
    assert handled == [b"good 1", b"good 2"]
    assert left == []  # the original was acknowledged once the copy was stored


def test_a_failed_message_is_nacked_without_error_destination(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-nack")
    dead_letters = broker.dead_letter_queue(queue)

    async def test() -> list[tuple[bytes, bool]]:
        seen: list[tuple[bytes, bool]] = []
        second = asyncio.Event()
        dead: asyncio.Queue[MessageReceived] = asyncio.Queue()

        def handler(message: MessageReceived) -> None:
            seen.append((message.body, message.message.redelivered))
            if not message.message.redelivered:
                raise RuntimeError("try again")
            second.set()

        async with make_client(broker) as client:
            await client.subscribe(queue, handler, receipt=True)
            if dead_letters is not None:
                await client.subscribe(dead_letters, dead.put_nowait, receipt=True)
            await client.send(queue, b"payload", headers={"persistent": "true"}, receipt=True)
            if broker.facts.nack == "discard":
                await asyncio.sleep(0.5)  # Artemis drops it: nothing comes back
            elif dead_letters is None:
                await asyncio.wait_for(second.wait(), TIMEOUT)  # RabbitMQ redelivers at once
            else:
                moved = await asyncio.wait_for(dead.get(), TIMEOUT)  # ActiveMQ dead-letters
                seen.append((moved.body, moved.message.redelivered))
        if broker.facts.nack == "discard":
            seen.extend(await left_in(broker, queue))
        return seen

    seen = run(test)
    assert seen[0] == (b"payload", False)
    if broker.facts.nack == "discard":
        assert seen == [(b"payload", False)]
    else:
        assert seen[1][0] == b"payload"
        if dead_letters is None:
            assert seen[1] == (b"payload", True)


def test_graceful_shutdown_waits_for_in_flight_handlers(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-shutdown")

    async def test() -> tuple[bool, list[tuple[bytes, bool]]]:
        gates = Gates(2)
        client = make_client(broker)
        await client.connect()
        await client.subscribe(queue, gates.handler, max_in_flight=2, receipt=True)
        await client.send(queue, b"a", receipt=True)
        await client.send(queue, b"b", receipt=True)
        await asyncio.wait_for(gates.full.wait(), TIMEOUT)
        asyncio.get_running_loop().call_later(0.3, gates.release.set)  # done while it waits
        result = await client.disconnect()
        assert sorted(gates.done) == [b"a", b"b"]
        return result.clean, await left_in(broker, queue)

    clean, left = run(test)
    assert clean
    assert left == []  # acked before DISCONNECT


def test_graceful_shutdown_gives_up_and_reports_handlers_that_never_finish(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-giveup")

    async def test() -> tuple[list[str], list[tuple[bytes, bool]]]:
        gates = Gates(1)
        client = make_client(broker)
        await client.connect()
        await client.subscribe(queue, gates.handler, receipt=True)
        await client.send(queue, b"stuck", receipt=True)
        await asyncio.wait_for(gates.full.wait(), TIMEOUT)
        result = await client.disconnect(timeout=0.5)
        assert result.receipt
        assert gates.running == 0  # cancelled
        left = await left_in(broker, queue, expect=1)
        return [u.destination for u in result.unfinished], left

    unfinished, left = run(test)
    assert unfinished == [queue]
    assert [body for body, _ in left] == [b"stuck"]  # not acknowledged: delivered again
    if broker.facts.nack != "dead-letter":  # ActiveMQ marks it only with persistJMSRedelivered
        assert left[0][1]


def test_stomp_1_0_poison_pill_leaves_the_message_for_redelivery(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("aio-poison")

    async def test() -> tuple[BaseException | None, list[tuple[bytes, bool]]]:
        def handler(message: MessageReceived) -> None:
            raise RuntimeError("poison")

        client = make_client(broker, versions=["1.0"])
        await client.connect()
        ended = client.disconnected
        await client.send(queue, b"pill", receipt=True)
        await client.subscribe(queue, handler)
        try:
            await asyncio.wait_for(ended, TIMEOUT)
        except HandlerFailed as failure:
            reason: BaseException | None = failure
        else:
            reason = None
        return reason, await left_in(broker, queue, expect=1)

    reason, left = run(test)
    assert isinstance(reason, HandlerFailed)
    assert [body for body, _ in left] == [b"pill"]

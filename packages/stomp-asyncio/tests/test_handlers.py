"""Handlers per subscription: concurrency, acknowledgement, errors, pausing, a graceful end.

Against the project's test broker (:class:`stomp_testing.AsyncioTestBroker`) on the
test's own loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from stomp_asyncio import (
    Client,
    ErrorAction,
    HandlerFailed,
    InvalidRequest,
    MessageReceived,
    Reconnected,
)
from stomp_testing import AsyncioTestBroker, BrokerCore

FAST = {"receipt_timeout": 3.0, "disconnect_timeout": 3.0, "connect_timeout": 2.0}


async def until(predicate: Callable[[], bool], what: str = "the condition") -> None:
    """Let the loop run until *predicate* holds (the test's own timeout bounds it)."""
    while not predicate():
        await asyncio.sleep(0.005)


async def connected(broker: AsyncioTestBroker, **options: object) -> Client:
    client = Client(broker.uri, **{**FAST, **options})  # type: ignore[arg-type]
    await client.connect(timeout=5)
    return client


async def test_a_plain_handler_gets_each_message_which_is_then_acknowledged() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        seen: list[bytes] = []
        sub = await client.subscribe("/queue/a", lambda m: seen.append(m.body), receipt=True)
        assert sub.ack == "client-individual"
        frame = broker.frames("SUBSCRIBE")[-1]
        assert (frame.get("prefetch-count"), frame.get("activemq.prefetchSize")) == ("16", "16")
        for n in range(3):
            broker.publish("/queue/a", f"m{n}".encode())
        await until(lambda: len(broker.frames("ACK")) == 3)
        assert seen == [b"m0", b"m1", b"m2"]
        assert broker.unacknowledged() == ()
        result = await client.disconnect()
        assert result.clean


async def test_async_handlers_run_concurrently_up_to_max_in_flight() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        gates: list[asyncio.Event] = []
        running = 0
        most = 0

        async def work(message: MessageReceived) -> None:
            nonlocal running, most
            gate = asyncio.Event()
            gates.append(gate)
            running += 1
            most = max(most, running)
            await gate.wait()
            running -= 1

        await client.subscribe("/queue/jobs", work, max_in_flight=2, receipt=True)
        for n in range(5):
            broker.publish("/queue/jobs", f"job {n}".encode())
        await until(lambda: len(gates) == 2)
        state = client.handlers[next(iter(client.handlers))]
        assert (state.in_flight, state.max_in_flight) == (2, 2)
        assert len(broker.queued("/queue/jobs")) == 3  # prefetch 2: the broker keeps them
        while len(broker.frames("ACK")) < 5:
            for gate in gates:
                gate.set()
            await asyncio.sleep(0.005)
        assert most == 2
        assert broker.unacknowledged() == ()
        await client.disconnect()


async def test_a_failed_handler_sends_a_copy_to_the_error_destination_then_acks() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)

        async def check(message: MessageReceived) -> None:
            raise ValueError("cannot process a poison order")

        await client.subscribe(
            "/queue/orders", check, error_destination="/queue/orders.failed", receipt=True
        )
        broker.publish("/queue/orders", b"poison", {"customer": "42"})
        await until(lambda: bool(broker.frames("ACK")))
        (copy,) = broker.queued("/queue/orders.failed")
        assert (copy.body, copy.get("customer"), copy.get("persistent")) == (
            b"poison",
            "42",
            "true",
        )
        assert copy.get("handler-error") == "ValueError: cannot process a poison order"
        assert broker.unacknowledged() == ()
        await client.disconnect()


async def test_without_error_destination_a_failure_is_nacked_and_dead_lettered() -> None:
    async with AsyncioTestBroker(BrokerCore(redelivery_limit=2)) as broker:
        client = await connected(broker)
        attempts: list[bool] = []

        def fragile(message: MessageReceived) -> None:
            attempts.append(message.message.redelivered)
            raise RuntimeError("the database is down")

        await client.subscribe("/queue/invoices", fragile, receipt=True)
        broker.publish("/queue/invoices", b"invoice 7")
        await until(lambda: bool(broker.queued("/queue/DLQ")))
        assert attempts == [False, True, True]
        assert len(broker.frames("NACK")) == 3
        await client.disconnect()


async def test_on_stomp_1_0_a_failure_is_the_poison_pill() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker, versions=["1.0"])
        ended = client.disconnected

        def fragile(message: MessageReceived) -> None:
            raise RuntimeError("the database is down")

        sub = await client.subscribe("/queue/legacy", fragile, receipt=True)
        assert sub.ack == "client"
        broker.publish("/queue/legacy", b"legacy order")
        with pytest.raises(HandlerFailed, match="RuntimeError\\('the database is down'\\)"):
            await ended
        assert broker.frames("ACK") == []
        assert broker.frames("DISCONNECT")
        await until(lambda: bool(broker.queued("/queue/legacy")))
        (back,) = broker.queued("/queue/legacy")
        assert back.get("redelivered") == "true"


async def test_an_on_error_hook_decides_and_a_bad_answer_takes_the_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)

        def check(message: MessageReceived) -> None:
            raise ValueError(message.body.decode())

        async def skip_bad_input(message: MessageReceived, error: BaseException) -> object:
            if str(error) == "odd":
                return "not an action"
            return ErrorAction.ACK

        await client.subscribe(
            "/queue/parse",
            check,
            on_error=skip_bad_input,  # type: ignore[arg-type]
            error_destination="/queue/parse.failed",
            receipt=True,
        )
        broker.publish("/queue/parse", b"bad")
        broker.publish("/queue/parse", b"odd")
        await until(lambda: len(broker.frames("ACK")) == 2)
        assert [m.body for m in broker.queued("/queue/parse.failed")] == [b"odd"]
        assert "not an ErrorAction" in caplog.text
        await client.disconnect()


async def test_a_handler_may_settle_its_message_itself() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)

        async def archive(message: MessageReceived) -> None:
            async with client.transaction() as tx:
                await client.send("/queue/archive", message.body, transaction=tx)
                await client.ack(message, transaction=tx)

        await client.subscribe("/queue/inbox", archive, receipt=True)
        broker.publish("/queue/inbox", b"letter")
        await until(lambda: bool(broker.frames("COMMIT")))
        commands = [f.command for f in broker.core.received if f.command != "CONNECT"]
        assert commands[-4:] == ["BEGIN", "SEND", "ACK", "COMMIT"]
        assert [m.body for m in broker.queued("/queue/archive")] == [b"letter"]
        assert broker.unacknowledged() == ()
        await client.disconnect()


async def test_client_mode_acknowledges_in_delivery_order() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        gates: dict[bytes, asyncio.Event] = {}

        async def work(message: MessageReceived) -> None:
            gates[message.body] = gate = asyncio.Event()
            await gate.wait()

        await client.subscribe("/queue/c", work, ack="client", max_in_flight=2, receipt=True)
        broker.publish("/queue/c", b"first")
        broker.publish("/queue/c", b"second")
        await until(lambda: len(gates) == 2)
        gates[b"second"].set()
        await asyncio.sleep(0.05)
        assert broker.frames("ACK") == []  # the first still runs
        gates[b"first"].set()
        await until(lambda: len(broker.frames("ACK")) == 2)
        await client.disconnect()


async def test_a_full_queue_pauses_reading_and_a_drained_one_resumes() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        release = asyncio.Event()

        async def slow(message: MessageReceived) -> None:
            await release.wait()

        await client.subscribe("/topic/t", slow, ack="auto", max_in_flight=1, receipt=True)
        for n in range(10):  # a topic with auto acks: no prefetch holds the broker back
            broker.publish("/topic/t", f"{n}".encode())
        await until(lambda: client.reading_paused)
        state = next(iter(client.handlers.values()))
        assert state.in_flight == 1
        assert state.queued >= 2
        release.set()
        await until(lambda: not client.reading_paused and state.queued == 0)
        await client.disconnect()


async def test_a_graceful_end_waits_for_handlers_and_reports_the_unfinished() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        started: list[bytes] = []
        cancelled: list[bytes] = []

        async def stuck(message: MessageReceived) -> None:
            started.append(message.body)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(message.body)
                raise

        async def quick(message: MessageReceived) -> None:
            await asyncio.sleep(0.01)

        await client.subscribe("/queue/slow", stuck, receipt=True)
        await client.subscribe("/queue/fast", quick, receipt=True)
        broker.publish("/queue/slow", b"huge report")
        broker.publish("/queue/fast", b"small report")
        await until(lambda: bool(started))
        result = await client.disconnect(timeout=0.5)
        assert result.receipt
        assert not result.clean
        (item,) = result.unfinished
        assert (item.destination, item.subscription) == ("/queue/slow", "sub-1")
        assert item.running_for > 0
        assert cancelled == [b"huge report"]
        assert len(broker.frames("ACK")) == 1  # the quick one finished in time
        await until(lambda: bool(broker.queued("/queue/slow")))
        assert [m.body for m in broker.queued("/queue/slow")] == [b"huge report"]
        assert await client.disconnected == result
        assert await client.disconnect() == result  # again: the same result


async def test_handlers_and_pull_consumers_share_a_client() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        await client.subscribe("/queue/pull", receipt=True)
        broker.publish("/queue/pull", b"early")
        await until(lambda: client.messages_waiting == 1)
        seen: list[bytes] = []
        await client.subscribe("/queue/push", lambda m: seen.append(m.body), receipt=True)
        broker.publish("/queue/push", b"pushed")
        broker.publish("/queue/pull", b"late")
        await until(lambda: seen == [b"pushed"])
        first = await client.receive(timeout=5)
        second = await client.receive(timeout=5)
        assert first is not None
        assert second is not None
        assert [first.body, second.body] == [b"early", b"late"]
        await client.disconnect()


async def test_unsubscribing_a_handler_subscription_stops_its_messages() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        seen: list[bytes] = []
        sub = await client.subscribe("/queue/u", lambda m: seen.append(m.body), receipt=True)
        broker.publish("/queue/u", b"1")
        await until(lambda: seen == [b"1"])
        await client.unsubscribe(sub, receipt=True)
        assert client.handlers == {}
        broker.publish("/queue/u", b"2")
        assert await client.receive(timeout=0.1) is None
        assert seen == [b"1"]
        await client.disconnect()


async def test_a_lost_connection_drops_queued_messages_and_the_handler_sees_them_again() -> None:
    async with AsyncioTestBroker() as broker:
        reports: list[Reconnected] = []
        client = await connected(broker, on_reconnect=reports.append)
        seen: list[tuple[bytes, bool]] = []
        release = asyncio.Event()

        async def slow(message: MessageReceived) -> None:
            seen.append((message.body, message.message.redelivered))
            await release.wait()

        await client.subscribe(
            "/queue/r", slow, max_in_flight=2, headers={"prefetch-count": "9"}, receipt=True
        )
        for n in range(4):  # two run, two wait (not more than the limit: reading goes on)
            broker.publish("/queue/r", f"{n}".encode())
        await until(lambda: next(iter(client.handlers.values())).queued == 2)
        broker.drop_connections()
        await until(lambda: bool(reports))
        assert reports[0].discarded == 2
        release.set()
        await until(lambda: len(seen) == 6)
        assert seen[:2] == [(b"0", False), (b"1", False)]
        assert sorted(seen[2:]) == [(b"0", True), (b"1", True), (b"2", True), (b"3", True)]
        await until(lambda: not broker.unacknowledged() and not broker.queued("/queue/r"))
        await client.disconnect()


async def test_handler_settings_need_a_handler_and_a_limit_of_at_least_one() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        with pytest.raises(InvalidRequest, match="need a handler"):
            await client.subscribe("/queue/a", error_destination="/queue/b")
        with pytest.raises(InvalidRequest, match="max_in_flight must be an int >= 1, got 0"):
            await client.subscribe("/queue/a", print, max_in_flight=0)
        await client.disconnect()


async def test_a_failing_handler_is_logged_with_its_subscription_and_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="stomp_asyncio")
    async with AsyncioTestBroker() as broker:
        client = await connected(broker, login="app", passcode="pa55-w0rd")

        def fails(message: MessageReceived) -> None:
            raise KeyError("missing")

        await client.subscribe("/queue/l", fails, on_error=lambda m, e: ErrorAction.ACK)
        broker.publish("/queue/l", b"x")
        await until(lambda: bool(broker.frames("ACK")))
        assert "the handler of subscription 'sub-1' failed on message" in caplog.text
        assert "pa55-w0rd" not in caplog.text
        await client.disconnect()


async def test_an_async_iterator_per_subscription_takes_only_its_messages() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        orders = await client.subscribe("/queue/orders", ack="client-individual", receipt=True)
        await client.subscribe("/queue/audit", receipt=True)
        broker.publish("/queue/audit", b"audit 1")
        broker.publish("/queue/orders", b"order 1")
        broker.publish("/queue/audit", b"audit 2")
        broker.publish("/queue/orders", b"order 2")
        got: list[bytes] = []
        async for message in client.messages(orders, idle_timeout=0.2):
            got.append(message.body)
            await client.ack(message)
        assert got == [b"order 1", b"order 2"]
        assert client.messages_waiting == 2
        audit = [m.body async for m in client.messages("sub-2", idle_timeout=0.1)]
        assert audit == [b"audit 1", b"audit 2"]
        assert await client.receive(timeout=0.05, subscription=orders) is None
        assert broker.unacknowledged() == ()
        await client.disconnect()


async def test_a_handler_task_cancelled_from_outside_counts_as_a_failure() -> None:
    async with AsyncioTestBroker() as broker:
        client = await connected(broker)
        started = asyncio.Event()
        redelivered: list[bool] = []

        async def wait_forever(message: MessageReceived) -> None:
            redelivered.append(message.message.redelivered)
            if not message.message.redelivered:
                started.set()
                await asyncio.Event().wait()

        await client.subscribe("/queue/cancel", wait_forever, receipt=True)
        broker.publish("/queue/cancel", b"x")
        await started.wait()
        (task,) = [
            t
            for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "").endswith("wait_forever")
        ]
        task.cancel()
        await until(lambda: bool(broker.frames("ACK")))
        assert len(broker.frames("NACK")) == 1  # the cancelled one, then delivered again
        assert redelivered == [False, True]
        result = await client.disconnect()
        assert result.clean

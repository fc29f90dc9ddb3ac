"""Failover on highly available brokers: SIGKILL the node the consumer is on, lose nothing.

Per set-up (scripts/brokers/ha.sh) and per client (stomp-sync, stomp-asyncio, stomp-twisted):
a producer and a consumer, both on the set-up's ``failover:(...)`` URI over every node with
the clients' default options, pass persistent messages (a receipt on the last SEND of each
batch) through a queue with ``client-individual`` acks. Mid-stream the node the consumer is
connected to is SIGKILLed (the master, the live server, or a cluster node that leads the
queue), and started again later; a second run kills twice. Counting is tests/ha/_run.py's.

Pass: every confirmed message received; every duplicate marked: by the broker
(``redelivered``), by the client (``acked_before``: it acknowledged the message on the
connection the kill ended, and the broker lost that ACK), or as a re-send (``x-resent``). Each run
writes its report (lost, duplicates by cause, reconnects, recovery times, total time) under
``results_dir``.
``STOMP_HA_MESSAGES`` and ``STOMP_HA_MESSAGES_TWICE`` (10000 each) set the run sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from stomp_core import ConnectionLost, MessageStale, NotConnected, Reconnected, WaitTimeout
from stomp_session import MessageReceived
from tests.ha._run import (
    BATCH,
    RESENT_HEADER,
    SENT_AT_HEADER,
    SEQ_HEADER,
    FailoverRun,
    write_report,
)
from tests.ha._setups import Setup

if TYPE_CHECKING:
    from stomp_twisted.testing import ReactorThread

logger = logging.getLogger(__name__)

IDLE_AFTER_PRODUCER = 60.0
"""Seconds the consumer waits for more once the producer is done and nothing comes."""


def _messages(kills: int) -> int:
    if kills == 1:
        return int(os.environ.get("STOMP_HA_MESSAGES", "10000"))
    return int(os.environ.get("STOMP_HA_MESSAGES_TWICE", "10000"))


def _settings(setup: Setup) -> dict[str, Any]:
    return {"login": setup.login, "passcode": setup.passcode, "vhost": setup.vhost}


def _seq(message: MessageReceived) -> int:
    return int(message.headers.get(SEQ_HEADER, "-1"))


def _take(run: FailoverRun, message: MessageReceived, connections: int) -> None:
    run.message(
        _seq(message),
        redelivered=message.message.redelivered,  # the broker's mark
        acked_before=message.acked_before,  # the client's
        resent=message.headers.get(RESENT_HEADER) == "true",
        connections=connections,
        sent_at=float(message.headers.get(SENT_AT_HEADER, "0")),
    )


def _consumer_reconnected(run: FailoverRun) -> Any:
    def told(report: Reconnected) -> None:
        run.consumer_reconnects += 1
        logger.info("consumer: %s", report)

    return told


def _producer_reconnected(run: FailoverRun) -> Any:
    def told(report: Reconnected) -> None:
        run.producer_reconnects += 1
        logger.info("producer: %s", report)

    return told


# ---------------------------------------------------------------- stomp-sync
def _run_sync(run: FailoverRun) -> None:
    from stomp_sync import Client

    setup = run.setup
    consumer = Client(setup.uri, on_reconnect=_consumer_reconnected(run), **_settings(setup))
    consumer.connect()
    consumer.subscribe(
        run.queue, ack="client-individual", headers=dict(setup.subscribe_headers), receipt=True
    )

    def produce() -> None:
        producer = Client(setup.uri, on_reconnect=_producer_reconnected(run), **_settings(setup))
        try:
            producer.connect()
            sent = 0
            while sent < run.total:
                if not run.wait_for_kill(sent):
                    raise TimeoutError("the producer waited for a kill in vain")
                size, resend = min(BATCH, run.total - sent), False
                while True:
                    run.check()
                    began, connections = time.monotonic(), producer.counters.connections
                    try:
                        for n in range(sent, sent + size):
                            producer.send(
                                run.queue,
                                b"%d" % n,
                                headers=run.send_headers(n, resent=resend),
                                receipt=n == sent + size - 1,
                            )
                    except (ConnectionLost, WaitTimeout):
                        pass
                    else:
                        if producer.counters.connections == connections:
                            run.batch_confirmed(sent, size, began)
                            break
                    resend = True  # stored in part, perhaps: send it again, marked
                    run.batch_resent()
                sent += size
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            run.failures.append(exc)
        finally:
            producer.close()
            run.producer_done.set()

    producer_thread = threading.Thread(target=produce, name="producer")
    killer = threading.Thread(
        target=run.killer,
        args=(
            lambda: consumer.broker.port if consumer.broker else None,
            lambda: consumer.counters.connections,
        ),
        name="killer",
    )
    producer_thread.start()
    killer.start()
    idle_since = time.monotonic()
    try:
        while not run.complete() and not run.failures and time.monotonic() < run.deadline:
            message = consumer.receive(timeout=1.0)
            if message is None:
                if (
                    run.producer_done.is_set()
                    and time.monotonic() - idle_since > IDLE_AFTER_PRODUCER
                ):
                    break
                continue
            idle_since = time.monotonic()
            _take(run, message, consumer.counters.connections)
            # an ack of a message from before a reconnection: the broker redelivers it
            with contextlib.suppress(MessageStale, ConnectionLost, WaitTimeout):
                connections = consumer.counters.connections
                consumer.ack(message)
                run.acked(_seq(message), connections)
    finally:
        producer_thread.join(timeout=60)
        killer.join(timeout=300)
        consumer.close()


# ---------------------------------------------------------------- stomp-asyncio
def _run_asyncio(run: FailoverRun) -> None:
    from stomp_asyncio import Client

    setup = run.setup

    async def produce() -> None:
        producer = Client(setup.uri, on_reconnect=_producer_reconnected(run), **_settings(setup))
        try:
            await producer.connect()
            sent = 0
            while sent < run.total:
                if not await asyncio.to_thread(run.wait_for_kill, sent):
                    raise TimeoutError("the producer waited for a kill in vain")
                size, resend = min(BATCH, run.total - sent), False
                while True:
                    run.check()
                    began, connections = time.monotonic(), producer.counters.connections
                    try:
                        for n in range(sent, sent + size):
                            await producer.send(
                                run.queue,
                                b"%d" % n,
                                headers=run.send_headers(n, resent=resend),
                                receipt=n == sent + size - 1,
                            )
                    except (ConnectionLost, WaitTimeout):
                        pass
                    else:
                        if producer.counters.connections == connections:
                            run.batch_confirmed(sent, size, began)
                            break
                    resend = True
                    run.batch_resent()
                sent += size
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            run.failures.append(exc)
        finally:
            producer.close()
            run.producer_done.set()

    async def main() -> None:
        consumer = Client(setup.uri, on_reconnect=_consumer_reconnected(run), **_settings(setup))
        await consumer.connect()
        await consumer.subscribe(
            run.queue,
            ack="client-individual",
            headers=dict(setup.subscribe_headers),
            receipt=True,
        )
        producing = asyncio.ensure_future(produce())
        killer = threading.Thread(
            target=run.killer,
            args=(
                lambda: consumer.broker.port if consumer.broker else None,
                lambda: consumer.counters.connections,
            ),
            name="killer",
        )
        killer.start()
        idle_since = time.monotonic()
        try:
            while not run.complete() and not run.failures and time.monotonic() < run.deadline:
                message = await consumer.receive(timeout=1.0)
                if message is None:
                    if (
                        run.producer_done.is_set()
                        and time.monotonic() - idle_since > IDLE_AFTER_PRODUCER
                    ):
                        break
                    continue
                idle_since = time.monotonic()
                _take(run, message, consumer.counters.connections)
                with contextlib.suppress(MessageStale, ConnectionLost, WaitTimeout, NotConnected):
                    connections = consumer.counters.connections
                    await consumer.ack(message)
                    run.acked(_seq(message), connections)
        finally:
            await asyncio.wait_for(producing, 60)
            await asyncio.to_thread(killer.join, 300)
            consumer.close()

    asyncio.run(main())


# ---------------------------------------------------------------- stomp-twisted
def _run_twisted(run: FailoverRun, reactor_thread: ReactorThread) -> None:
    from twisted.internet.defer import Deferred
    from twisted.internet.threads import deferToThread

    from stomp_twisted import Client

    setup = run.setup
    clients: dict[str, Client] = {}
    producing: list[Deferred[None]] = []

    async def produce(reactor: Any) -> None:
        producer = Client(
            setup.uri,
            on_reconnect=_producer_reconnected(run),
            reactor=reactor,
            **_settings(setup),
        )
        clients["producer"] = producer
        try:
            await producer.connect()
            sent = 0
            while sent < run.total:
                if not await deferToThread(run.wait_for_kill, sent):
                    raise TimeoutError("the producer waited for a kill in vain")
                size, resend = min(BATCH, run.total - sent), False
                while True:
                    run.check()
                    began, connections = time.monotonic(), producer.counters.connections
                    try:
                        for n in range(sent, sent + size):
                            await producer.send(
                                run.queue,
                                b"%d" % n,
                                headers=run.send_headers(n, resent=resend),
                                receipt=n == sent + size - 1,
                            )
                    except (ConnectionLost, WaitTimeout):
                        pass
                    else:
                        if producer.counters.connections == connections:
                            run.batch_confirmed(sent, size, began)
                            break
                    resend = True
                    run.batch_resent()
                sent += size
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            run.failures.append(exc)
        finally:
            producer.close()
            run.producer_done.set()

    async def start(reactor: Any) -> None:
        consumer = Client(
            setup.uri,
            on_reconnect=_consumer_reconnected(run),
            reactor=reactor,
            **_settings(setup),
        )
        clients["consumer"] = consumer
        await consumer.connect()

        async def handle(message: MessageReceived) -> None:
            connections = consumer.counters.connections
            _take(run, message, connections)
            # acknowledged here rather than on return, to know which connection carried it
            with contextlib.suppress(MessageStale, ConnectionLost, WaitTimeout, NotConnected):
                await consumer.ack(message)
                run.acked(_seq(message), connections)

        await consumer.subscribe(
            run.queue,
            handle,
            ack="client-individual",
            headers=dict(setup.subscribe_headers),
            receipt=True,
        )
        producing.append(Deferred.fromCoroutine(produce(reactor)))

    async def stop(reactor: Any) -> None:
        await producing[0]
        clients["consumer"].close()

    reactor_thread.run(start)
    consumer = clients["consumer"]
    killer = threading.Thread(
        target=run.killer,
        args=(
            lambda: consumer.broker.port if consumer.broker else None,
            lambda: consumer.counters.connections,
        ),
        name="killer",
    )
    killer.start()
    last, idle_since = 0, time.monotonic()
    try:
        while not run.complete() and not run.failures and time.monotonic() < run.deadline:
            time.sleep(0.2)
            if sum(run.received.values()) != last:
                last, idle_since = sum(run.received.values()), time.monotonic()
            elif run.producer_done.is_set() and time.monotonic() - idle_since > IDLE_AFTER_PRODUCER:
                break
    finally:
        killer.join(timeout=300)
        reactor_thread.run(stop, timeout=120)


# ---------------------------------------------------------------- the test
@pytest.mark.parametrize("kills", [1, 2], ids=["kill-once", "kill-twice"])
@pytest.mark.parametrize("client", ["sync", "asyncio", "twisted"])
def test_failover_loses_nothing(
    setup: Setup, client: str, kills: int, results_dir: Path, request: pytest.FixtureRequest
) -> None:
    run = FailoverRun(
        setup=setup,
        client=client,
        total=_messages(kills),
        kills=kills,
        queue=f"/queue/ha-{client}-{uuid.uuid4().hex}",
    )
    if client == "sync":
        _run_sync(run)
    elif client == "asyncio":
        _run_asyncio(run)
    else:
        _run_twisted(run, request.getfixturevalue("twisted_reactor"))
    report = run.report()
    path = write_report(results_dir, report)
    logger.warning("%s/%s kills=%d: %s (%s)", setup.name, client, kills, report, path)
    assert not run.failures, run.failures
    assert len(run.kill_log) == kills, f"{len(run.kill_log)} kills made, {kills} planned"
    assert all(kill.restart is not None for kill in run.kill_log), "a node did not start again"
    assert report["lost"] == 0, f"{report['lost']} confirmed messages lost: {report['lost_first']}"
    assert run.complete(), f"{report['received_distinct']} of {run.total} messages received"
    assert not run.unmarked, f"duplicates without a mark: {run.unmarked[:10]}"
    own = sum(kill.node == kill.consumer_node for kill in run.kill_log)
    assert run.consumer_reconnects >= own, "the consumer did not reconnect after each kill"
    assert all(kill.consumer_recovery is not None for kill in run.kill_log), run.kill_log
    assert all(kill.producer_recovery is not None for kill in run.kill_log), run.kill_log

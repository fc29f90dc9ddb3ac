"""``stompctl bench``: a producer and a consumer end to end, through the broker, measured."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from stomp_cli._connection import AckMode, ConnectionOptions, make_client
from stomp_cli._errors import CommandFailed, ExitCode, Failure, describe
from stomp_sync import Client, ClientError

SENT_HEADER = "stompctl-sent-ns"
"""The producer's clock (``time.perf_counter_ns``) when it wrote the message."""


@dataclass(frozen=True)
class BenchResult:
    """The figures of one run (times in milliseconds unless named otherwise)."""

    messages: int
    size: int
    ack: str
    persistent: bool
    seconds: float
    """From the first SEND to the last message received."""
    rate: float
    """Messages per second, end to end."""
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    cpu_seconds: float
    """CPU time of this process (producer and consumer together) over the run."""

    def as_dict(self) -> dict[str, float | int | str | bool]:
        """The figures as a JSON-ready dict."""
        return asdict(self)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _connect(options: ConnectionOptions) -> Client:
    client = make_client(options)
    try:
        client.connect(timeout=options.connect_timeout * 3)
    except (ClientError, OSError) as exc:
        raise CommandFailed(describe(exc, connecting=True, where=options.uri)) from exc
    return client


def run_bench(
    options: ConnectionOptions,
    destination: str,
    *,
    count: int,
    size: int,
    ack: AckMode,
    persistent: bool,
    idle_timeout: float,
    on_received: Callable[[int], object] = lambda _n: None,
) -> BenchResult:
    """Send *count* messages of *size* bytes and receive them; return the figures.

    The consumer subscribes before the producer starts, in the same process; the
    producer (a thread) asks a receipt for its last SEND only.

    Raises:
        CommandFailed: a connection failed, or the messages stopped coming for
            *idle_timeout* seconds (``TIMEOUT``).
    """
    consumer = _connect(options)
    producer: Client | None = None
    failure: list[BaseException] = []
    try:
        consumer.subscribe(destination, ack=ack)
        producer = _connect(options)
        headers = {"persistent": "true"} if persistent else {}
        body = b"x" * size
        sender = producer

        def produce() -> None:
            try:
                for number in range(count):
                    sent = {**headers, SENT_HEADER: str(time.perf_counter_ns())}
                    sender.send(destination, body, headers=sent, receipt=number == count - 1)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                failure.append(exc)

        cpu_start = time.process_time()
        started = time.perf_counter()
        thread = threading.Thread(target=produce, name="stompctl-bench-producer", daemon=True)
        thread.start()
        latencies: list[float] = []
        while len(latencies) < count:
            message = consumer.receive(timeout=idle_timeout)
            if message is None:
                break
            now = time.perf_counter_ns()
            stamp = message.frame.get(SENT_HEADER)
            if stamp is not None:
                latencies.append((now - int(stamp)) / 1e6)
            got = len(latencies)
            batch_done = ack == "client" and (got % 100 == 0 or got == count)
            if ack == "client-individual" or batch_done:
                consumer.ack(message)
            on_received(len(latencies))
        elapsed = time.perf_counter() - started
        thread.join(idle_timeout)
        cpu = time.process_time() - cpu_start
        if failure:
            raise CommandFailed(describe(failure[0]))
        if len(latencies) < count:
            raise CommandFailed(
                Failure(
                    ExitCode.TIMEOUT,
                    f"{len(latencies)} of {count} messages came back from {destination} "
                    f"before {idle_timeout:g} s without one",
                )
            )
        producer.disconnect()
        consumer.disconnect()
    except BaseException:
        consumer.close()
        if producer is not None:
            producer.close()
        raise
    latencies.sort()
    return BenchResult(
        messages=count,
        size=size,
        ack=ack,
        persistent=persistent,
        seconds=round(elapsed, 6),
        rate=round(count / elapsed, 1) if elapsed > 0 else 0.0,
        latency_p50_ms=round(percentile(latencies, 0.50), 3),
        latency_p99_ms=round(percentile(latencies, 0.99), 3),
        latency_max_ms=round(latencies[-1], 3),
        cpu_seconds=round(cpu, 4),
    )

"""End-to-end workload of stomp-twisted for bench/bench_e2e.py: one producer, one consumer.

``run()`` connects two clients of this package to a real broker, in one reactor run: the
producer sends ``count`` messages of ``body`` to ``queue`` while the consumer (client-individual
acks, a plain handler) receives and acknowledges them; it returns the seconds from the first
send until the last message is received and its ACK written.

Twisted's reactor can only run once per process: call ``run()`` once per process (the caller
spawns a subprocess per measurement). It uses the global reactor (epoll on Linux).
"""

from __future__ import annotations

import time
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from stomp_session import MessageReceived
from stomp_twisted import Client

# The producer sends as fast as it can, like the other contenders' producers; every BATCH
# sends it lets the reactor run once (a single-threaded reactor writes and reads only then).
BATCH = 1000
# Both max_in_flight and the prefetch it sets: ActiveMQ's default STOMP prefetch.
IN_FLIGHT = 1000


def run(
    *,
    host: str,
    port: int,
    login: str | None,
    passcode: str | None,
    vhost: str | None,
    queue: str,
    count: int,
    body: bytes,
) -> tuple[float, float]:
    """Send and consume *count* messages; return the seconds it took and the CPU seconds used.

    Call it once per process: Twisted's reactor cannot be restarted.
    """
    from twisted.internet import reactor as installed

    reactor: Any = installed
    outcome: list[tuple[float, float] | BaseException | None] = []

    def client() -> Client:
        return Client(
            f"tcp://{host}:{port}?startupMaxReconnectAttempts=0",
            login=login,
            passcode=passcode,
            vhost=vhost,
            heart_beat=(0, 0),
            reactor=reactor,
        )

    async def workload() -> tuple[float, float]:
        producer, consumer = client(), client()
        await producer.connect()
        await consumer.connect()
        received = 0
        done: Deferred[None] = Deferred()

        def handler(_message: MessageReceived) -> None:
            nonlocal received
            received += 1
            if received == count:
                # Fires after this call returns, once the client has written the ACK.
                reactor.callLater(0, done.callback, None)

        await consumer.subscribe(
            queue, handler, ack="client-individual", max_in_flight=IN_FLIGHT, receipt=True
        )
        send = producer.send
        sent = 0
        started = time.perf_counter()
        cpu = time.process_time()
        while sent < count:
            batch = min(count - sent, BATCH)
            for _ in range(batch):
                send(queue, body)
            sent += batch
            await deferLater(reactor, 0)
        await done
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        await producer.disconnect()
        await consumer.disconnect()
        return elapsed, cpu

    def finish(result: tuple[float, float] | Failure) -> None:
        outcome.append(result.value if isinstance(result, Failure) else result)
        reactor.stop()

    def start() -> None:
        Deferred.fromCoroutine(workload()).addBoth(finish)

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    (result,) = outcome
    if not isinstance(result, tuple):
        raise result or RuntimeError("the workload ended without a result")
    return result


if __name__ == "__main__":  # pragma: no cover - a manual check
    import argparse
    import uuid

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=61623)
    parser.add_argument("--login", default="guest")
    parser.add_argument("--passcode", default="guest")
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    seconds = run(
        host=args.host,
        port=args.port,
        login=args.login,
        passcode=args.passcode,
        vhost=args.vhost,
        queue=f"/queue/bench-twisted-{uuid.uuid4().hex}",
        count=args.count,
        body=b"x" * args.size,
    )
    print(f"{args.count} messages in {seconds:.3f} s: {args.count / seconds:,.0f} msg/s")

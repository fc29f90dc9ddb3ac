"""The stomp-suite demo: the blocking, Twisted and asyncio clients at work on one broker.

    python examples/demo.py

Without ``STOMP_URI`` it starts the simulated broker of ``stomp_twisted.testing`` on a free
local port, so it needs no broker and no Docker. With ``STOMP_URI=tcp://host:port`` (and
``STOMP_LOGIN``, ``STOMP_PASSCODE``, ``STOMP_VHOST`` as the broker needs) it runs against
that broker instead, on queues of its own.

It shows a producer (stomp-sync) and consumers (stomp-sync and stomp-twisted) exchanging
messages, receipts, a transaction, a handler failure routed to an error destination, and a
failover: the blocking client skips a dead broker, then its connection is cut and it
reconnects and resubscribes. Then the asyncio client (stomp-asyncio) handles jobs with
``async def`` handlers, sends a failure to its error destination, reads a subscription of
its own with ``async for`` and shuts down gracefully. It prints what happens, checks each
step, and exits non-zero if any check fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import blockingCallFromThread
from twisted.python.failure import Failure

from stomp_asyncio import Client as AsyncioClient
from stomp_asyncio import MessageReceived
from stomp_failover import FailoverUri
from stomp_sync import Client as SyncClient
from stomp_sync import Reconnected
from stomp_twisted import ERROR_HEADER, Message
from stomp_twisted import Client as TwistedClient
from stomp_twisted.testing import SimulatedBroker

T = TypeVar("T")
TIMEOUT = 10.0
reactor: Any = global_reactor  # the global reactor module attribute carries no static type


@dataclass(frozen=True)
class Credentials:
    """What the broker wants at CONNECT (all optional: the simulated broker takes anyone)."""

    login: str | None
    passcode: str | None
    vhost: str | None


class DemoFailed(Exception):
    """A check of the demo did not hold."""


def check(condition: bool, what: str) -> None:
    """Raise DemoFailed naming *what* when *condition* is false."""
    if not condition:
        raise DemoFailed(what)


def say(who: str, text: str) -> None:
    """Print one line of the account."""
    print(f"  [{who:7}] {text}", flush=True)


def in_reactor(call: Callable[[], Deferred[T]]) -> T:
    """Run *call* in the reactor thread and wait for its Deferred (bounded by TIMEOUT)."""
    done = threading.Event()
    outcome: list[T | Failure] = []

    def finish(result: T | Failure) -> None:
        outcome.append(result)
        done.set()

    def start() -> None:
        call().addTimeout(TIMEOUT, reactor).addBoth(finish)

    reactor.callFromThread(start)
    if not done.wait(TIMEOUT + 5.0):
        msg = "the reactor did not answer"
        raise DemoFailed(msg)
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def free_port() -> int:
    """A loopback port nothing listens on (a dead broker)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class CuttableProxy:
    """A TCP forwarder to the broker whose connections can be cut, as a network failure would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="demo-proxy").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=TIMEOUT)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # the timeout was for connecting: an idle link lives
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Cut every connection through the proxy (it keeps accepting new ones)."""
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self.listener.close()
        self.cut()


@contextlib.contextmanager
def broker_address() -> Iterator[tuple[str, int, Credentials]]:
    """The broker to use: ``STOMP_URI``, or the simulated broker on a free port."""
    uri = os.environ.get("STOMP_URI")
    credentials = Credentials(
        login=os.environ.get("STOMP_LOGIN"),
        passcode=os.environ.get("STOMP_PASSCODE"),
        vhost=os.environ.get("STOMP_VHOST"),
    )
    if uri:
        brokers = FailoverUri.parse(uri).brokers
        check(brokers[0].scheme == "tcp", "STOMP_URI must name a tcp:// broker")
        say("broker", f"using {brokers[0]} from STOMP_URI")
        yield brokers[0].host, brokers[0].port, credentials
        return
    simulated = SimulatedBroker(name="simulated")
    port = blockingCallFromThread(reactor, simulated.listen, 0)
    say("broker", f"simulated broker (stomp_twisted.testing) listening on 127.0.0.1:{port}")
    try:
        yield "127.0.0.1", port, credentials
    finally:
        in_reactor(simulated.stop_listening)


async def asyncio_part(host: str, port: int, credentials: Credentials, tag: str) -> None:
    """The asyncio client: handlers, an error destination, an iterator, a graceful end."""
    jobs, failed, audit = (f"/queue/demo-aio-{kind}-{tag}" for kind in ("jobs", "failed", "audit"))
    done: list[bytes] = []

    async def work(message: MessageReceived) -> None:
        await asyncio.sleep(0.05)  # some work, without blocking the loop
        if message.body == b"job-3":
            raise ValueError("job-3 cannot be done")
        done.append(message.body)
        say("asyncio", f"handler finished {message.body.decode()} (then it is acked)")

    async with AsyncioClient(
        f"tcp://{host}:{port}",
        login=credentials.login,
        passcode=credentials.passcode,
        vhost=credentials.vhost,
    ) as client:
        await client.subscribe(jobs, work, max_in_flight=2, error_destination=failed, receipt=True)
        say("asyncio", f"subscribed to {jobs}: async handlers, 2 at a time, failures -> {failed}")
        for n in (1, 2, 3, 4):
            await client.send(jobs, f"job-{n}".encode(), receipt=True)
        say("asyncio", "sent job-1 to job-4, each confirmed by a RECEIPT")
        failures = await client.subscribe(failed, ack="client-individual", receipt=True)
        copy = await client.receive(timeout=TIMEOUT, subscription=failures)
        check(copy is not None and copy.body == b"job-3", "job-3 reaches the error destination")
        assert copy is not None
        await client.ack(copy)
        say(
            "asyncio",
            f"{failed} got {copy.body!r} with {ERROR_HEADER}: {copy.frame.get(ERROR_HEADER)}",
        )
        entries = await client.subscribe(audit, ack="client-individual", receipt=True)
        for n in (1, 2):
            await client.send(audit, f"entry-{n}".encode(), receipt=True)
        read = []
        async for entry in client.messages(entries, idle_timeout=1.0):
            read.append(entry.body)
            await client.ack(entry)
            if len(read) == 2:
                break
        check(read == [b"entry-1", b"entry-2"], "the audit subscription's iterator")
        say("asyncio", f"async for over {audit} read {b', '.join(read).decode()}")
        result = await client.disconnect()
    check(sorted(done) == [b"job-1", b"job-2", b"job-4"], "3 jobs handled")
    check(result.clean, "the asyncio client disconnected cleanly")
    say("asyncio", "disconnected cleanly: no handler left running, DISCONNECT confirmed")


def run() -> None:
    """Tell the story; raise DemoFailed (or a client error) when something does not hold."""
    tag = uuid.uuid4().hex[:8]
    orders, errors, replay = (
        f"/queue/demo-{kind}-{tag}" for kind in ("orders", "errors", "replay")
    )
    with broker_address() as (host, port, credentials):
        proxy = CuttableProxy((host, port))
        dead = free_port()
        sync_uri = (
            f"failover:(tcp://127.0.0.1:{dead},tcp://127.0.0.1:{proxy.port})"
            "?randomize=false&initialReconnectDelay=50"
        )
        reconnections: list[Reconnected] = []
        login, passcode, vhost = credentials.login, credentials.passcode, credentials.vhost
        producer = SyncClient(f"tcp://{host}:{port}", login=login, passcode=passcode, vhost=vhost)
        consumer = SyncClient(
            sync_uri,
            login=login,
            passcode=passcode,
            vhost=vhost,
            on_reconnect=reconnections.append,
        )
        twisted = TwistedClient(
            f"tcp://{host}:{port}",
            login=login,
            passcode=passcode,
            vhost=vhost,
            heart_beat=(0, 0),
            reactor=reactor,
        )

        # 1. Connections, and the first failover: a dead broker is skipped.
        producer.connect(timeout=TIMEOUT)
        connected = consumer.connect(timeout=TIMEOUT)
        check(consumer.broker is not None and consumer.broker.port == proxy.port, "failover")
        version, server = connected.version.value, connected.server
        say("sync", f"consumer skipped dead port {dead}; STOMP {version} with {server}")
        twisted_connected = in_reactor(twisted.connect)
        say("twisted", f"connected: STOMP {twisted_connected.version.value}")

        # 2. Per-subscription handlers, two at a time; a failure goes to the error destination.
        handled: list[bytes] = []

        def handle(message: Message) -> None:
            if message.body == b"poison":
                raise ValueError("cannot process a poison order")
            handled.append(message.body)
            say("twisted", f"handler processed {message.body.decode()} (then it is acked)")

        in_reactor(
            lambda: twisted.subscribe(
                orders, handle, max_in_flight=2, error_destination=errors, receipt=True
            )
        )
        say("twisted", f"subscribed to {orders}: 2 handlers at a time, failures -> {errors}")

        # 3. Receipts and a transaction, from the blocking producer.
        for n in (1, 2, 3):
            producer.send(
                orders, f"order-{n}".encode(), headers={"persistent": "true"}, receipt=True
            )
        say("sync", "sent order-1, order-2, order-3, each confirmed by the broker's RECEIPT")
        with producer.transaction() as tx:
            producer.send(orders, b"order-4", transaction=tx)
            producer.send(orders, b"order-5", transaction=tx)
        say("sync", f"sent order-4 and order-5 in transaction {tx}, committed (RECEIPT)")
        producer.send(orders, b"poison", receipt=True)
        say("sync", "sent a poison message")

        # 4. The poison message reaches the error destination with the failure attached.
        consumer.subscribe(errors, ack="client-individual", receipt=True)
        dead_letter = consumer.receive(timeout=TIMEOUT)
        check(dead_letter is not None, "the failed message reaches the error destination")
        assert dead_letter is not None
        check(dead_letter.body == b"poison", "the error destination holds the poison message")
        reason = dead_letter.frame.get(ERROR_HEADER)
        check(reason is not None and "ValueError" in reason, "the failure is described")
        consumer.ack(dead_letter, receipt=True)
        say("sync", f"{errors} got {dead_letter.body!r} with {ERROR_HEADER}: {reason}")
        deadline = time.monotonic() + TIMEOUT
        while len(handled) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        check(sorted(handled) == [f"order-{n}".encode() for n in range(1, 6)], "5 orders handled")

        # 5. The second failover: the consumer's connection is cut; it reconnects, resubscribes.
        # Acknowledged by hand: a message the broker hands to the dying connection before it
        # notices the cut comes back (an auto subscription would count it delivered).
        consumer.subscribe(replay, ack="client-individual", receipt=True)
        proxy.cut()
        say("network", "cut the consumer's connection")
        producer.send(replay, b"sent while the consumer was away", receipt=True)
        # A broker may hand the message to the cut connection before it notices the cut,
        # and hand it again only once it has (Artemis can take seconds): wait longer here.
        message = consumer.receive(timeout=3 * TIMEOUT)
        check(bool(reconnections), "the consumer reconnected")
        check(message is not None and message.destination == replay, "replayed subscription")
        assert message is not None
        consumer.ack(message)
        info = reconnections[0]
        replayed = len(info.connected.resubscribed)
        say("sync", f"reconnected, resubscribed {replayed}, then got {message.body.decode()!r}")

        # 6. The asyncio client: async handlers, an error destination, an iterator.
        asyncio.run(asyncio_part(host, port, credentials, tag))

        # 7. Graceful shutdown everywhere.
        result = in_reactor(twisted.disconnect)
        check(result.clean, "the Twisted client disconnected cleanly")
        consumer.disconnect()
        producer.disconnect()
        proxy.close()
        say("all", "disconnected cleanly (each DISCONNECT confirmed by a RECEIPT)")


class _OneLine(logging.Formatter):
    """Log records as one line each, in the account; tracebacks left out."""

    def format(self, record: logging.LogRecord) -> str:
        who = record.name.split(".")[0].removeprefix("stomp_")
        return f"  [{who:7}] log {record.levelname.lower()}: {record.getMessage()}"


def main() -> int:
    """Run the demo with the reactor in a background thread; return the exit status."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_OneLine())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    print("stomp-suite demo", flush=True)
    thread = threading.Thread(
        target=reactor.run,
        kwargs={"installSignalHandlers": False},
        daemon=True,
    )
    thread.start()
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - any failure ends the demo with a message
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        reactor.callFromThread(reactor.stop)
        thread.join(TIMEOUT)
    print("OK: every step of the demo held", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End-to-end benchmark against real brokers: one producer, one consumer, acks per message.

For each broker that answers (ActiveMQ and RabbitMQ, from ``scripts/brokers/start.sh``'s
``STOMP_*`` variables), every contender moves the same workload through a fresh queue:
a producer sends ``--count`` messages of 100 bytes (STOMP 1.2, non-persistent, with
``content-length``) while a consumer subscribed with ``client-individual`` acks receives
and acknowledges each one (prefetch 1000 on both brokers). Every producer sends as fast as
it can. The figure is messages per second from the producer's first send until the
consumer's last ACK is written, and the CPU seconds the client side used meanwhile (user and
system, every thread): on two cores the broker often sets the pace, and the CPU a client
spends per message is then the fairer measure of the client.

Layout: by default each contender's producer and consumer run as two threads of one fresh
process (the Twisted client runs both on its one reactor thread), so that every contender's
client side has the same budget, one process, and the broker keeps the other core of a
two-core machine; ``--layout processes`` puts producer and consumer in two processes.

Contenders:
  raw        the practical limit: pre-encoded SEND frames written in large batches; the
             consumer finds each MESSAGE's ``ack`` header with minimal parsing and writes
             the ACKs of each read in one go;
  stomp-sync this project's blocking client (``Client.send``, ``receive``, ``ack``);
  stomp-asyncio this project's asyncio client (the same calls awaited; producer and
             consumer each on a loop of its own, in their thread);
  stomp.py   stomp.py's ``Connection12`` (listener thread, ``conn.ack`` per message);
  stompman   the asyncio peer stompman (STOMP 1.2 only), with the settings its README
             calls sensible defaults (heart-beats 1000 ms, ``max_concurrent_handlers``
             100): an ``async`` handler per message on ``subscribe(ack="client-individual")``,
             which ACKs when it returns; ``send`` without receipt (the last one with
             ``receipt_timeout``: its exit does not flush what was written);
  aiostomp   the asyncio peer aiostomp (it offers STOMP 1.1 only), with its defaults
             (heart-beats 1000 ms): ``subscribe(ack="client-individual", handler=...)``
             with ``auto_ack`` (a truthy result ACKs), ``send`` (written at once);
  twisted    this project's Twisted client, when ``bench/_twisted_e2e.py`` and Twisted are
             importable (producer and consumer share one reactor and process);
  stomp-sync ws  stomp-sync over the broker's WebSocket endpoint (``STOMP_<B>_WS_URL``), in
             the same run as the TCP rows;
  stomp.py ws    stomp.py's ``WSStompConnection`` (``websocket-client``) on the same endpoint.

Run with ``nox -s bench`` (or ``python bench/bench_e2e.py --count 100000``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BODY = b"x" * 100
PREFETCH = {"activemq.prefetchSize": "1000", "prefetch-count": "1000"}
READY_TIMEOUT = 30.0
RUN_TIMEOUT = 600.0


@dataclass(frozen=True)
class BrokerTarget:
    """Where a broker listens and how to log in."""

    name: str
    host: str
    port: int
    login: str
    passcode: str
    vhost: str
    ws_url: str | None = None
    """STOMP over WebSocket (``ws://host:port/path``), when the broker offers it."""


def _env(name: str, key: str, default: str) -> str:
    return os.environ.get(f"STOMP_{name.upper()}_{key}", default)


def brokers() -> list[BrokerTarget]:
    """The brokers of ``STOMP_*`` (scripts/brokers/start.sh), with its default ports."""
    env_file = Path(os.environ.get("BROKERS_DIR", "/tmp/stomp-brokers")) / "brokers.env"
    if env_file.is_file():
        for line in env_file.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.startswith("STOMP_") and key not in os.environ:
                os.environ[key] = value.strip("'\"")
    defaults = {
        "activemq": ("61613", "admin", "admin", "localhost"),
        "rabbitmq": ("61623", "guest", "guest", "/"),
    }
    return [
        BrokerTarget(
            name=name,
            host=_env(name, "HOST", "127.0.0.1"),
            port=int(_env(name, "PORT", port)),
            login=_env(name, "LOGIN", login),
            passcode=_env(name, "PASSCODE", passcode),
            vhost=_env(name, "VHOST", vhost),
            ws_url=os.environ.get(f"STOMP_{name.upper()}_WS_URL") or None,
        )
        for name, (port, login, passcode, vhost) in defaults.items()
    ]


def reachable(target: BrokerTarget) -> bool:
    """Whether the broker accepts a TCP connection."""
    try:
        with socket.create_connection((target.host, target.port), timeout=2.0):
            return True
    except OSError:
        return False


# -- the raw-socket baseline ---------------------------------------------------------------------


def _raw_connect(target: BrokerTarget) -> tuple[socket.socket, bytearray]:
    sock = socket.create_connection((target.host, target.port), timeout=READY_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connect = (
        f"CONNECT\naccept-version:1.2\nhost:{target.vhost}\nlogin:{target.login}\n"
        f"passcode:{target.passcode}\nheart-beat:0,0\n\n\0"
    )
    sock.sendall(connect.encode())
    buffer = bytearray()
    while b"\0" not in buffer:
        data = sock.recv(65536)
        if not data:
            msg = "the broker closed the connection during CONNECT"
            raise ConnectionError(msg)
        buffer += data
    if not buffer.startswith(b"CONNECTED"):
        msg = f"CONNECT refused: {bytes(buffer[:200])!r}"
        raise ConnectionError(msg)
    del buffer[: buffer.index(b"\0") + 1]
    return sock, buffer


def _raw_disconnect(sock: socket.socket) -> None:
    sock.sendall(b"DISCONNECT\nreceipt:bye\n\n\0")
    sock.settimeout(READY_TIMEOUT)
    data = b""
    while b"receipt-id:bye" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()


def raw_producer(target: BrokerTarget, queue: str, count: int) -> float:
    """Write *count* pre-encoded SEND frames in batches; return when the first was written."""
    sock, _ = _raw_connect(target)
    frame = b"SEND\ndestination:%s\ncontent-length:%d\n\n%s\0" % (queue.encode(), len(BODY), BODY)
    batch = frame * 1000
    started = time.monotonic()
    sent = 0
    while sent < count:
        n = min(1000, count - sent)
        sock.sendall(batch if n == 1000 else frame * n)
        sent += n
    _raw_disconnect(sock)
    return started


def raw_consumer(target: BrokerTarget, queue: str, count: int, ready: Callable[[], None]) -> float:
    """Subscribe, then read MESSAGEs and ACK each one (one write per read); return the end."""
    sock, buffer = _raw_connect(target)
    subscribe = f"SUBSCRIBE\nid:0\ndestination:{queue}\nack:client-individual\n"
    subscribe += "".join(f"{k}:{v}\n" for k, v in PREFETCH.items()) + "receipt:sub\n\n\0"
    sock.sendall(subscribe.encode())
    while b"receipt-id:sub" not in buffer:
        buffer += sock.recv(65536)
    del buffer[: buffer.index(b"\0", buffer.index(b"receipt-id:sub")) + 1]
    ready()
    received = 0
    finished = 0.0
    while received < count:
        data = sock.recv(262144)
        if not data:
            msg = "the broker closed the connection"
            raise ConnectionError(msg)
        buffer += data
        acks = []
        pos = 0
        while True:
            while pos < len(buffer) and buffer[pos] in (10, 13):
                pos += 1
            head_end = buffer.find(b"\n\n", pos)
            if head_end < 0:
                break
            ack_at = buffer.find(b"\nack:", pos, head_end)
            length_at = buffer.find(b"\ncontent-length:", pos, head_end)
            if length_at >= 0:
                line_end = buffer.find(b"\n", length_at + 1)
                end = head_end + 2 + int(buffer[length_at + 16 : line_end])
            else:
                end = buffer.find(b"\0", head_end + 2)
                if end < 0:
                    break
            if end >= len(buffer):
                break
            if ack_at >= 0:
                line_end = buffer.find(b"\n", ack_at + 1)
                acks.append(b"ACK\nid:" + bytes(buffer[ack_at + 5 : line_end]) + b"\n\n\0")
                received += 1
            pos = end + 1
        del buffer[:pos]
        if acks:
            sock.sendall(b"".join(acks))
            finished = time.monotonic()
    _raw_disconnect(sock)
    return finished


# -- this project's blocking client ------------------------------------------------------------


def _sync_client(target: BrokerTarget, *, ws: bool = False) -> object:
    from stomp_frame import Version
    from stomp_sync import Client

    return Client(
        str(target.ws_url) if ws else f"tcp://{target.host}:{target.port}",
        login=target.login,
        passcode=target.passcode,
        vhost=target.vhost,
        versions=(Version.V1_2,),
    )


def sync_producer(target: BrokerTarget, queue: str, count: int, *, ws: bool = False) -> float:
    """Send *count* messages with stomp-sync; return when the first send began."""
    from stomp_sync import Client

    client = _sync_client(target, ws=ws)
    assert isinstance(client, Client)
    client.connect()
    send = client.send
    started = time.monotonic()
    for _ in range(count):
        send(queue, BODY)
    client.disconnect()
    return started


def sync_consumer(
    target: BrokerTarget, queue: str, count: int, ready: Callable[[], None], *, ws: bool = False
) -> float:
    """Receive and ack *count* messages with stomp-sync; return when the last ACK was written."""
    from stomp_sync import Client

    client = _sync_client(target, ws=ws)
    assert isinstance(client, Client)
    client.connect()
    client.subscribe(queue, ack="client-individual", headers=PREFETCH, receipt=True)
    ready()
    receive, ack = client.receive, client.ack
    for _ in range(count):
        message = receive(RUN_TIMEOUT)
        if message is None:
            msg = "no message within the timeout"
            raise TimeoutError(msg)
        ack(message)
    finished = time.monotonic()
    client.disconnect()
    return finished


def sync_ws_producer(target: BrokerTarget, queue: str, count: int) -> float:
    """stomp-sync's producer over WebSocket."""
    return sync_producer(target, queue, count, ws=True)


def sync_ws_consumer(
    target: BrokerTarget, queue: str, count: int, ready: Callable[[], None]
) -> float:
    """stomp-sync's consumer over WebSocket."""
    return sync_consumer(target, queue, count, ready, ws=True)


# -- this project's asyncio client ------------------------------------------------------------


def _asyncio_client(target: BrokerTarget) -> object:
    from stomp_asyncio import Client
    from stomp_frame import Version

    return Client(
        f"tcp://{target.host}:{target.port}",
        login=target.login,
        passcode=target.passcode,
        vhost=target.vhost,
        versions=(Version.V1_2,),
    )


def asyncio_producer(target: BrokerTarget, queue: str, count: int) -> float:
    """Send *count* messages with stomp-asyncio (a loop of its own); return when sending began."""
    import asyncio

    from stomp_asyncio import Client

    async def produce() -> float:
        client = _asyncio_client(target)
        assert isinstance(client, Client)
        await client.connect()
        send = client.send
        started = time.monotonic()
        for _ in range(count):
            await send(queue, BODY)
        await client.disconnect()
        return started

    return asyncio.run(produce())


def asyncio_consumer(
    target: BrokerTarget, queue: str, count: int, ready: Callable[[], None]
) -> float:
    """Receive and ack *count* messages with stomp-asyncio; return when the last ACK left."""
    import asyncio

    from stomp_asyncio import Client

    async def consume() -> float:
        client = _asyncio_client(target)
        assert isinstance(client, Client)
        await client.connect()
        await client.subscribe(queue, ack="client-individual", headers=PREFETCH, receipt=True)
        ready()
        receive, ack = client.receive, client.ack
        for _ in range(count):
            message = await receive(RUN_TIMEOUT)
            if message is None:
                msg = "no message within the timeout"
                raise TimeoutError(msg)
            await ack(message)
        finished = time.monotonic()
        await client.disconnect()
        return finished

    return asyncio.run(consume())


# -- the asyncio peers: stompman, aiostomp -----------------------------------------------------


def _stompman_client(target: BrokerTarget) -> object:
    import stompman  # type: ignore[import-not-found, unused-ignore]

    return stompman.Client(
        servers=[
            stompman.ConnectionParameters(
                host=target.host,
                port=target.port,
                login=target.login,
                passcode=target.passcode,
            )
        ]
    )


def stompman_producer(target: BrokerTarget, queue: str, count: int) -> float:
    """Send *count* messages with stompman; return when sending began."""
    import asyncio

    async def produce() -> float:
        client: object = _stompman_client(target)
        async with client:  # type: ignore[attr-defined]
            send = client.send  # type: ignore[attr-defined]
            started = time.monotonic()
            for _ in range(count - 1):
                await send(BODY, queue)
            # stompman's exit does not flush what is written: the last one waits for its
            # receipt, so that the broker has every one before the client goes.
            await send(BODY, queue, receipt_timeout=RUN_TIMEOUT)
        return started

    return asyncio.run(produce())


def stompman_consumer(
    target: BrokerTarget, queue: str, count: int, ready: Callable[[], None]
) -> float:
    """Handle *count* messages with a stompman handler (it ACKs each); return the last's time."""
    import asyncio

    async def consume() -> float:
        done = asyncio.Event()
        state = {"received": 0, "finished": 0.0}

        async def handle(_frame: object) -> None:
            state["received"] += 1
            if state["received"] == count:
                done.set()

        client: object = _stompman_client(target)
        await client.__aenter__()  # type: ignore[attr-defined]
        await client.subscribe(  # type: ignore[attr-defined]
            queue,
            handle,
            ack="client-individual",
            headers=dict(PREFETCH),
            on_suppressed_exception=lambda _error, _frame: None,
            receipt_timeout=READY_TIMEOUT,
        )
        ready()
        await asyncio.wait_for(done.wait(), RUN_TIMEOUT)
        await asyncio.sleep(0)  # the last handler's ACK is written once it returned
        state["finished"] = time.monotonic()
        # Measured: its exit (unsubscribe, DISCONNECT) can take long here, so it is bounded.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(client.__aexit__(None, None, None), 5.0)  # type: ignore[attr-defined]
        return state["finished"]

    return asyncio.run(consume())


def aiostomp_producer(target: BrokerTarget, queue: str, count: int) -> float:
    """Send *count* messages with aiostomp; return when sending began."""
    import asyncio

    from aiostomp import AioStomp  # type: ignore[import-not-found, unused-ignore]

    async def produce() -> float:
        client = AioStomp(target.host, target.port)
        await client.connect(username=target.login, password=target.passcode)
        send = client.send
        started = time.monotonic()
        for n in range(count):
            send(queue, BODY)
            if n % 1000 == 999:
                await asyncio.sleep(0)  # let the loop write and read
        transport = client._protocol._transport
        while transport is not None and transport.get_write_buffer_size():
            await asyncio.sleep(0.001)
        client.close()
        return started

    return asyncio.run(produce())


def aiostomp_consumer(
    target: BrokerTarget, queue: str, count: int, ready: Callable[[], None]
) -> float:
    """Handle *count* messages with an aiostomp handler (auto_ack); return the last's time."""
    import asyncio

    from aiostomp import AioStomp

    async def consume() -> float:
        done = asyncio.Event()
        state = {"received": 0, "finished": 0.0}

        async def handle(_frame: object, _body: bytes) -> bool:
            state["received"] += 1
            if state["received"] == count:
                done.set()
            return True

        client = AioStomp(target.host, target.port)
        await client.connect(username=target.login, password=target.passcode)
        client.subscribe(
            queue, ack="client-individual", extra_headers=dict(PREFETCH), handler=handle
        )
        await asyncio.sleep(0.5)  # aiostomp offers no SUBSCRIBE receipt; let the broker have it
        ready()
        await asyncio.wait_for(done.wait(), RUN_TIMEOUT)
        await asyncio.sleep(0)  # the last ACK is written once the handler returned
        finished = time.monotonic()
        client.close()
        return finished

    return asyncio.run(consume())


# -- stomp.py --------------------------------------------------------------------------------


def _stomppy_connection(target: BrokerTarget, *, ws: bool = False) -> object:
    import stomp  # type: ignore[import-untyped]

    if ws:
        from urllib.parse import urlsplit

        url = urlsplit(str(target.ws_url))
        return stomp.WSStompConnection(
            [(url.hostname, url.port)],
            ws_path=url.path or "/",
            vhost=target.vhost,
            auto_decode=False,
            heartbeats=(0, 0),
        )
    return stomp.Connection12(
        [(target.host, target.port)], vhost=target.vhost, auto_decode=False, heartbeats=(0, 0)
    )


def stomppy_producer(target: BrokerTarget, queue: str, count: int, *, ws: bool = False) -> float:
    """Send *count* messages with stomp.py; return when the first send began."""
    conn: object = _stomppy_connection(target, ws=ws)
    conn.connect(target.login, target.passcode, wait=True)  # type: ignore[attr-defined]
    send = conn.send  # type: ignore[attr-defined]
    started = time.monotonic()
    for _ in range(count):
        send(queue, BODY)
    conn.disconnect(receipt="bye")  # type: ignore[attr-defined]
    return started


def stomppy_consumer(
    target: BrokerTarget, queue: str, count: int, ready: Callable[[], None], *, ws: bool = False
) -> float:
    """Receive and ack *count* messages with stomp.py's listener; return the last ACK's time."""
    import threading

    import stomp

    conn = _stomppy_connection(target, ws=ws)
    done = threading.Event()
    state = {"received": 0, "finished": 0.0}

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: object) -> None:
            conn.ack(frame.headers["ack"])  # type: ignore[attr-defined]
            state["received"] += 1
            if state["received"] == count:
                state["finished"] = time.monotonic()
                done.set()

    conn.set_listener("bench", Listener())  # type: ignore[attr-defined]
    conn.connect(target.login, target.passcode, wait=True)  # type: ignore[attr-defined]
    conn.subscribe(queue, id="0", ack="client-individual", headers=dict(PREFETCH))  # type: ignore[attr-defined]
    time.sleep(0.5)  # stomp.py offers no SUBSCRIBE receipt wait; let the broker register it
    ready()
    if not done.wait(RUN_TIMEOUT):
        msg = f"stomp.py received {state['received']} of {count}"
        raise TimeoutError(msg)
    conn.disconnect(receipt="bye")  # type: ignore[attr-defined]
    return state["finished"]


def stomppy_ws_producer(target: BrokerTarget, queue: str, count: int) -> float:
    """stomp.py's producer over WebSocket (``WSStompConnection``)."""
    return stomppy_producer(target, queue, count, ws=True)


def stomppy_ws_consumer(
    target: BrokerTarget, queue: str, count: int, ready: Callable[[], None]
) -> float:
    """stomp.py's consumer over WebSocket (``WSStompConnection``)."""
    return stomppy_consumer(target, queue, count, ready, ws=True)


CONTENDERS: dict[str, tuple[Callable[..., float], Callable[..., float]]] = {
    "raw": (raw_producer, raw_consumer),
    "stomp-sync": (sync_producer, sync_consumer),
    "stomp-asyncio": (asyncio_producer, asyncio_consumer),
    "stomp.py": (stomppy_producer, stomppy_consumer),
    "stomp-sync ws": (sync_ws_producer, sync_ws_consumer),
    "stomp.py ws": (stomppy_ws_producer, stomppy_ws_consumer),
    "stompman": (stompman_producer, stompman_consumer),
    "aiostomp": (aiostomp_producer, aiostomp_consumer),
}
WEBSOCKET = ("stomp-sync ws", "stomp.py ws")
"""The contenders that need the broker's WebSocket endpoint."""


@dataclass(frozen=True)
class Job:
    """One side of a run, as sent to its process."""

    name: str
    target: BrokerTarget
    queue: str
    count: int


def _consume(job: Job, ready: object, out: object) -> None:
    consumer = CONTENDERS[job.name][1]
    cpu = time.process_time()
    finished = consumer(job.target, job.queue, job.count, ready.set)  # type: ignore[attr-defined]
    out.put(("consumer cpu", time.process_time() - cpu))  # type: ignore[attr-defined]
    out.put(("consumer", finished))  # type: ignore[attr-defined]


def _produce(job: Job, ready: object, out: object) -> None:
    if not ready.wait(READY_TIMEOUT):  # type: ignore[attr-defined]
        out.put(("error", "the consumer was not ready"))  # type: ignore[attr-defined]
        return
    producer = CONTENDERS[job.name][0]
    cpu = time.process_time()
    started = producer(job.target, job.queue, job.count)
    out.put(("producer cpu", time.process_time() - cpu))  # type: ignore[attr-defined]
    out.put(("producer", started))  # type: ignore[attr-defined]


def _pair_in_threads(job: Job, out: object) -> None:
    """Producer and consumer of one contender as two threads of one process."""
    import queue as queues
    import threading

    ready = threading.Event()
    finished: queues.Queue[tuple[str, object]] = queues.Queue()

    def consume() -> None:
        try:
            end = CONTENDERS[job.name][1](job.target, job.queue, job.count, ready.set)
            finished.put(("consumer", end))
        except Exception as exc:  # noqa: BLE001 - reported to the parent process
            finished.put(("error", repr(exc)))
            ready.set()

    thread = threading.Thread(target=consume, name="consumer")
    thread.start()
    if not ready.wait(READY_TIMEOUT):
        out.put(("error", "the consumer was not ready"))  # type: ignore[attr-defined]
        return
    cpu = time.process_time()
    started = CONTENDERS[job.name][0](job.target, job.queue, job.count)
    thread.join(RUN_TIMEOUT)
    kind, value = finished.get(timeout=1.0)
    out.put(("consumer cpu", time.process_time() - cpu))  # type: ignore[attr-defined]
    out.put(("producer cpu", 0.0))  # type: ignore[attr-defined]  # counted above: one process
    out.put((kind, value))  # type: ignore[attr-defined]
    out.put(("producer", started))  # type: ignore[attr-defined]


def _collect(out: object) -> dict[str, float]:
    """The figures the two sides report: their times and their CPU seconds."""
    results: dict[str, float] = {}
    while len(results) < 4:
        kind, value = out.get(timeout=RUN_TIMEOUT)  # type: ignore[attr-defined]
        if kind == "error":
            raise RuntimeError(value)
        results[kind] = value
    return results


def run_pair(
    name: str, target: BrokerTarget, count: int, layout: str = "processes"
) -> tuple[float, float]:
    """Run producer and consumer of one contender; return messages per second and CPU seconds.

    ``processes``: in two processes; ``threads``: as two threads of one process (the
    client side then uses at most one core, as the Twisted client's single reactor does,
    leaving the other to the broker).
    """
    queue = f"/queue/bench-e2e-{name.replace('.', '')}-{uuid.uuid4().hex[:12]}"
    context = mp.get_context("spawn")
    ready = context.Event()
    out = context.Queue()
    job = Job(name=name, target=target, queue=queue, count=count)
    if layout == "threads":
        both = context.Process(target=_pair_in_threads, args=(job, out))
        both.start()
        results = _collect(out)
        both.join(READY_TIMEOUT)
    else:
        consumer = context.Process(target=_consume, args=(job, ready, out))
        producer = context.Process(target=_produce, args=(job, ready, out))
        consumer.start()
        producer.start()
        results = _collect(out)
        producer.join(READY_TIMEOUT)
        consumer.join(READY_TIMEOUT)
    rate = count / (results["consumer"] - results["producer"])
    return rate, results["consumer cpu"] + results["producer cpu"]


def run_twisted(target: BrokerTarget, count: int) -> tuple[float, float] | None:
    """The Twisted client, in a subprocess of its own (a reactor runs once per process)."""
    here = Path(__file__).parent
    if not (here / "_twisted_e2e.py").is_file():
        return None
    queue = f"/queue/bench-e2e-twisted-{uuid.uuid4().hex[:12]}"
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import _twisted_e2e as t; "
        "a = json.loads(sys.argv[2]); print(json.dumps(t.run(**a, body=b'x' * 100)))"
    )
    args = {
        "host": target.host,
        "port": target.port,
        "login": target.login,
        "passcode": target.passcode,
        "vhost": target.vhost,
        "queue": queue,
        "count": count,
    }
    done = subprocess.run(
        [sys.executable, "-c", code, str(here), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        if (
            "No module named 'twisted'" in done.stderr
            or "No module named 'stomp_twisted'" in done.stderr
        ):
            return None
        msg = f"the Twisted run failed:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    elapsed, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return count / float(elapsed), float(cpu)


def main() -> None:
    """Run every contender on every broker that answers and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="messages per run")
    parser.add_argument("--only", choices=[*CONTENDERS, "twisted"], action="append")
    parser.add_argument(
        "--layout",
        choices=["processes", "threads"],
        default="threads",
        help="producer and consumer in two processes, or as two threads of one",
    )
    args = parser.parse_args()
    names = args.only or [*CONTENDERS, "twisted"]
    from stomp_frame import COMPILED  # the build the clients run on, in every process

    print(
        f"end-to-end: {args.count:,} messages of {len(BODY)} bytes, client-individual acks;"
        f" producer and consumer as {args.layout} (twisted: one reactor, one process);"
        f" stomp-frame's build: {'compiled with mypyc' if COMPILED else 'pure Python'}"
    )
    for target in brokers():
        if not reachable(target):
            print(f"  {target.name}: not running, skipped (scripts/brokers/start.sh)")
            continue
        figures: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for name in names:
            if name in WEBSOCKET and target.ws_url is None:
                print(f"  {target.name:9} {name:13} no WebSocket endpoint (STOMP_<B>_WS_URL)")
                continue
            measured = (
                run_twisted(target, args.count)
                if name == "twisted"
                else run_pair(name, target, args.count, args.layout)
            )
            if measured is None:
                print(f"  {target.name:9} {name:11} not available")
                continue
            figures[name], cpu[name] = measured
            share = f", {figures[name] / figures['raw']:.2f} of raw" if "raw" in figures else ""
            print(
                f"  {target.name:9} {name:13} {figures[name]:>10,.0f} msg/s{share}, "
                f"client CPU {cpu[name]:5.2f} s ({cpu[name] * 100_000 / args.count:5.2f} s"
                " per 100,000 messages)"
            )
        raw, peer = figures.get("raw"), figures.get("stomp.py")
        peers = [p for p in ("stompman", "aiostomp") if p in figures]
        if "stomp-asyncio" in figures and peers:
            best = max(peers, key=lambda p: figures[p])
            thrifty = min(peers, key=lambda p: cpu[p])
            print(
                f"  {target.name:9} stomp-asyncio {figures['stomp-asyncio'] / figures[best]:.2f}x"
                f" the faster asyncio peer ({best}); CPU {cpu['stomp-asyncio'] / cpu[thrifty]:.2f}x"
                f" the thriftier one's ({thrifty}; target <= 0.20x)"
            )
        for ours in ("stomp-sync", "stomp-asyncio", "twisted"):
            if ours not in figures:
                continue
            ratios = []
            if peer:
                ratios.append(f"{figures[ours] / peer:.2f}x stomp.py (target >= 1.5x)")
                ratios.append(
                    f"CPU {cpu[ours] / cpu['stomp.py']:.2f}x stomp.py's (target <= 0.33x)"
                )
            if raw and ours == "stomp-asyncio":
                ratios.append(f"{figures[ours] / raw:.0%} of raw (target >= 90%)")
            elif raw and ours == "stomp-sync":
                ratios.append(f"{figures[ours] / raw:.0%} of raw (target >= 70%)")
            print(f"  {target.name:9} {ours:11} " + ", ".join(ratios))
        ws, tcp, peer_ws = (figures.get(n) for n in ("stomp-sync ws", "stomp-sync", "stomp.py ws"))
        if ws:
            ratios = []
            if tcp:
                ratios.append(f"{ws / tcp:.2f}x stomp-sync over TCP (target >= 0.8x)")
            if peer_ws:
                ratios.append(f"{ws / peer_ws:.2f}x stomp.py ws (target > 1x)")
                ratios.append(
                    f"CPU {cpu['stomp-sync ws'] / cpu['stomp.py ws']:.2f}x stomp.py ws's"
                    " (aim <= 0.5x)"
                )
            print(f"  {target.name:9} {'stomp-sync ws':13} " + ", ".join(ratios))


if __name__ == "__main__":
    main()

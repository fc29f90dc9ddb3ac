"""The docs' examples against real brokers: examples/asyncio_client.py ("Compose your own client").

The script is run as a reader runs it (a subprocess), and its ``Client`` is driven through
failover, a lost connection with the subscription replayed, and a URI whose budget runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from examples.asyncio_client import Client
from stomp_failover import BrokersExhausted
from stomp_session import State
from tests.integration._brokers import REPO_ROOT, BrokerInfo, QueueNamer

TIMEOUT = 20.0


def _client(broker: BrokerInfo, uri: str) -> Client:
    return Client(uri, host=broker.vhost, login=broker.login, passcode=broker.passcode)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Proxy:
    """A TCP relay to the broker whose connections the test can cut, as a network failure."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.writers: list[asyncio.StreamWriter] = []
        self.connections = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, upstream_writer]
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    def cut(self) -> None:
        """Drop every relayed connection abruptly (no DISCONNECT, no FIN handshake)."""
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        """Listen on a loopback port; yield it."""
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            self.cut()
            server.close()
            await server.wait_closed()


async def reconnected(client: Client, proxy: Proxy) -> None:
    """Wait until the client noticed the cut and is connected again, through the proxy."""
    while proxy.connections < 2 or client.session.state is not State.CONNECTED:
        await asyncio.sleep(0.01)


def test_the_script_round_trips_a_message(broker: BrokerInfo, unique_queue: QueueNamer) -> None:
    host, port = broker.address
    queue = unique_queue("example")
    command = [sys.executable, "examples/asyncio_client.py", f"tcp://{host}:{port}"]
    command += ["--host", broker.vhost, "--login", broker.login, "--passcode", broker.passcode]
    command += ["--queue", queue]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"connected to tcp://{host}:{port}",
        f"received b'hello' from {queue}",
    ]


def test_failover_passes_over_a_broker_that_is_down(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    host, port = broker.address
    dead = _closed_port()
    uri = f"failover:(tcp://127.0.0.1:{dead},tcp://{host}:{port})?randomize=false"

    async def scenario() -> None:
        client = _client(broker, uri)
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert client.broker is not None
        assert client.broker.address == (host, port)
        queue = unique_queue("failover")
        await client.subscribe(queue)
        await client.send(queue, b"after failover")
        message = await asyncio.wait_for(client.messages.get(), TIMEOUT)
        assert message.body == b"after failover"
        client.ack(message)
        await client.disconnect()

    asyncio.run(scenario())


def test_a_lost_connection_is_replaced_and_the_subscription_replayed(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    proxy = Proxy(broker.address)

    async def scenario() -> None:
        async with proxy.serving() as port:
            client = _client(broker, f"tcp://127.0.0.1:{port}?initialReconnectDelay=50")
            await asyncio.wait_for(client.connect(), TIMEOUT)
            queue = unique_queue("replay")
            subscription = await client.subscribe(queue)
            proxy.cut()
            await asyncio.wait_for(reconnected(client, proxy), TIMEOUT)
            # The SUBSCRIBE was replayed with CONNECTED, before this SEND.
            await asyncio.wait_for(client.send(queue, b"after the cut"), TIMEOUT)
            message = await asyncio.wait_for(client.messages.get(), TIMEOUT)
            assert message.body == b"after the cut"
            assert message.subscription == subscription
            assert proxy.connections == 2
            client.ack(message)
            await client.disconnect()

    asyncio.run(scenario())


def test_connect_gives_up_when_the_uri_budget_is_spent() -> None:
    dead = _closed_port()
    uri = f"tcp://127.0.0.1:{dead}?startupMaxReconnectAttempts=1&initialReconnectDelay=1"

    async def scenario() -> None:
        client = Client(uri, host="/")
        with pytest.raises(BrokersExhausted) as raised:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert raised.value.attempts == 2
        await client.disconnect()

    asyncio.run(scenario())

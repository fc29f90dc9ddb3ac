"""STOMP over WebSocket on the real brokers (RabbitMQ Web-STOMP, ActiveMQ's ws connector),
with every client: versions, binary bodies, receipts, transactions, acks, a 1 MiB body,
heart-beats, TLS (wss://), and failover between ws:// and tcp:// in one URI.

The clients are driven through the contract suite's drivers (tests/contract/_drivers.py),
so each scenario is written once. The broker-closed connection of the failover test is a
TCP proxy in front of each broker that cuts its connections (and refuses new ones), as a
broker that goes away does.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from stomp_core import ClientState, TlsOptions
from stomp_frame import Version
from tests.contract._drivers import AsyncioDriver, Driver, SyncDriver, TwistedDriver
from tests.integration._brokers import BrokerInfo, QueueNamer, brokers_required

pytestmark = pytest.mark.broker("activemq", "rabbitmq")

KINDS: dict[str, Callable[..., Driver]] = {
    "asyncio": AsyncioDriver,
    "sync": SyncDriver,
    "twisted": TwistedDriver,
}
TIMEOUTS: dict[str, Any] = {
    "connect_timeout": 5.0,
    "connected_timeout": 5.0,
    "receipt_timeout": 10.0,
    "disconnect_timeout": 5.0,
}


@pytest.fixture(scope="module")
def _asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def ws_broker(broker: BrokerInfo) -> BrokerInfo:
    """``broker``, when start.sh gave it a WebSocket endpoint that accepts connections."""
    if broker.ws_url is None:
        msg = f"{broker.name}: no STOMP_{broker.name.upper()}_WS_URL (scripts/brokers/start.sh)"
        if brokers_required(broker.name):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    url = urlsplit(broker.ws_url)
    try:
        with socket.create_connection((url.hostname, url.port or 80), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(f"{broker.name}: {broker.ws_url} does not answer: {exc}", pytrace=False)
    return broker


MakeClient = Callable[..., Driver]


@pytest.fixture(params=sorted(KINDS))
def make_client(request: pytest.FixtureRequest, ws_broker: BrokerInfo) -> Iterator[MakeClient]:
    """Make a client of the parametrized kind on *uri* (by default the broker's ws:// URL)."""
    extra: dict[str, Any] = {}
    if request.param == "twisted":
        request.getfixturevalue("twisted_reactor")
    elif request.param == "asyncio":
        extra["loop"] = request.getfixturevalue("_asyncio_loop")
    made: list[Driver] = []

    def make(uri: str | None = None, **options: Any) -> Driver:
        assert ws_broker.ws_url is not None
        driver = KINDS[request.param](
            uri or ws_broker.ws_url,
            login=ws_broker.login,
            passcode=ws_broker.passcode,
            vhost=ws_broker.vhost,
            **{**TIMEOUTS, **extra, **options},
        )
        made.append(driver)
        return driver

    yield make
    for driver in made:
        with contextlib.suppress(Exception):
            driver.close()


def a_body(broker: BrokerInfo, size: int = 512) -> bytes:
    """Every byte value where the broker reads binary messages; UTF-8 (and NULs) elsewhere."""
    if broker.facts.websocket_binary:
        return (bytes(range(256)) * (size // 256 + 1))[:size]
    unit = "h\u00e9llo \u2603 \x00 "
    text = (unit * (size // len(unit.encode()) + 1)).encode()[:size]
    return text.decode("utf-8", "ignore").encode()


def take(client: Driver, timeout: float = 10.0) -> Any:
    message = client.receive(timeout)
    assert message is not None, "no message within the timeout"
    return message


@pytest.mark.parametrize("version", list(Version), ids=[v.value for v in Version])
def test_receipts_acks_and_transactions_over_websocket(
    make_client: MakeClient, ws_broker: BrokerInfo, unique_queue: QueueNamer, version: Version
) -> None:
    client = make_client(versions=[version.value])
    connected = client.connect()
    assert connected.version is version
    queue = unique_queue("ws")
    ack = "client" if version is Version.V1_0 else "client-individual"
    client.subscribe(queue, ack=ack, receipt=True)
    body = a_body(ws_broker)
    client.send(queue, body, receipt=True)
    message = take(client)
    assert message.body == body
    client.ack(message, receipt=True)
    tx = client.begin()
    client.send(queue, b"first in tx", transaction=tx)
    client.send(queue, b"second in tx", transaction=tx)
    client.commit(tx, receipt=True)
    taken = [take(client) for _ in range(2)]
    assert [m.body for m in taken] == [b"first in tx", b"second in tx"]
    tx = client.begin()
    for message in taken:
        client.ack(message, transaction=tx)
    client.commit(tx, receipt=True)
    result = client.disconnect()
    assert result.receipt
    assert client.state is ClientState.CLOSED


def test_a_1_mib_body_and_heart_beats_over_websocket(
    make_client: MakeClient, ws_broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    client = make_client(heart_beat=(500, 500))
    connected = client.connect()
    assert connected.heart_beat != (0, 0)
    queue = unique_queue("ws-big")
    client.subscribe(queue, receipt=True)
    body = a_body(ws_broker, 1 << 20)
    client.send(queue, body, receipt=True)
    assert take(client, 20).body == body
    time.sleep(2.5)  # five beats each way: the connection must still serve
    assert client.state is ClientState.CONNECTED
    client.send(queue, b"after the beats", receipt=True)
    assert take(client).body == b"after the beats"
    assert client.counters.reconnects == 0


def test_wss_verifies_the_broker_and_serves(
    make_client: MakeClient, ws_broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    if ws_broker.wss_url is None or ws_broker.ca_file is None:
        pytest.fail(f"{ws_broker.name}: no STOMP_<B>_WSS_URL or test CA", pytrace=False)
    # The certificate names localhost: the name verified (and sent as SNI) is the URI's.
    url = ws_broker.wss_url.replace("127.0.0.1", "localhost")
    client = make_client(url, tls=TlsOptions(ca_file=ws_broker.ca_file))
    client.connect()
    queue = unique_queue("wss")
    client.subscribe(queue, receipt=True)
    client.send(queue, a_body(ws_broker), receipt=True)
    assert take(client).body == a_body(ws_broker)
    assert client.disconnect().receipt


def test_wss_refuses_a_broker_it_cannot_verify(
    make_client: MakeClient, ws_broker: BrokerInfo
) -> None:
    assert ws_broker.wss_url is not None
    client = make_client(f"{ws_broker.wss_url}?startupMaxReconnectAttempts=0")
    with pytest.raises(Exception, match=r"(?i)certificate verify failed"):
        client.connect()


class Proxy:
    """A TCP proxy to *target* in a thread: :meth:`cut` drops every connection at once, and
    while :attr:`refusing` new ones are closed as soon as accepted (a broker gone away)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.refusing = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._cut = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True

    def stop(self) -> None:
        self._stop = True
        self._thread.join(5)
        for sock in list(self._pairs):
            sock.close()
        self._listener.close()

    def _run(self) -> None:
        while not self._stop:
            for key, _ in self._selector.select(0.05):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if sock is self._listener:
                    self._accept()
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                peer = self._pairs.get(sock)
                if not data or peer is None:
                    self._close(sock)
                    continue
                with contextlib.suppress(OSError):
                    peer.sendall(data)
            with self._lock:
                if self._cut:
                    self._cut = False
                    for sock in list(self._pairs):
                        self._close(sock)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        if self.refusing:
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for one, other in ((client, upstream), (upstream, client)):
            self._pairs[one] = other
            self._selector.register(one, selectors.EVENT_READ, None)

    def _close(self, sock: socket.socket) -> None:
        peer = self._pairs.pop(sock, None)
        for one in (sock, peer):
            if one is None:
                continue
            self._pairs.pop(one, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(one)
            one.close()


@pytest.fixture
def proxies(ws_broker: BrokerInfo) -> Iterator[tuple[Proxy, Proxy]]:
    assert ws_broker.ws_url is not None
    url = urlsplit(ws_broker.ws_url)
    assert url.hostname is not None
    ws, tcp = Proxy((url.hostname, url.port or 80)), Proxy(ws_broker.address)
    yield ws, tcp
    ws.stop()
    tcp.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("the condition never held")
        time.sleep(0.02)


def test_a_closed_websocket_fails_over_to_tcp_and_back(
    make_client: MakeClient,
    ws_broker: BrokerInfo,
    unique_queue: QueueNamer,
    proxies: tuple[Proxy, Proxy],
) -> None:
    ws, tcp = proxies
    path = urlsplit(ws_broker.ws_url or "").path or "/"
    uri = (
        f"failover:(ws://127.0.0.1:{ws.port}{path},tcp://127.0.0.1:{tcp.port})"
        "?randomize=false&initialReconnectDelay=50&maxReconnectDelay=200"
    )
    client = make_client(uri)
    client.connect()
    queue = unique_queue("ws-failover")
    client.subscribe(queue, receipt=True)
    client.send(queue, b"over ws", receipt=True)
    assert take(client).body == b"over ws"

    ws.refusing = True
    ws.cut()  # the WebSocket broker closes the connection, and refuses new ones
    wait_until(lambda: len(client.reconnects) == 1)
    assert client.reconnects[0].broker.scheme == "tcp"
    client.send(queue, b"over tcp", receipt=True)
    assert take(client).body == b"over tcp"

    ws.refusing = False
    tcp.refusing = True
    tcp.cut()  # now the TCP one goes: back to WebSocket
    wait_until(lambda: len(client.reconnects) == 2)
    assert client.reconnects[1].broker.scheme == "ws"
    client.send(queue, b"over ws again", receipt=True)
    assert take(client).body == b"over ws again"
    assert client.disconnect().receipt

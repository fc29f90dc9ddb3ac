"""STOMP over WebSocket, what only it has: refusals, binary bodies across messages, the
close handshake, and failover between a ws:// and a tcp:// broker of one URI.

Every other contract test runs over both transports already (the ``broker`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stomp_core import ClientState, ConnectFailed
from stomp_testing import BrokerCore, TestBroker
from tests.contract.conftest import MakeClient
from tests.contract.test_contract import wait_until


@pytest.fixture
def broker() -> Iterator[TestBroker]:
    """A broker over WebSocket only (this module's tests are about WebSocket)."""
    with TestBroker(BrokerCore(name="ws"), websocket="/stomp") as running:
        yield running


@pytest.fixture
def tcp_broker() -> Iterator[TestBroker]:
    with TestBroker(BrokerCore(name="tcp")) as running:
        yield running


@pytest.mark.parametrize(("status", "reason"), [(401, "Unauthorized"), (403, "Forbidden")])
def test_a_refused_upgrade_fails_the_connect_with_status_and_reason(
    make_client: MakeClient, broker: TestBroker, status: int, reason: str
) -> None:
    broker.core.websocket_refusal = status
    client = make_client(f"{broker.uri}?startupMaxReconnectAttempts=0")
    with pytest.raises(ConnectFailed, match=f"HTTP {status} {reason}"):
        client.connect()


def test_a_wrong_path_fails_with_404(make_client: MakeClient, broker: TestBroker) -> None:
    uri = broker.uri.replace("/stomp", "/nowhere")
    client = make_client(f"{uri}?startupMaxReconnectAttempts=0")
    with pytest.raises(ConnectFailed, match="HTTP 404 Not Found"):
        client.connect()


def test_binary_bodies_survive_frames_split_over_many_messages(
    make_client: MakeClient, broker: TestBroker
) -> None:
    broker.core.websocket_message_size = 1000
    client = make_client()
    client.connect()
    body = bytes(range(256)) * 1024 + b"\x00"  # 256 KiB and a NUL, in 263 messages
    client.subscribe("/queue/bin")
    client.send("/queue/bin", body, receipt=True)
    message = client.receive(10)
    assert message is not None
    assert message.body == body
    assert broker.core.frames("SEND")[0].body == body
    assert broker.core.connections[0].subprotocol == "v12.stomp"


def test_a_graceful_disconnect_closes_the_websocket(
    make_client: MakeClient, broker: TestBroker
) -> None:
    client = make_client()
    client.connect()
    connection = broker.core.connections[0]
    result = client.disconnect()
    assert result.receipt
    wait_until(lambda: connection.websocket_close is not None or connection.lost)
    assert connection.websocket_close == 1000


def test_failover_from_ws_to_tcp_and_back_in_one_uri(
    make_client: MakeClient, broker: TestBroker, tcp_broker: TestBroker
) -> None:
    uri = (
        f"failover:({broker.uri},{tcp_broker.uri})"
        "?randomize=false&initialReconnectDelay=10&useExponentialBackOff=false"
    )
    client = make_client(uri)
    client.connect()
    client.subscribe("/queue/a")
    assert broker.core.connections
    with broker.locked() as core:
        core.websocket_refusal = 503  # the WebSocket endpoint goes down
    broker.drop_connections()
    wait_until(lambda: len(client.reconnects) == 1)
    assert client.reconnects[0].broker.scheme == "tcp"
    with tcp_broker.locked() as core:
        core.publish("/queue/a", b"over tcp")
    message = client.receive(5)
    assert message is not None
    assert message.body == b"over tcp"
    with broker.locked() as core:
        core.websocket_refusal = None
    tcp_broker.drop_connections()
    wait_until(lambda: len(client.reconnects) == 2)
    assert client.reconnects[1].broker.scheme == "ws"
    with broker.locked() as core:
        core.publish("/queue/a", b"over ws")
    message = client.receive(5)
    assert message is not None
    assert message.body == b"over ws"
    assert client.state is ClientState.CONNECTED


def test_a_websocket_ping_is_answered_and_the_connection_serves_on(
    make_client: MakeClient, broker: TestBroker
) -> None:
    client = make_client()
    client.connect()
    with broker.locked() as core:
        core.connections[0].ping()
        core.publish("/queue/p", b"after the ping")
    client.subscribe("/queue/p")
    message = client.receive(5)
    assert message is not None
    assert message.body == b"after the ping"
    assert client.state is ClientState.CONNECTED
    assert broker.core.connections[0].is_open

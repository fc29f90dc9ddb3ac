"""The test broker over WebSocket: the upgrade, frames both ways, refusals, the close."""

from __future__ import annotations

import asyncio
import socket

import pytest

from stomp_testing import AsyncioTestBroker, BrokerCore, TestBroker
from stomp_websocket import (
    Closed,
    Opened,
    StompData,
    UpgradeRefused,
    WebSocketCodec,
    WebSocketEvent,
)

CONNECT = b"CONNECT\naccept-version:1.1,1.2\nhost:/\n\n\x00"


def read_until(sock: socket.socket, codec: WebSocketCodec, kind: type) -> list[WebSocketEvent]:
    events: list[WebSocketEvent] = []
    while not any(isinstance(e, kind) for e in events):
        data = sock.recv(65536)
        events += codec.receive(data)
        if not data:
            break
        sock.sendall(codec.data_to_send())
    return events


def test_the_socket_broker_speaks_stomp_over_websocket_and_closes_cleanly() -> None:
    with TestBroker(BrokerCore(name="ws"), websocket="/ws") as broker:
        assert broker.uri.startswith("ws://127.0.0.1:")
        assert broker.uri.endswith("/ws")
        with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
            codec = WebSocketCodec("127.0.0.1", "/ws")
            sock.sendall(codec.handshake())
            (opened,) = read_until(sock, codec, Opened)
            assert isinstance(opened, Opened)
            assert opened.subprotocol == "v12.stomp"
            sock.sendall(codec.frame(CONNECT))
            events = read_until(sock, codec, StompData)
            assert b"".join(e.data for e in events if isinstance(e, StompData)).startswith(
                b"CONNECTED\nversion:1.2"
            )
            sock.sendall(codec.frame(b"DISCONNECT\nreceipt:bye\n\n\x00"))
            events = read_until(sock, codec, Closed)
            assert any(isinstance(e, StompData) and b"RECEIPT" in e.data for e in events)
            assert Closed(code=1000) in events
            sock.sendall(codec.data_to_send())  # the answer to the broker's close
            assert sock.recv(10) == b""  # then the broker ends the connection
        with broker.locked() as core:
            assert core.received[-1].command == "DISCONNECT"


def test_another_path_is_refused_with_404() -> None:
    with (
        TestBroker(websocket="/ws") as broker,
        socket.create_connection((broker.host, broker.port), timeout=5) as sock,
    ):
        codec = WebSocketCodec("127.0.0.1", "/other")
        sock.sendall(codec.handshake())
        with pytest.raises(UpgradeRefused, match="HTTP 404 Not Found"):
            read_until(sock, codec, Opened)


def test_the_asyncio_broker_speaks_stomp_over_websocket() -> None:
    async def main() -> bytes:
        async with AsyncioTestBroker(websocket="/stomp") as broker:
            assert broker.uri.endswith("/stomp")
            reader, writer = await asyncio.open_connection(broker.host, broker.port)
            codec = WebSocketCodec("127.0.0.1", "/stomp")
            writer.write(codec.handshake())
            got = b""
            while b"\x00" not in got:
                for event in codec.receive(await reader.read(65536)):
                    if isinstance(event, Opened):
                        writer.write(codec.frame(CONNECT))
                    elif isinstance(event, StompData):
                        got += event.data
            writer.close()
            return got

    assert asyncio.run(main()).startswith(b"CONNECTED\n")

"""STOMP over WebSocket in the client core: upgrade, framing, refusals, close, failover."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pytest

from stomp_core import (
    ClientEnded,
    ClientSettings,
    ClientState,
    ConnectFailed,
    ConnectionDropped,
    ConnectionLost,
    ConnectionMade,
    InvalidRequest,
    OpenTransport,
    WaitTimeout,
)
from stomp_core._core import ClientCore
from stomp_testing import BrokerCore
from stomp_websocket import Closed, ServerCodec, StompData, UpgradeRefused, WebSocketCodec

if TYPE_CHECKING:
    from conftest import Loopback

WS = "ws://mq.test:15674/ws"
MIXED = "failover:(ws://mq.test:15674/ws,tcp://mq.test:61613)?randomize=false"


def state(loop: Loopback) -> ClientState:
    """The client's state (a call: the type checker does not narrow it between steps)."""
    return loop.core.state


@pytest.fixture
def ws_loop(make_loop: Any) -> Loopback:
    wired: Loopback = make_loop(WS)
    wired.start()
    return wired


class TestUpgrade:
    def test_connect_goes_out_only_once_the_upgrade_is_accepted(self, make_loop: Any) -> None:
        loop: Loopback = make_loop(WS)
        loop.core.start(loop.now)
        event = loop.core.next_event()
        assert isinstance(event, OpenTransport)
        assert event.broker.websocket
        loop.connection = loop.broker.open_connection(loop.now, websocket="/ws")
        loop.core.transport_opened(loop.now)
        request = loop.core.data_to_send(loop.now)
        assert request.startswith(b"GET /ws HTTP/1.1\r\n")
        assert b"Sec-WebSocket-Protocol: v12.stomp, v11.stomp, v10.stomp" in request
        assert b"CONNECT" not in request
        assert state(loop) is ClientState.CONNECTING
        loop.connection.receive_data(request, loop.now)
        loop.core.receive_data(loop.connection.data_to_send(), loop.now)
        connect = loop.core.data_to_send(loop.now)
        assert connect[0] == 0x81  # one text message (CONNECT is UTF-8)
        loop.pump()
        loop.connection.receive_data(connect, loop.now)
        loop.pump()
        assert state(loop) is ClientState.CONNECTED
        assert loop.broker.connections[0].subprotocol == "v12.stomp"

    def test_the_subprotocols_offered_follow_the_versions(self, make_loop: Any) -> None:
        loop: Loopback = make_loop(WS, versions=["1.1", "1.0"])
        loop.start()
        assert state(loop) is ClientState.CONNECTED
        assert loop.broker.connections[0].subprotocol == "v11.stomp"
        assert loop.core.version is not None
        assert loop.core.version.value == "1.1"

    def test_extra_headers_and_the_host_reach_the_broker(self, make_loop: Any) -> None:
        loop: Loopback = make_loop(WS, websocket_headers={"Origin": "https://app.test"})
        loop.core.start(loop.now)
        loop.core.next_event()
        loop.connection = loop.broker.open_connection(loop.now, websocket="/ws")
        loop.core.transport_opened(loop.now)
        request = loop.core.data_to_send(loop.now)
        assert b"Origin: https://app.test\r\n" in request
        assert b"host: mq.test:15674\r\n" in request.lower()

    @pytest.mark.parametrize(("status", "reason"), [(401, "Unauthorized"), (403, "Forbidden")])
    def test_a_refused_upgrade_is_an_attempt_failure_with_status_and_reason(
        self, broker: BrokerCore, make_loop: Any, status: int, reason: str
    ) -> None:
        broker.websocket_refusal = status
        loop: Loopback = make_loop(WS + "?startupMaxReconnectAttempts=1", connect_timeout=1.0)
        loop.start()
        loop.advance(10.0)
        assert state(loop) is ClientState.CLOSED
        cause = loop.core.end_cause
        assert isinstance(cause, ConnectFailed)
        refused = getattr(cause.__cause__, "__cause__", None)  # <- BrokersExhausted <- refusal
        assert isinstance(refused, UpgradeRefused)
        assert (refused.status_code, refused.reason) == (status, reason)
        assert f"HTTP {status} {reason}" in str(cause)
        assert len(broker.connections) == 0  # two attempts, both closed

    def test_a_wrong_path_is_404_then_the_tcp_broker_of_the_uri_serves(
        self, make_loop: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        loop: Loopback = make_loop(MIXED)
        loop.ws_path = "/stomp"
        loop.start()
        assert state(loop) is ClientState.CONNECTED
        broker = loop.core.broker
        assert broker is not None
        assert broker.scheme == "tcp"
        assert "the WebSocket upgrade was refused: HTTP 404 Not Found" in caplog.text

    def test_the_upgrade_is_bounded_by_the_connect_timeout(self, make_loop: Any) -> None:
        loop: Loopback = make_loop(WS + "?startupMaxReconnectAttempts=0", connect_timeout=2.0)
        loop.broker_reads = False  # the request is never read, never answered
        loop.start()
        assert state(loop) is ClientState.CONNECTING
        loop.advance(2.5)
        assert state(loop) is ClientState.CLOSED
        cause = loop.core.end_cause
        assert isinstance(cause, ConnectFailed)
        assert isinstance(getattr(cause.__cause__, "__cause__", None), WaitTimeout)
        assert "the WebSocket upgrade by ws://mq.test:15674/ws" in str(cause)

    def test_a_subprotocol_that_contradicts_connected_drops_the_attempt(
        self, make_loop: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(
            ServerCodec, "choose", staticmethod(lambda offered, supported: "v10.stomp")
        )
        loop: Loopback = make_loop(WS + "?startupMaxReconnectAttempts=0")
        loop.start()
        assert state(loop) is ClientState.CLOSED
        cause = loop.core.end_cause
        assert cause is not None
        assert "subprotocol v10.stomp but its CONNECTED says STOMP 1.2" in str(cause)

    def test_without_stomp_websocket_a_ws_uri_names_the_extra(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "stomp_websocket", None)
        with pytest.raises(InvalidRequest, match=r"pip install stomp-sync\[websocket\]"):
            ClientCore(MIXED, ClientSettings())
        ClientCore("tcp://mq.test:61613", ClientSettings())  # plain TCP needs nothing

    def test_bad_websocket_headers_are_refused_by_the_settings(self) -> None:
        with pytest.raises(InvalidRequest, match="HTTP cannot carry the header 'X Y'"):
            ClientSettings.make(websocket_headers={"X Y": "1"})


class TestFraming:
    def test_binary_bodies_survive_both_ways(self, broker: BrokerCore, ws_loop: Loopback) -> None:
        body = bytes(range(256)) * 8 + b"\x00\x00"
        ws_loop.core.subscribe("/queue/a", now=ws_loop.now)
        ws_loop.core.send("/queue/a", body, now=ws_loop.now)
        ws_loop.pump()
        message = ws_loop.core.next_message()
        assert message is not None
        assert message.body == body
        assert broker.frames("SEND")[0].body == body

    def test_each_frame_is_one_message(self, ws_loop: Loopback) -> None:
        ws_loop.core.send("/queue/a", b"one", now=ws_loop.now)
        ws_loop.core.send("/queue/a", b"two", now=ws_loop.now)
        data = ws_loop.core.data_to_send(ws_loop.now)
        server = _Reader()
        messages = server.messages(data)
        assert [m.split(b"\n", 1)[0] for m in messages] == [b"SEND", b"SEND"]
        assert all(m.endswith(b"\x00") for m in messages)

    def test_frames_split_over_messages_and_many_in_one_arrive_whole(
        self, broker: BrokerCore, ws_loop: Loopback
    ) -> None:
        broker.websocket_message_size = 7
        ws_loop.core.subscribe("/queue/a", now=ws_loop.now)
        for n in range(5):
            broker.publish("/queue/a", f"message {n}".encode())
        ws_loop.pump()
        bodies = []
        while (message := ws_loop.core.next_message()) is not None:
            bodies.append(message.body)
        assert bodies == [f"message {n}".encode() for n in range(5)]

    def test_coalesced_acks_leave_as_one_message_each(
        self, broker: BrokerCore, ws_loop: Loopback
    ) -> None:
        ws_loop.core.subscribe("/queue/a", ack="client-individual", now=ws_loop.now)
        broker.publish("/queue/a", b"1")
        broker.publish("/queue/a", b"2")
        ws_loop.pump()
        for _ in range(2):
            message = ws_loop.core.next_message()
            assert message is not None
            ws_loop.core.ack(message, defer=True, now=ws_loop.now)
        ws_loop.core.flush(ws_loop.now)
        messages = _Reader().messages(ws_loop.core.data_to_send(ws_loop.now))
        assert [m.split(b"\n", 1)[0] for m in messages] == [b"ACK", b"ACK"]

    def test_heart_beats_go_out_as_messages_and_keep_the_connection(
        self, broker: BrokerCore, make_loop: Any
    ) -> None:
        loop: Loopback = make_loop(WS, heart_beat=(1000, 1000))
        loop.start()
        loop.advance(10.0)
        assert state(loop) is ClientState.CONNECTED
        connection = broker.connections[0]
        assert connection.beats_received >= 8
        assert loop.core.counters.connections == 1

    def test_a_ping_is_answered(self, broker: BrokerCore, ws_loop: Loopback) -> None:
        broker.connections[0].ping()
        ws_loop.pump()
        assert state(ws_loop) is ClientState.CONNECTED
        assert broker.connections[0].is_open


class TestEnds:
    def test_disconnect_sends_the_websocket_close_after_the_receipt(
        self, broker: BrokerCore, ws_loop: Loopback
    ) -> None:
        connection = broker.connections[0]
        ws_loop.core.disconnect(ws_loop.now)
        ws_loop.pump()
        assert state(ws_loop) is ClientState.CLOSED
        assert connection.lost or not connection.is_open
        assert [f.command for f in broker.received][-1] == "DISCONNECT"

    def test_a_normal_close_answering_disconnect_confirms_it_as_web_stomp_does(
        self, broker: BrokerCore, ws_loop: Loopback
    ) -> None:
        broker.faults.withhold_receipts("DISCONNECT")
        ws_loop.core.disconnect(ws_loop.now)
        ws_loop.pump()
        assert state(ws_loop) is ClientState.DISCONNECTING
        broker.connections[0].close()  # close 1000 without the RECEIPT (RabbitMQ Web-STOMP)
        ws_loop.pump()
        assert state(ws_loop) is ClientState.CLOSED
        ended = ws_loop.of(ClientEnded)
        assert ended[-1].confirmed
        assert not ws_loop.of(ConnectionDropped)

    def test_a_websocket_close_from_the_broker_is_a_lost_connection_then_reconnect(
        self, broker: BrokerCore, ws_loop: Loopback
    ) -> None:
        broker.connections[0].close()  # a close frame, then the transport ends
        ws_loop.pump()
        dropped = ws_loop.of(ConnectionDropped)
        assert dropped
        assert "closed the WebSocket (code 1000)" in str(dropped[0].cause)
        ws_loop.advance(1.0)
        assert state(ws_loop) is ClientState.CONNECTED
        assert len(ws_loop.of(ConnectionMade)) == 2

    def test_a_dropped_transport_is_the_same_loss_as_over_tcp(self, ws_loop: Loopback) -> None:
        ws_loop.drop()
        cause = ws_loop.of(ConnectionDropped)[0].cause
        assert isinstance(cause, ConnectionLost)
        ws_loop.advance(1.0)
        assert state(ws_loop) is ClientState.CONNECTED

    def test_failover_from_ws_to_tcp_and_back(self, make_loop: Any) -> None:
        loop: Loopback = make_loop(MIXED + "&initialReconnectDelay=10&useExponentialBackOff=false")
        loop.start()
        first = loop.core.broker
        assert first is not None
        assert first.scheme == "ws"
        loop.ws_path = "/moved"  # the WebSocket endpoint refuses (404): failover to tcp://
        loop.drop()
        loop.advance(1.0)
        second = loop.core.broker
        assert second is not None
        assert second.scheme == "tcp"
        loop.ws_path = None
        loop.drop()
        loop.advance(1.0)
        third = loop.core.broker
        assert third is not None
        assert third.scheme == "ws"
        assert loop.core.counters.reconnects == 2


class _Reader:
    """Reads the messages a client wrote, as a server would (after the upgrade)."""

    def __init__(self) -> None:
        self.server = ServerCodec()
        client = WebSocketCodec("h", "/")
        self.server.receive(client.handshake())
        client.receive(self.server.accept(None))

    def messages(self, data: bytes) -> list[bytes]:
        found = []
        for at in range(len(data)):  # one byte at a time: one event per message
            for event in self.server.receive(data[at : at + 1]):
                if isinstance(event, StompData):
                    found.append(event.data)
                assert not isinstance(event, Closed)
        merged: list[bytes] = []
        for piece in found:
            if merged and not merged[-1].endswith(b"\x00"):
                merged[-1] += piece
            else:
                merged.append(piece)
        return merged

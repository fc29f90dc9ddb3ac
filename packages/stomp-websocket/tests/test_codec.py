"""The client codec against the server codec and hand-made answers: upgrade, framing, close."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stomp_websocket import (
    STOMP_SUBPROTOCOLS,
    Closed,
    CodecState,
    LocalWebSocketError,
    Opened,
    RemoteWebSocketError,
    ServerCodec,
    StompData,
    UpgradeRefused,
    UpgradeRequested,
    WebSocketCodec,
    host_header,
    subprotocol_version,
)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def pair(
    *, subprotocols: tuple[str, ...] = STOMP_SUBPROTOCOLS, text: bool = False
) -> tuple[WebSocketCodec, ServerCodec]:
    client = WebSocketCodec("broker.test:15674", "/ws", subprotocols=subprotocols)
    server = ServerCodec(text=text)
    (request,) = server.receive(client.handshake())
    assert isinstance(request, UpgradeRequested)
    chosen = ServerCodec.choose(request.subprotocols, STOMP_SUBPROTOCOLS)
    events = client.receive(server.accept(chosen))
    assert events == [Opened(subprotocol=chosen, headers=())] or isinstance(events[0], Opened)
    return client, server


def stomp_bytes(events: Sequence[object]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, StompData))


def answer(request: bytes, status_line: bytes, *headers: bytes) -> bytes:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    lines = [status_line, b"Upgrade: websocket", b"Connection: Upgrade"]
    lines.append(b"Sec-WebSocket-Accept: " + accept)
    return b"\r\n".join([*lines, *headers, b"", b""])


class TestHandshake:
    def test_the_request_asks_for_the_path_and_host_and_offers_the_stomp_subprotocols(
        self,
    ) -> None:
        codec = WebSocketCodec(
            "broker.test:15674",
            "/stomp/ws",
            extra_headers={"Origin": "https://app.test", "Authorization": "Basic eDp5"},
        )
        request = codec.handshake()
        lines = request.split(b"\r\n")
        assert lines[0] == b"GET /stomp/ws HTTP/1.1"
        assert b"host: broker.test:15674" in [line.lower() for line in lines]
        assert b"Sec-WebSocket-Protocol: v12.stomp, v11.stomp, v10.stomp" in lines
        assert b"Origin: https://app.test" in lines
        assert b"Authorization: Basic eDp5" in lines
        assert request.endswith(b"\r\n\r\n")
        assert codec.state is CodecState.CONNECTING

    def test_the_server_sees_the_request(self) -> None:
        client = WebSocketCodec("h", "/ws", extra_headers=[("Cookie", "a=b")])
        (event,) = ServerCodec().receive(client.handshake())
        assert isinstance(event, UpgradeRequested)
        assert event.path == "/ws"
        assert event.subprotocols == STOMP_SUBPROTOCOLS
        assert ("cookie", "a=b") in event.headers

    def test_accepted_upgrade_reports_the_negotiated_subprotocol(self) -> None:
        client, _ = pair(subprotocols=("v11.stomp", "v10.stomp"))
        assert client.subprotocol == "v11.stomp"
        assert client.state is CodecState.OPEN

    def test_a_server_that_chooses_no_subprotocol_is_accepted(self) -> None:
        client = WebSocketCodec("h", "/ws")
        request = client.handshake()
        events = client.receive(answer(request, b"HTTP/1.1 101 Switching Protocols"))
        assert events == [Opened(subprotocol=None, headers=())]
        assert client.subprotocol is None

    def test_frames_that_follow_the_answer_in_the_same_read_are_decoded(self) -> None:
        client = WebSocketCodec("h", "/ws")
        server = ServerCodec()
        server.receive(client.handshake())
        data = server.accept("v12.stomp") + server.frame(b"CONNECTED\n\n\x00")
        events = client.receive(data)
        assert isinstance(events[0], Opened)
        assert events[1:] == [StompData(b"CONNECTED\n\n\x00")]

    def test_the_answer_may_arrive_byte_by_byte(self) -> None:
        client = WebSocketCodec("h", "/ws")
        server = ServerCodec()
        server.receive(client.handshake())
        data = server.accept("v12.stomp") + server.frame(b"CONNECTED\n\n\x00")
        events = [e for i in range(len(data)) for e in client.receive(data[i : i + 1])]
        assert isinstance(events[0], Opened)
        assert stomp_bytes(events) == b"CONNECTED\n\n\x00"

    @pytest.mark.parametrize(
        ("status", "reason"),
        [(404, "Not Found"), (401, "Unauthorized"), (403, "Forbidden"), (400, "Bad Request")],
    )
    def test_a_refused_upgrade_raises_with_status_reason_and_body(
        self, status: int, reason: str
    ) -> None:
        client = WebSocketCodec("h", "/nowhere")
        client.handshake()
        body = b"no websocket here"
        head = f"HTTP/1.1 {status} {reason}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        with pytest.raises(UpgradeRefused) as caught:
            client.receive(head + body)
        assert caught.value.status_code == status
        assert caught.value.reason == reason
        assert caught.value.body == body
        assert f"HTTP {status} {reason}" in str(caught.value)
        assert "no websocket here" in str(caught.value)
        assert client.state is CodecState.CLOSED

    def test_the_server_codec_refusal_reads_as_one(self) -> None:
        client = WebSocketCodec("h", "/x")
        server = ServerCodec()
        server.receive(client.handshake())
        with pytest.raises(UpgradeRefused, match="HTTP 404 Not Found"):
            client.receive(server.refuse(404, b"unknown path"))

    def test_a_wrong_accept_token_is_a_remote_error(self) -> None:
        client = WebSocketCodec("h", "/ws")
        client.handshake()
        bad = b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        with pytest.raises(RemoteWebSocketError, match="not valid"):
            client.receive(bad + b"Sec-WebSocket-Accept: AAAA\r\n\r\n")
        assert client.state is CodecState.CLOSED

    def test_a_subprotocol_that_was_not_offered_is_a_remote_error(self) -> None:
        client = WebSocketCodec("h", "/ws", subprotocols=("v12.stomp",))
        request = client.handshake()
        data = answer(request, b"HTTP/1.1 101 OK", b"Sec-WebSocket-Protocol: mqtt")
        with pytest.raises(RemoteWebSocketError, match="mqtt"):
            client.receive(data)

    def test_garbage_instead_of_http_is_a_remote_error(self) -> None:
        client = WebSocketCodec("h", "/ws")
        client.handshake()
        with pytest.raises(RemoteWebSocketError):
            client.receive(b"CONNECTED\n\n\x00\r\n\r\n")

    def test_the_transport_ending_before_the_answer_is_a_remote_error(self) -> None:
        client = WebSocketCodec("h", "/ws")
        client.handshake()
        client.receive(b"HTTP/1.1 101 Switching")
        with pytest.raises(RemoteWebSocketError, match="before the server answered"):
            client.receive(b"")

    def test_the_request_is_made_once(self) -> None:
        client = WebSocketCodec("h", "/ws")
        client.handshake()
        with pytest.raises(LocalWebSocketError, match="made already"):
            client.handshake()

    @pytest.mark.parametrize(
        "headers", [{"Bad Name": "x"}, {"X-Ok": "a\r\nInjected: 1"}, {"": "x"}]
    )
    def test_headers_http_cannot_carry_are_refused(self, headers: dict[str, str]) -> None:
        with pytest.raises(LocalWebSocketError, match="cannot be sent"):
            WebSocketCodec("h", "/ws", extra_headers=headers)

    def test_a_path_without_slash_is_refused(self) -> None:
        with pytest.raises(LocalWebSocketError, match="must start with '/'"):
            WebSocketCodec("h", "ws")


class TestFraming:
    def test_one_stomp_frame_is_one_binary_message_and_binary_bodies_survive(self) -> None:
        client, server = pair()
        body = bytes(range(256)) * 4
        frame = b"SEND\ndestination:/queue/a\ncontent-length:1024\n\n" + body + b"\x00"
        data = client.frame(frame)
        assert data[0] == 0x82  # FIN + binary opcode: not UTF-8
        assert server.receive(data) == [StompData(frame)]

    def test_by_default_a_utf8_frame_goes_as_text(self) -> None:
        client, server = pair()
        frame = "SEND\ndestination:/queue/a\n\nh\u00e9llo\x00".encode()
        data = client.frame(frame)
        assert data[0] == 0x81  # FIN + text opcode
        assert client.frame(b"\n")[0] == 0x81
        assert server.receive(data) == [StompData(frame)]

    def test_binary_true_sends_every_frame_binary(self) -> None:
        client = WebSocketCodec("h", "/ws", binary=True)
        server = ServerCodec()
        server.receive(client.handshake())
        client.receive(server.accept(None))
        assert client.frame(b"SEND\n\nhello\x00")[0] == 0x82

    def test_text_mode_sends_text_messages(self) -> None:
        client = WebSocketCodec("h", "/ws", binary=False)
        server = ServerCodec()
        server.receive(client.handshake())
        client.receive(server.accept(None))
        data = client.frame(b"SEND\n\nhello\x00")
        assert data[0] == 0x81  # FIN + text opcode
        assert server.receive(data) == [StompData(b"SEND\n\nhello\x00")]

    @pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 1 << 20])
    def test_every_payload_length_encoding_round_trips(self, size: int) -> None:
        client, server = pair()
        payload = bytes(i % 251 for i in range(size))
        events = server.receive(client.frame(payload))
        assert stomp_bytes(list(events)) == payload

    def test_client_frames_are_masked(self) -> None:
        client, _ = pair()
        data = client.frame(b"\n" * 10)
        assert data[1] & 0x80
        assert data[6:] != b"\n" * 10 or data[2:6] == b"\x00\x00\x00\x00"

    def test_a_frame_split_over_several_messages_is_one_byte_stream(self) -> None:
        client, server = pair()
        frame = b"MESSAGE\ndestination:/queue/a\n\nsplit body\x00"
        data = b"".join(server.frame(frame[i : i + 5]) for i in range(0, len(frame), 5))
        assert stomp_bytes(list(client.receive(data))) == frame

    def test_several_frames_in_one_message_pass_as_they_are(self) -> None:
        client, server = pair()
        frames = b"MESSAGE\n\none\x00\nMESSAGE\n\ntwo\x00\n"
        assert client.receive(server.frame(frames)) == [StompData(frames)]

    def test_text_messages_from_the_server_are_utf8_bytes(self) -> None:
        client, server = pair(text=True)
        frame = "MESSAGE\n\nh\u00e9llo \u2603\x00".encode()
        assert client.receive(server.frame(frame)) == [StompData(frame)]

    def test_a_text_message_that_is_not_utf8_still_passes_as_bytes(self) -> None:
        # RabbitMQ's Web-STOMP sends binary bodies in text messages unless told otherwise.
        client, _ = pair()
        frame = b"MESSAGE\ncontent-length:2\n\n\xff\xfe\x00"
        assert client.receive(bytes((0x81, len(frame))) + frame) == [StompData(frame)]

    def test_a_fragmented_message_is_one_byte_stream(self) -> None:
        client, _ = pair()
        parts = [b"MESSAGE\n", b"\nbo", b"dy\x00"]
        data = bytes((0x01, len(parts[0]))) + parts[0]  # text, not final
        data += bytes((0x00, len(parts[1]))) + parts[1]  # continuation
        data += bytes((0x89, 1)) + b"p"  # a ping between the fragments
        data += bytes((0x80, len(parts[2]))) + parts[2]  # final continuation
        assert client.receive(data) == [StompData(b"".join(parts))]
        assert client.data_to_send()[0] == 0x8A  # the pong

    @pytest.mark.parametrize(
        ("frame", "text"),
        [
            (bytes((0xC2, 1)) + b"x", "RSV bits"),
            (bytes((0x83, 1)) + b"x", "unknown opcode 0x3"),
            (bytes((0x09, 1)) + b"x", "fragmented or too long"),
            (bytes((0x89, 126, 0, 126)) + b"x" * 126, "fragmented or too long"),
        ],
    )
    def test_frames_a_server_must_not_send_are_remote_errors(self, frame: bytes, text: str) -> None:
        client, _ = pair()
        with pytest.raises(RemoteWebSocketError, match=text) as caught:
            client.receive(frame)
        assert caught.value.code == 1002

    def test_nothing_after_the_close_frame_counts(self) -> None:
        client, server = pair()
        data = server.close(1000, "bye") + bytes((0x82, 3)) + b"xyz"
        assert client.receive(data) == [Closed(code=1000, reason="bye")]
        assert client.receive(bytes((0x82, 3)) + b"xyz") == []

    def test_a_masked_frame_from_the_server_is_a_remote_error(self) -> None:
        client, _ = pair()
        with pytest.raises(RemoteWebSocketError) as caught:
            client.receive(bytes((0x82, 0x81)) + b"abcd" + b"x")
        assert caught.value.code == 1002

    def test_no_frame_before_the_upgrade(self) -> None:
        client = WebSocketCodec("h", "/ws")
        client.handshake()
        with pytest.raises(LocalWebSocketError, match="connecting"):
            client.frame(b"CONNECT\n\n\x00")

    @given(
        frames=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=8),
        cuts=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20),
    )
    def test_any_chunking_of_any_messages_gives_the_same_bytes(
        self, frames: list[bytes], cuts: list[int]
    ) -> None:
        client, server = pair()
        data = b"".join(server.frame(f) for f in frames)
        got: list[bytes] = []
        at = 0
        for cut in cuts * (len(data) // max(1, sum(cuts)) + 1):
            got.append(stomp_bytes(list(client.receive(data[at : at + cut]))))
            at += cut
            if at >= len(data):
                break
        got.append(stomp_bytes(list(client.receive(data[at:]))) if at < len(data) else b"")
        assert b"".join(got) == b"".join(frames)


class TestPingAndClose:
    def test_a_ping_is_answered_with_its_pong(self) -> None:
        client, server = pair()
        assert client.receive(server.ping(b"are you there")) == []
        pong = client.data_to_send()
        assert pong
        assert client.data_to_send() == b""
        assert server.receive(pong) == []

    def test_the_client_closes_and_the_server_answers(self) -> None:
        client, server = pair()
        close = client.close(1000, "bye")
        assert client.state is CodecState.CLOSING
        assert client.close() == b""
        assert server.receive(close) == [Closed(code=1000, reason="bye")]
        assert client.receive(server.data_to_send()) == [Closed(code=1000, reason="bye")]
        assert client.state.value == "closed"

    def test_the_server_closes_and_the_client_answers(self) -> None:
        client, server = pair()
        events = client.receive(server.frame(b"RECEIPT\n\n\x00") + server.close(1001, "going"))
        assert events == [StompData(b"RECEIPT\n\n\x00"), Closed(code=1001, reason="going")]
        answer_close = client.data_to_send()
        assert server.receive(answer_close) == [Closed(code=1001, reason="")]
        assert client.state is CodecState.CLOSED
        assert str(events[1]) == "code 1001 (going)"

    def test_the_transport_ending_without_close_is_code_1006(self) -> None:
        client, _ = pair()
        assert client.receive(b"") == [Closed(code=1006, reason="")]
        assert client.state is CodecState.CLOSED
        assert client.receive(b"late") == []

    def test_close_before_the_upgrade_gives_nothing(self) -> None:
        assert WebSocketCodec("h", "/ws").close() == b""


class TestHelpers:
    @pytest.mark.parametrize(
        ("host", "port", "tls", "expected"),
        [
            ("h", 80, False, "h"),
            ("h", 443, True, "h"),
            ("h", 443, False, "h:443"),
            ("h", 15674, False, "h:15674"),
            ("::1", 15674, False, "[::1]:15674"),
            ("::1", 443, True, "[::1]"),
        ],
    )
    def test_host_header(self, host: str, port: int, tls: bool, expected: str) -> None:
        assert host_header(host, port, tls=tls) == expected

    @pytest.mark.parametrize(
        ("name", "version"),
        [("v12.stomp", "1.2"), ("v11.stomp", "1.1"), ("V10.STOMP", "1.0"), ("stomp", None)],
    )
    def test_subprotocol_version(self, name: str, version: str | None) -> None:
        assert subprotocol_version(name) == version
        assert subprotocol_version(None) is None

    def test_repr_names_the_target_and_state(self) -> None:
        assert repr(WebSocketCodec("h:1", "/ws")) == "<WebSocketCodec h:1/ws connecting>"

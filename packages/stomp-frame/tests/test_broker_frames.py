"""Frames in the shapes ActiveMQ 5.17 and RabbitMQ 3.10 really send (see shared/BROKERS.md)."""

from __future__ import annotations

import pytest

from stomp_frame import HEARTBEAT, Frame, HeartBeat, Parser, Version, serialize

Event = Frame | HeartBeat

ACTIVEMQ_CONNECTED = (
    b"CONNECTED\n"
    b"server:ActiveMQ/5.17.2\n"
    b"heart-beat:10000,10000\n"
    b"session:ID:debian-41437-1700000000000-3:1\n"
    b"version:1.2\n"
    b"\n\x00"
)

ACTIVEMQ_MESSAGE = (
    b"MESSAGE\n"
    b"expires:0\n"
    b"destination:/queue/test\n"
    b"ack:ID\\cdebian-41437-1700000000000-5\\c1\n"
    b"subscription:sub-0\n"
    b"priority:4\n"
    b"message-id:ID\\cdebian-41437-1700000000000-3\\c1\\c1\\c1\\c1\n"
    b"persistent:true\n"
    b"timestamp:1700000000123\n"
    b"\n"
    b"hello from activemq\x00"
)

RABBITMQ_MESSAGE = (
    b"MESSAGE\n"
    b"subscription:sub-0\n"
    b"destination:/queue/test\n"
    b"message-id:T_sub-0@@session-PpyvpNcPRrqMK1BNJ3Oq1A@@1\n"
    b"redelivered:false\n"
    b"ack:T_sub-0@@session-PpyvpNcPRrqMK1BNJ3Oq1A@@1\n"
    b"receipt:send-1\n"
    b"content-length:6\n"
    b"\n"
    b"bin\x00\x01\x02\x00"
)

ACTIVEMQ_STACK_TRACE = (
    b"org.apache.activemq.transport.stomp.ProtocolException: Unknown STOMP action: FOO\n"
    b"\tat org.apache.activemq.transport.stomp.ProtocolConverter.onStompCommand"
    b"(ProtocolConverter.java:270)\n"
    b"\tat org.apache.activemq.transport.stomp.StompTransportFilter.onCommand"
    b"(StompTransportFilter.java:85)\n"
    b"\tat org.apache.activemq.transport.TransportSupport.doConsume(TransportSupport.java:83)\n"
    b"\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
)

ACTIVEMQ_ERROR = (
    b"ERROR\n"
    b"content-type:text/plain\n"
    b"message:Unknown STOMP action: FOO\n"
    b"receipt-id:r-7\n"
    b"\n" + ACTIVEMQ_STACK_TRACE + b"\x00"
)

RABBITMQ_ERROR = (
    b"ERROR\n"
    b"message:Bad CONNECT\n"
    b"content-type:text/plain\n"
    b"version:1.0,1.1,1.2\n"
    b"content-length:32\n"
    b"\n"
    b"Access refused for user 'guest'\n\x00"
)


def parse_whole_and_bytewise(data: bytes, version: Version) -> list[Event]:
    whole = Parser(version).feed(data)
    parser = Parser(version)
    bytewise: list[Event] = []
    for byte in data:
        bytewise += parser.feed(bytes([byte]))
    assert bytewise == whole
    return whole


class TestActiveMQ:
    def test_connected_keeps_the_raw_colons_of_the_session(self) -> None:
        [connected] = parse_whole_and_bytewise(ACTIVEMQ_CONNECTED, Version.V1_0)
        assert isinstance(connected, Frame)
        assert connected.get("session") == "ID:debian-41437-1700000000000-3:1"
        assert connected.get("version") == "1.2"
        assert connected.get("heart-beat") == "10000,10000"

    @pytest.mark.parametrize("version", [Version.V1_1, Version.V1_2])
    def test_message_id_colons_arrive_escaped_and_are_unescaped(self, version: Version) -> None:
        [message] = parse_whole_and_bytewise(ACTIVEMQ_MESSAGE, version)
        assert isinstance(message, Frame)
        assert message.get("message-id") == "ID:debian-41437-1700000000000-3:1:1:1:1"
        assert message.get("ack") == "ID:debian-41437-1700000000000-5:1"
        assert message.get("subscription") == "sub-0"
        assert message.body == b"hello from activemq"
        assert not message.has("content-length")

    def test_message_serializes_back_to_the_same_bytes(self) -> None:
        [message] = Parser(Version.V1_2).feed(ACTIVEMQ_MESSAGE)
        assert isinstance(message, Frame)
        assert serialize(message, Version.V1_2) == ACTIVEMQ_MESSAGE

    def test_error_with_a_stack_trace_body(self) -> None:
        [error] = parse_whole_and_bytewise(ACTIVEMQ_ERROR, Version.V1_2)
        assert isinstance(error, Frame)
        assert error.command == "ERROR"
        assert error.get("message") == "Unknown STOMP action: FOO"
        assert error.get("receipt-id") == "r-7"
        assert error.body == ACTIVEMQ_STACK_TRACE
        assert error.body.count(b"\n\tat ") == 4

    def test_session_after_connected_heart_beat_and_messages(self) -> None:
        stream = ACTIVEMQ_CONNECTED + b"\n" + ACTIVEMQ_MESSAGE + b"\n\n" + ACTIVEMQ_ERROR
        parser = Parser()
        parser.receive_data(stream)
        connected = parser.next_event()
        assert isinstance(connected, Frame)
        parser.version = Version(connected.get("version", "1.0"))
        rest = list(parser.events())
        assert [e.command if isinstance(e, Frame) else e for e in rest] == [
            HEARTBEAT,
            "MESSAGE",
            HEARTBEAT,
            HEARTBEAT,
            "ERROR",
        ]
        message = rest[1]
        assert isinstance(message, Frame)
        assert message.get("message-id") == "ID:debian-41437-1700000000000-3:1:1:1:1"


class TestRabbitMQ:
    @pytest.mark.parametrize("version", list(Version))
    def test_message_with_content_length_and_session_message_id(self, version: Version) -> None:
        [message] = parse_whole_and_bytewise(RABBITMQ_MESSAGE, version)
        assert isinstance(message, Frame)
        assert message.get("message-id") == "T_sub-0@@session-PpyvpNcPRrqMK1BNJ3Oq1A@@1"
        assert message.get("ack") == message.get("message-id")
        assert message.get("content-length") == "6"
        assert message.get("receipt") == "send-1"
        assert message.body == b"bin\x00\x01\x02"

    def test_message_followed_by_frequent_heart_beats(self) -> None:
        stream = RABBITMQ_MESSAGE + b"\n" * 3 + RABBITMQ_MESSAGE
        events = parse_whole_and_bytewise(stream, Version.V1_2)
        assert [type(e) for e in events] == [Frame, HeartBeat, HeartBeat, HeartBeat, Frame]
        assert events[0] == events[-1]

    def test_escaped_colon_on_1_0_is_left_as_sent(self) -> None:
        # RabbitMQ escapes ':' as '\c' even on 1.0, where no escape exists.
        data = b"MESSAGE\nmessage-id:T_a\\cb@@session-x@@1\nsubscription:0\n\nhi\x00"
        [message] = Parser(Version.V1_0).feed(data)
        assert isinstance(message, Frame)
        assert message.get("message-id") == "T_a\\cb@@session-x@@1"

    def test_error_with_content_length(self) -> None:
        [error] = parse_whole_and_bytewise(RABBITMQ_ERROR, Version.V1_0)
        assert isinstance(error, Frame)
        assert error.get("message") == "Bad CONNECT"
        assert error.get("version") == "1.0,1.1,1.2"
        assert error.body == b"Access refused for user 'guest'\n"

    def test_message_serializes_back_to_the_same_bytes(self) -> None:
        [message] = Parser(Version.V1_2).feed(RABBITMQ_MESSAGE)
        assert isinstance(message, Frame)
        assert serialize(message, Version.V1_2) == RABBITMQ_MESSAGE

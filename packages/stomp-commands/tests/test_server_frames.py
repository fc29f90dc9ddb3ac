"""Server frames: reading CONNECTED, MESSAGE, RECEIPT and ERROR as real brokers send them."""

from __future__ import annotations

import pytest

import stomp_commands as sc
from stomp_commands import RemoteCommandError
from stomp_frame import Frame, Parser, Version

ALL = (Version.V1_0, Version.V1_1, Version.V1_2)


def parse(wire: bytes, version: Version) -> Frame:
    (frame,) = Parser(version).feed(wire)
    assert isinstance(frame, Frame)
    return frame


ACTIVEMQ_CONNECTED = (
    b"CONNECTED\nserver:ActiveMQ/5.17.2\nheart-beat:10000,10000\n"
    b"session:ID:host-41231-1700000000000-3:1\nversion:1.2\n\n\0"
)
RABBITMQ_CONNECTED = (
    b"CONNECTED\nserver:RabbitMQ/3.10.8\nsession:session-Zm9vYmFy\n"
    b"heart-beat:10000,10000\nversion:1.2\n\n\0"
)


class TestReadConnected:
    def test_activemq_connected(self) -> None:
        info = sc.read_connected(parse(ACTIVEMQ_CONNECTED, Version.V1_0), sc.ALL_VERSIONS)
        assert info.version is Version.V1_2
        assert info.heart_beat == (10000, 10000)
        assert info.server == "ActiveMQ/5.17.2"
        assert info.session_id == "ID:host-41231-1700000000000-3:1"

    def test_rabbitmq_connected(self) -> None:
        info = sc.read_connected(parse(RABBITMQ_CONNECTED, Version.V1_0), sc.ALL_VERSIONS)
        assert info.version is Version.V1_2
        assert info.server == "RabbitMQ/3.10.8"
        assert info.session_id == "session-Zm9vYmFy"

    def test_a_missing_version_means_10(self) -> None:
        info = sc.read_connected(Frame("CONNECTED", {"session": "s"}), sc.ALL_VERSIONS)
        assert info.version is Version.V1_0
        assert info.heart_beat == (0, 0)
        assert info.server is None

    def test_heart_beats_are_ignored_on_10(self) -> None:
        frame = Frame("CONNECTED", {"heart-beat": "100,100"})
        assert sc.read_connected(frame, sc.ALL_VERSIONS).heart_beat == (0, 0)

    def test_a_missing_heart_beat_means_none(self) -> None:
        frame = Frame("CONNECTED", {"version": "1.1"})
        assert sc.read_connected(frame, sc.ALL_VERSIONS).heart_beat == (0, 0)

    def test_a_version_not_offered_is_a_remote_error(self) -> None:
        frame = Frame("CONNECTED", {"version": "1.1"})
        with pytest.raises(RemoteCommandError, match="did not offer"):
            sc.read_connected(frame, (Version.V1_2,))

    def test_an_implicit_10_not_offered_is_a_remote_error(self) -> None:
        with pytest.raises(RemoteCommandError, match="did not offer"):
            sc.read_connected(Frame("CONNECTED"), (Version.V1_1, Version.V1_2))

    def test_an_unknown_version_is_a_remote_error(self) -> None:
        with pytest.raises(RemoteCommandError, match="does not exist") as info:
            sc.read_connected(Frame("CONNECTED", {"version": "2.0"}), sc.ALL_VERSIONS)
        assert info.value.command == "CONNECTED"

    @pytest.mark.parametrize("value", ["10000", "a,b", "1,2,3", "-1,0", ""])
    def test_a_malformed_heart_beat_is_a_remote_error(self, value: str) -> None:
        frame = Frame("CONNECTED", {"version": "1.2", "heart-beat": value})
        with pytest.raises(RemoteCommandError, match="heart-beat"):
            sc.read_connected(frame, sc.ALL_VERSIONS)

    def test_another_frame_is_a_remote_error(self) -> None:
        with pytest.raises(RemoteCommandError, match="expected a CONNECTED frame"):
            sc.read_connected(Frame("ERROR", {"message": "Bad CONNECT"}), sc.ALL_VERSIONS)


class TestReadMessage:
    def test_activemq_12_message_with_escaped_colons_and_a_distinct_ack_token(self) -> None:
        wire = (
            b"MESSAGE\nexpires:0\ndestination:/queue/a\nack:ID\\cbroker-41231-7\\c3\n"
            b"subscription:0\npriority:4\n"
            b"message-id:ID\\cbroker-41231-1700000000000-1\\c1\\c1\\c1\\c1\n"
            b"timestamp:1700000000000\n\nhello\0"
        )
        info = sc.read_message(parse(wire, Version.V1_2), Version.V1_2)
        assert info.message_id == "ID:broker-41231-1700000000000-1:1:1:1:1"
        assert info.ack_id == "ID:broker-41231-7:3"
        assert info.subscription == "0"
        assert info.destination == "/queue/a"
        assert info.redelivered is False
        assert info.body == b"hello"

    def test_activemq_marks_a_redelivery(self) -> None:
        frame = Frame(
            "MESSAGE",
            {"destination": "/q", "message-id": "m", "subscription": "0", "redelivered": "true"},
        )
        assert sc.read_message(frame, Version.V1_1).redelivered is True

    def test_rabbitmq_12_message(self) -> None:
        wire = (
            b"MESSAGE\nsubscription:T_0\ndestination:/queue/a\n"
            b"message-id:T_0@@session-Zm9v@@1\nredelivered:false\n"
            b"ack:T_0@@session-Zm9v@@1\ncontent-length:5\n\nhello\0"
        )
        info = sc.read_message(parse(wire, Version.V1_2), Version.V1_2)
        assert info.message_id == info.ack_id == "T_0@@session-Zm9v@@1"
        assert info.subscription == "T_0"
        assert info.redelivered is False
        assert sc.ack(Version.V1_2, info).headers == (("id", "T_0@@session-Zm9v@@1"),)

    def test_the_ack_header_is_not_read_before_12(self) -> None:
        frame = Frame(
            "MESSAGE", {"destination": "/q", "message-id": "m", "subscription": "0", "ack": "a"}
        )
        assert sc.read_message(frame, Version.V1_1).ack_id is None

    def test_a_10_message_may_lack_a_subscription(self) -> None:
        frame = Frame("MESSAGE", {"destination": "/q", "message-id": "m"})
        assert sc.read_message(frame, Version.V1_0).subscription is None

    @pytest.mark.parametrize(
        ("missing", "version"),
        [
            ("destination", Version.V1_0),
            ("message-id", Version.V1_2),
            ("subscription", Version.V1_1),
            ("subscription", Version.V1_2),
        ],
    )
    def test_a_missing_required_header_is_a_remote_error(
        self, missing: str, version: Version
    ) -> None:
        headers = {"destination": "/q", "message-id": "m", "subscription": "0"}
        del headers[missing]
        with pytest.raises(RemoteCommandError, match=repr(missing)):
            sc.read_message(Frame("MESSAGE", headers), version)

    def test_another_frame_is_a_remote_error(self) -> None:
        with pytest.raises(RemoteCommandError, match="expected a MESSAGE"):
            sc.read_message(Frame("RECEIPT", {"receipt-id": "r"}), Version.V1_2)

    def test_a_message_info_is_only_made_from_a_message(self) -> None:
        with pytest.raises(ValueError, match="MESSAGE"):
            sc.MessageInfo(
                frame=Frame("RECEIPT"),
                destination="/q",
                message_id="m",
                subscription=None,
                ack_id=None,
                redelivered=False,
            )


class TestReadReceiptAndError:
    def test_receipt(self) -> None:
        info = sc.read_receipt(Frame("RECEIPT", {"receipt-id": "r-1"}))
        assert info.receipt_id == "r-1"

    def test_a_receipt_without_receipt_id_is_a_remote_error(self) -> None:
        with pytest.raises(RemoteCommandError, match="receipt-id"):
            sc.read_receipt(Frame("RECEIPT"))

    def test_activemq_error_with_receipt_id_and_stack_trace(self) -> None:
        wire = (
            b"ERROR\ncontent-type:text/plain\nmessage:Unexpected ACK received for message-id [x]\n"
            b"receipt-id:r-9\n\njava.lang.IllegalStateException: Unexpected ACK\n\tat org...\0"
        )
        info = sc.read_error(parse(wire, Version.V1_2))
        assert info.message == "Unexpected ACK received for message-id [x]"
        assert info.receipt_id == "r-9"
        assert info.text.startswith("java.lang.IllegalStateException")

    def test_rabbitmq_version_mismatch_error(self) -> None:
        body = b"Supported versions are 1.0,1.1,1.2\n"
        wire = (
            b"ERROR\nmessage:Version mismatch\ncontent-type:text/plain\nversion:1.0,1.1,1.2\n"
            b"content-length:%d\n\n%s\0" % (len(body), body)
        )
        frame = parse(wire, Version.V1_0)
        assert frame.body == body
        info = sc.read_error(frame)
        assert info.message == "Version mismatch"
        assert info.receipt_id is None

    def test_another_frame_is_not_an_error(self) -> None:
        with pytest.raises(RemoteCommandError):
            sc.read_error(Frame("RECEIPT", {"receipt-id": "r"}))

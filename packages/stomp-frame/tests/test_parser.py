"""The incremental parser on valid input: chunking, line ends, heart-beats, bodies, versions."""

from __future__ import annotations

from typing import ClassVar

import pytest

from stomp_frame import (
    BODY_COMMANDS,
    COMMANDS,
    HEARTBEAT,
    UNESCAPED_COMMANDS,
    Frame,
    HeartBeat,
    Limits,
    ParseError,
    Parser,
    Version,
    serialize,
)

Event = Frame | HeartBeat
ALL_VERSIONS = list(Version)
ESCAPING_VERSIONS = [Version.V1_1, Version.V1_2]


def feed_in_chunks(data: bytes, version: Version, size: int) -> list[Event]:
    parser = Parser(version)
    events: list[Event] = []
    for start in range(0, len(data), size):
        events += parser.feed(data[start : start + size])
    assert parser.buffered == 0
    return events


def parse_any_chunking(data: bytes, version: Version = Version.V1_2) -> list[Event]:
    """Parse *data* whole, one byte at a time, and split at every point: all must agree."""
    whole = Parser(version).feed(data)
    assert feed_in_chunks(data, version, 1) == whole
    for cut in range(1, len(data)):
        parser = Parser(version)
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) == whole, f"split at {cut}"
    return whole


class TestFrames:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_a_send_frame(self, version: Version) -> None:
        events = parse_any_chunking(b"SEND\ndestination:/queue/a\n\nhello\x00", version)
        assert events == [Frame("SEND", {"destination": "/queue/a"}, b"hello")]

    @pytest.mark.parametrize(
        ("version", "command"),
        [(version, command) for version in ALL_VERSIONS for command in sorted(version.commands)],
    )
    def test_every_command_of_the_version_is_read(self, version: Version, command: str) -> None:
        assert Parser(version).feed(command.encode() + b"\n\n\x00") == [Frame(command)]

    def test_frame_without_headers(self) -> None:
        assert parse_any_chunking(b"DISCONNECT\n\n\x00") == [Frame("DISCONNECT")]

    def test_several_frames_in_one_chunk(self) -> None:
        data = b"SEND\na:1\n\nx\x00SEND\na:2\n\ny\x00RECEIPT\nreceipt-id:7\n\n\x00"
        assert parse_any_chunking(data) == [
            Frame("SEND", {"a": "1"}, b"x"),
            Frame("SEND", {"a": "2"}, b"y"),
            Frame("RECEIPT", {"receipt-id": "7"}),
        ]

    def test_repeated_headers_keep_their_order_and_the_first_wins(self) -> None:
        [frame] = parse_any_chunking(b"MESSAGE\nfoo:World\nfoo:Hello\n\n\x00")
        assert isinstance(frame, Frame)
        assert frame.headers == (("foo", "World"), ("foo", "Hello"))
        assert frame.get("foo") == "World"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_raw_colon_inside_a_header_value_is_kept(self, version: Version) -> None:
        [frame] = parse_any_chunking(b"SEND\nurl:tcp://h:61613\n\n\x00", version)
        assert frame == Frame("SEND", {"url": "tcp://h:61613"})

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_header_names_and_values_are_not_trimmed(self, version: Version) -> None:
        [frame] = Parser(version).feed(b"SEND\n a : b \n\n\x00")
        assert frame == Frame("SEND", {" a ": " b "})

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_empty_header_value(self, version: Version) -> None:
        assert Parser(version).feed(b"SEND\na:\n\n\x00") == [Frame("SEND", {"a": ""})]

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_utf8_header_values(self, version: Version) -> None:
        [frame] = Parser(version).feed("SEND\ndestination:/queue/café✓\n\n\x00".encode())
        assert frame == Frame("SEND", {"destination": "/queue/café✓"})

    def test_frames_equal_the_frames_that_were_serialized(self) -> None:
        frame = Frame("MESSAGE", [("a", "1"), ("b", "x:y"), ("a", "2")], b"body")
        assert Parser(Version.V1_2).feed(serialize(frame, Version.V1_2)) == [frame]


class TestChunking:
    STREAM = (
        b"\n"
        b"CONNECTED\r\nversion:1.2\r\n\r\n\x00\r\n"
        b"MESSAGE\ndestination:/q\nmessage-id:1\ncontent-length:5\n\na\x00\n\rb\x00\n\n"
        b"MESSAGE\r\nmessage-id:2\r\n\r\nplain body\x00"
        b"\r\n"
        b"RECEIPT\nreceipt-id:a\\cb\n\n\x00"
    )
    EXPECTED: ClassVar[list[Event]] = [
        HEARTBEAT,
        Frame("CONNECTED", {"version": "1.2"}),
        HEARTBEAT,
        Frame(
            "MESSAGE",
            [("destination", "/q"), ("message-id", "1"), ("content-length", "5")],
            b"a\x00\n\rb",
        ),
        HEARTBEAT,
        HEARTBEAT,
        Frame("MESSAGE", {"message-id": "2"}, b"plain body"),
        HEARTBEAT,
        Frame("RECEIPT", {"receipt-id": "a:b"}),
    ]

    def test_whole_stream_at_once(self) -> None:
        assert Parser(Version.V1_2).feed(self.STREAM) == self.EXPECTED

    def test_one_byte_at_a_time(self) -> None:
        assert feed_in_chunks(self.STREAM, Version.V1_2, 1) == self.EXPECTED

    @pytest.mark.parametrize("size", [2, 3, 5, 7, 16, 64])
    def test_fixed_size_chunks(self, size: int) -> None:
        assert feed_in_chunks(self.STREAM, Version.V1_2, size) == self.EXPECTED

    def test_every_split_point(self) -> None:
        assert parse_any_chunking(self.STREAM) == self.EXPECTED

    def test_many_receive_data_calls_before_taking_events(self) -> None:
        parser = Parser(Version.V1_2)
        for byte in self.STREAM:
            parser.receive_data(bytes([byte]))
        assert list(parser.events()) == self.EXPECTED
        assert parser.next_event() is None

    def test_receive_data_accepts_bytearray_and_memoryview(self) -> None:
        parser = Parser(Version.V1_2)
        half = len(self.STREAM) // 2
        parser.receive_data(bytearray(self.STREAM[:half]))
        parser.receive_data(memoryview(self.STREAM)[half:])
        assert list(parser.events()) == self.EXPECTED

    def test_incomplete_frame_gives_no_event_until_it_is_complete(self) -> None:
        parser = Parser(Version.V1_2)
        assert parser.feed(b"SEND\ndestination:/q\n\nhel") == []
        assert parser.next_event() is None
        assert parser.feed(b"lo") == []
        assert parser.feed(b"\x00") == [Frame("SEND", {"destination": "/q"}, b"hello")]

    def test_parser_keeps_a_copy_of_the_bytes_it_received(self) -> None:
        parser = Parser(Version.V1_2)
        chunk = bytearray(b"SEND\na:1\n\nbody")
        parser.receive_data(chunk)
        chunk[:] = b"XXXXXXXXXXXXXXX"
        parser.receive_data(b"\x00")
        assert list(parser.events()) == [Frame("SEND", {"a": "1"}, b"body")]

    def test_buffered_counts_bytes_not_yet_returned_as_events(self) -> None:
        parser = Parser(Version.V1_2)
        assert parser.buffered == 0
        parser.receive_data(b"SEND\n\nab\x00SEN")
        assert parser.buffered == 12
        assert parser.next_event() == Frame("SEND", {}, b"ab")
        assert parser.buffered == 3
        rest = b"D\ncontent-length:4\n\nab"
        assert parser.feed(rest) == []
        assert parser.buffered == 3 + len(rest)
        assert parser.feed(b"cd\x00\n") == [
            Frame("SEND", {"content-length": "4"}, b"abcd"),
            HEARTBEAT,
        ]
        assert parser.buffered == 0

    def test_next_event_on_an_empty_parser_is_none(self) -> None:
        assert Parser().next_event() is None
        assert Parser().feed(b"") == []


class TestLineEnds:
    def test_crlf_line_ends(self) -> None:
        data = b"MESSAGE\r\ndestination:/q\r\nmessage-id:7\r\n\r\nbody\x00"
        assert parse_any_chunking(data, Version.V1_2) == [
            Frame("MESSAGE", [("destination", "/q"), ("message-id", "7")], b"body")
        ]

    def test_crlf_after_the_command_of_a_frame_without_headers(self) -> None:
        assert parse_any_chunking(b"DISCONNECT\r\n\r\n\x00") == [Frame("DISCONNECT")]

    def test_mixed_lf_and_crlf_line_ends(self) -> None:
        data = b"SEND\r\na:1\nb:2\r\n\nx\x00SEND\nc:3\r\n\r\ny\x00"
        assert parse_any_chunking(data) == [
            Frame("SEND", [("a", "1"), ("b", "2")], b"x"),
            Frame("SEND", {"c": "3"}, b"y"),
        ]

    def test_crlf_in_the_body_is_part_of_the_body(self) -> None:
        data = b"SEND\r\n\r\nline one\r\n\r\nline two\r\n\x00"
        assert parse_any_chunking(data) == [Frame("SEND", {}, b"line one\r\n\r\nline two\r\n")]

    def test_crlf_header_end_is_found_when_the_body_holds_a_blank_lf_line(self) -> None:
        data = b"SEND\r\na:1\r\n\r\nbody\n\nmore\x00"
        assert parse_any_chunking(data) == [Frame("SEND", {"a": "1"}, b"body\n\nmore")]

    def test_carriage_return_inside_a_header_value_is_kept(self) -> None:
        [frame] = Parser(Version.V1_1).feed(b"SEND\na:x\ry\n\n\x00")
        assert frame == Frame("SEND", {"a": "x\ry"})


class TestHeartBeats:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_lf_is_a_heart_beat(self, version: Version) -> None:
        assert Parser(version).feed(b"\n") == [HEARTBEAT]

    def test_crlf_is_one_heart_beat(self) -> None:
        assert parse_any_chunking(b"\r\n", Version.V1_2) == [HEARTBEAT]

    def test_each_eol_is_one_heart_beat(self) -> None:
        assert parse_any_chunking(b"\n\r\n\n\r\n") == [HEARTBEAT] * 4

    def test_heart_beats_are_heart_beat_values_not_frames(self) -> None:
        [event] = Parser().feed(b"\n")
        assert isinstance(event, HeartBeat)
        assert not isinstance(event, Frame)

    def test_lone_carriage_return_waits_for_its_line_feed(self) -> None:
        parser = Parser(Version.V1_2)
        assert parser.feed(b"\r") == []
        assert parser.feed(b"\n") == [HEARTBEAT]

    def test_eols_after_the_nul_are_heart_beats(self) -> None:
        data = b"SEND\n\nx\x00\n\n"
        assert parse_any_chunking(data) == [Frame("SEND", {}, b"x"), HEARTBEAT, HEARTBEAT]

    def test_crlf_heartbeat_does_not_break_the_next_frame(self) -> None:
        data = b"\r\nMESSAGE\nmessage-id:1\n\nx\x00"
        assert parse_any_chunking(data) == [
            HEARTBEAT,
            Frame("MESSAGE", {"message-id": "1"}, b"x"),
        ]

    def test_nul_crlf_does_not_break_the_next_frame(self) -> None:
        data = b"MESSAGE\nmessage-id:1\n\nx\x00\r\nMESSAGE\nmessage-id:2\n\ny\x00\r\n"
        assert parse_any_chunking(data) == [
            Frame("MESSAGE", {"message-id": "1"}, b"x"),
            HEARTBEAT,
            Frame("MESSAGE", {"message-id": "2"}, b"y"),
            HEARTBEAT,
        ]

    def test_heart_beats_after_a_large_frame_fed_in_small_chunks(self) -> None:
        # A frame larger than each chunk accumulates in a growing buffer: the heart-beats
        # and the frame after it, read from that buffer, are the same as from whole data.
        big = b"MESSAGE\nmessage-id:big\n\n" + b"x" * 10_000 + b"\x00"
        data = big + b"\n\r\nMESSAGE\nmessage-id:a\\cb\n\ny\x00\n"
        expected = [
            Frame("MESSAGE", {"message-id": "big"}, b"x" * 10_000),
            HEARTBEAT,
            HEARTBEAT,
            Frame("MESSAGE", {"message-id": "a:b"}, b"y"),
            HEARTBEAT,
        ]
        for size in (100, 333, 4096):
            assert feed_in_chunks(data, Version.V1_2, size) == expected, f"chunks of {size}"

    def test_nul_crlf_after_a_content_length_body_does_not_break_the_next_frame(self) -> None:
        data = b"MESSAGE\ncontent-length:2\n\n\r\n\x00\r\nMESSAGE\ncontent-length:0\n\n\x00"
        assert parse_any_chunking(data) == [
            Frame("MESSAGE", {"content-length": "2"}, b"\r\n"),
            HEARTBEAT,
            Frame("MESSAGE", {"content-length": "0"}),
        ]

    def test_heart_beats_between_frames_in_1_0_and_1_1(self) -> None:
        for version in (Version.V1_0, Version.V1_1):
            assert parse_any_chunking(b"\nSEND\n\n\x00\n", version) == [
                HEARTBEAT,
                Frame("SEND"),
                HEARTBEAT,
            ]


class TestBodies:
    def test_content_length_body_may_contain_nul(self) -> None:
        data = b"SEND\ncontent-length:5\n\n\x00a\x00b\x00\x00"
        assert parse_any_chunking(data) == [
            Frame("SEND", {"content-length": "5"}, b"\x00a\x00b\x00")
        ]

    def test_content_length_body_may_contain_blank_lines_and_frame_text(self) -> None:
        body = b"\n\nSEND\n\nx\x00\r\n"
        data = b"MESSAGE\ncontent-length:%d\n\n%b\x00" % (len(body), body)
        assert parse_any_chunking(data) == [
            Frame("MESSAGE", {"content-length": str(len(body))}, body)
        ]

    def test_zero_content_length(self) -> None:
        assert parse_any_chunking(b"SEND\ncontent-length:0\n\n\x00") == [
            Frame("SEND", {"content-length": "0"})
        ]

    def test_content_length_with_leading_zeros(self) -> None:
        assert Parser(Version.V1_2).feed(b"SEND\ncontent-length:003\n\nabc\x00") == [
            Frame("SEND", {"content-length": "003"}, b"abc")
        ]

    def test_content_length_with_thousands_of_leading_zeros(self) -> None:
        # More digits than int() converts by default (4300): the zeros do not count.
        length = "0" * 5000 + "3"
        assert Parser(Version.V1_2).feed(
            b"SEND\ncontent-length:%b\n\nabc\x00" % length.encode()
        ) == [Frame("SEND", {"content-length": length}, b"abc")]

    def test_first_content_length_header_is_the_one_used(self) -> None:
        data = b"SEND\ncontent-length:3\ncontent-length:1\n\na\x00b\x00"
        assert parse_any_chunking(data) == [
            Frame("SEND", [("content-length", "3"), ("content-length", "1")], b"a\x00b")
        ]

    def test_body_without_content_length_ends_at_the_first_nul(self) -> None:
        data = b"SEND\n\nfirst\x00SEND\n\nsecond\x00"
        assert parse_any_chunking(data) == [
            Frame("SEND", {}, b"first"),
            Frame("SEND", {}, b"second"),
        ]

    def test_body_is_binary(self) -> None:
        body = bytes(range(1, 256))
        assert parse_any_chunking(b"SEND\n\n" + body + b"\x00") == [Frame("SEND", {}, body)]

    @pytest.mark.parametrize("command", sorted(Version.V1_0.commands - BODY_COMMANDS))
    def test_1_0_allows_a_body_on_any_command(self, command: str) -> None:
        data = command.encode() + b"\n\nbody\x00"
        assert Parser(Version.V1_0).feed(data) == [Frame(command, {}, b"body")]

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("command", sorted(COMMANDS - BODY_COMMANDS))
    def test_empty_body_on_a_command_without_body(self, version: Version, command: str) -> None:
        data = command.encode() + b"\ncontent-length:0\n\n\x00"
        assert Parser(version).feed(data) == [Frame(command, {"content-length": "0"})]


class TestLargeBodies:
    BODY = bytes(range(256)) * 1024  # 256 KiB, NULs included
    DATA = b"MESSAGE\ncontent-length:%d\nmessage-id:big\n\n%b\x00" % (len(BODY), BODY)
    NEXT = b"\nRECEIPT\nreceipt-id:1\n\n\x00"
    EXPECTED: ClassVar[list[Event]] = [
        Frame("MESSAGE", [("content-length", str(len(BODY))), ("message-id", "big")], BODY),
        HEARTBEAT,
        Frame("RECEIPT", {"receipt-id": "1"}),
    ]

    @pytest.mark.parametrize("size", [1000, 4096, 65535, 65537, 100_000, 300_000])
    def test_large_content_length_body_in_chunks(self, size: int) -> None:
        stream = self.DATA + self.NEXT
        assert feed_in_chunks(stream, Version.V1_2, size) == self.EXPECTED

    def test_large_body_whole(self) -> None:
        assert Parser(Version.V1_2).feed(self.DATA + self.NEXT) == self.EXPECTED

    def test_large_body_split_right_after_the_headers(self) -> None:
        cut = self.DATA.index(b"\n\n") + 2
        parser = Parser(Version.V1_2)
        assert parser.feed(self.DATA[:cut]) == []
        assert parser.feed(self.DATA[cut:] + self.NEXT) == self.EXPECTED

    def test_large_body_split_just_before_and_after_the_nul(self) -> None:
        stream = self.DATA + self.NEXT
        nul = len(self.DATA) - 1
        for cut in (nul - 1, nul, nul + 1, nul + 2):
            parser = Parser(Version.V1_2)
            events = parser.feed(stream[:100]) + parser.feed(stream[100:cut])
            events += parser.feed(stream[cut:])
            assert events == self.EXPECTED, f"split at {cut}"

    def test_large_body_received_in_several_chunks_before_taking_events(self) -> None:
        stream = self.DATA + self.NEXT
        parser = Parser(Version.V1_2)
        parser.receive_data(stream[:1000])
        assert parser.next_event() is None
        for start in range(1000, len(stream), 50_000):
            parser.receive_data(stream[start : start + 50_000])
        assert list(parser.events()) == self.EXPECTED

    def test_large_body_then_the_next_frame_in_a_separate_receive_data(self) -> None:
        parser = Parser(Version.V1_2)
        parser.receive_data(self.DATA[:1000])
        assert parser.next_event() is None
        parser.receive_data(self.DATA[1000:])
        parser.receive_data(self.NEXT)
        assert list(parser.events()) == self.EXPECTED

    def test_large_body_chunks_are_copied_when_received(self) -> None:
        parser = Parser(Version.V1_2)
        parser.receive_data(self.DATA[:1000])
        assert parser.next_event() is None
        chunk = bytearray(self.DATA[1000:])
        parser.receive_data(chunk)
        chunk[:] = bytes(len(chunk))
        assert parser.next_event() == self.EXPECTED[0]

    def test_buffered_counts_a_large_body_being_collected(self) -> None:
        parser = Parser(Version.V1_2)
        parser.receive_data(self.DATA[:1000])
        assert parser.next_event() is None
        parser.receive_data(self.DATA[1000:200_000])
        assert parser.next_event() is None
        assert parser.buffered == 200_000
        parser.receive_data(self.DATA[200_000:])
        assert parser.next_event() == self.EXPECTED[0]
        assert parser.buffered == 0

    def test_large_body_without_content_length(self) -> None:
        body = b"x" * 300_000
        data = b"SEND\n\n" + body + b"\x00"
        assert feed_in_chunks(data, Version.V1_2, 7000) == [Frame("SEND", {}, body)]


class TestEscapes:
    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize(
        ("wire", "value"),
        [
            (b"a\\\\b", "a\\b"),
            (b"a\\cb", "a:b"),
            (b"a\\nb", "a\nb"),
            (b"\\\\c", "\\c"),
            (b"\\\\n", "\\n"),
            (b"\\\\\\\\", "\\\\"),
            (b"\\c\\n\\\\", ":\n\\"),
        ],
    )
    def test_header_values_are_unescaped(self, version: Version, wire: bytes, value: str) -> None:
        [frame] = Parser(version).feed(b"SEND\nh:" + wire + b"\n\n\x00")
        assert frame == Frame("SEND", {"h": value})

    def test_carriage_return_escape_in_1_2(self) -> None:
        [frame] = Parser(Version.V1_2).feed(b"SEND\na\\rb:c\\rd\n\n\x00")
        assert frame == Frame("SEND", {"a\rb": "c\rd"})

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_header_names_are_unescaped(self, version: Version) -> None:
        [frame] = Parser(version).feed(b"SEND\na\\cb\\\\\\n:v\n\n\x00")
        assert frame == Frame("SEND", {"a:b\\\n": "v"})

    def test_1_0_does_not_unescape(self) -> None:
        [frame] = Parser(Version.V1_0).feed(b"SEND\nh:a\\cb\\n\\t\\\n\n\x00")
        assert frame == Frame("SEND", {"h": "a\\cb\\n\\t\\"})

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("command", sorted(UNESCAPED_COMMANDS))
    def test_connect_stomp_and_connected_are_read_without_unescaping(
        self, version: Version, command: str
    ) -> None:
        data = command.encode() + b"\nsession:a\\cb\nlogin:x\\ty\\\n\n\x00"
        [frame] = Parser(version).feed(data)
        assert frame == Frame(command, [("session", "a\\cb"), ("login", "x\\ty\\")])

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_unescaped_colon_splits_before_unescaping(self, version: Version) -> None:
        [frame] = Parser(version).feed(b"SEND\na\\cb:c:d\\ce\n\n\x00")
        assert frame == Frame("SEND", {"a:b": "c:d:e"})

    def test_only_lines_with_escapes_change(self) -> None:
        data = b"SEND\na:1\nb:x\\cy\nc:2\nd:\\\\\ne:3\n\n\x00"
        [frame] = parse_any_chunking(data)
        assert frame == Frame(
            "SEND", [("a", "1"), ("b", "x:y"), ("c", "2"), ("d", "\\"), ("e", "3")]
        )


class TestVersionSwitch:
    CONNECTED = b"CONNECTED\nversion:1.2\nsession:ID:host-1:1\nserver:ActiveMQ/5.17.2\n\n\x00"
    MESSAGE = b"MESSAGE\r\nmessage-id:ID\\chost-1\\c1\r\nsubscription:0\r\n\r\nhi\x00"

    def take_connected_and_switch(self, parser: Parser) -> Frame:
        event = parser.next_event()
        assert isinstance(event, Frame)
        assert event.command == "CONNECTED"
        parser.version = Version(event.get("version", "1.0"))
        return event

    def test_parser_starts_at_1_0(self) -> None:
        assert Parser().version is Version.V1_0

    def test_connected_is_read_without_unescaping(self) -> None:
        parser = Parser()
        parser.receive_data(self.CONNECTED)
        connected = self.take_connected_and_switch(parser)
        assert connected.get("session") == "ID:host-1:1"
        assert connected.get("server") == "ActiveMQ/5.17.2"

    def test_frames_in_the_same_chunk_as_connected_use_the_negotiated_version(self) -> None:
        parser = Parser()
        parser.receive_data(self.CONNECTED + b"\r\n" + self.MESSAGE)
        self.take_connected_and_switch(parser)
        assert parser.version is Version.V1_2
        assert parser.next_event() == HEARTBEAT
        assert parser.next_event() == Frame(
            "MESSAGE", [("message-id", "ID:host-1:1"), ("subscription", "0")], b"hi"
        )
        assert parser.next_event() is None

    def test_version_switch_in_the_middle_of_events_iteration(self) -> None:
        parser = Parser()
        parser.receive_data(self.CONNECTED + self.MESSAGE)
        seen: list[Event] = []
        for event in parser.events():
            seen.append(event)
            if isinstance(event, Frame) and event.command == "CONNECTED":
                parser.version = Version(event.get("version", "1.0"))
        assert seen[1] == Frame(
            "MESSAGE", [("message-id", "ID:host-1:1"), ("subscription", "0")], b"hi"
        )

    def test_version_switch_applies_to_a_frame_already_partly_buffered(self) -> None:
        parser = Parser()
        parser.receive_data(self.CONNECTED + self.MESSAGE[:10])
        self.take_connected_and_switch(parser)
        assert parser.next_event() is None
        assert parser.feed(self.MESSAGE[10:]) == [
            Frame("MESSAGE", [("message-id", "ID:host-1:1"), ("subscription", "0")], b"hi")
        ]

    def test_feed_reads_the_whole_chunk_under_the_current_version(self) -> None:
        events = Parser().feed(self.CONNECTED + self.MESSAGE.replace(b"\r\n", b"\n"))
        assert events[1] == Frame(
            "MESSAGE", [("message-id", "ID\\chost-1\\c1"), ("subscription", "0")], b"hi"
        )

    def test_version_can_be_switched_down(self) -> None:
        parser = Parser(Version.V1_2)
        parser.version = Version.V1_0
        assert parser.feed(b"SEND\na:\\t\n\n\x00") == [Frame("SEND", {"a": "\\t"})]

    def test_version_must_be_a_version(self) -> None:
        parser = Parser()
        with pytest.raises(TypeError):
            parser.version = "1.2"  # type: ignore[assignment]
        assert parser.version is Version.V1_0
        with pytest.raises(TypeError):
            Parser("1.2")  # type: ignore[arg-type]


class TestParserProperties:
    def test_limits_property_returns_the_given_limits(self) -> None:
        limits = Limits(max_headers=3)
        assert Parser(limits=limits).limits is limits

    def test_default_limits(self) -> None:
        assert Parser().limits == Limits()

    def test_reset_discards_buffered_bytes(self) -> None:
        parser = Parser(Version.V1_2)
        assert parser.feed(b"SEND\na:1\n\npartial") == []
        parser.reset()
        assert parser.buffered == 0
        assert parser.feed(b"ACK\nid:1\n\n\x00") == [Frame("ACK", {"id": "1"})]

    def test_reset_keeps_the_version_and_limits(self) -> None:
        limits = Limits(max_headers=3)
        parser = Parser(Version.V1_1, limits=limits)
        parser.reset()
        assert parser.version is Version.V1_1
        assert parser.limits is limits

    def test_parse_error_is_raised_from_next_event_not_receive_data(self) -> None:
        parser = Parser(Version.V1_2)
        parser.receive_data(b"SEND\n\nok\x00BOGUS\n\n\x00")
        assert parser.next_event() == Frame("SEND", {}, b"ok")
        with pytest.raises(ParseError):
            parser.next_event()

"""Each STOMP version read and written exactly as its own specification says.

Each test quotes the sentence of the specification it checks. The three versions differ
in their commands (1.0 has no NACK and no STOMP), their line ends (CR LF is new in 1.2)
and their escapes (none in 1.0; 1.1 has no escape for a carriage return).
"""

from __future__ import annotations

import sys

import pytest

from stomp_frame import (
    COMMANDS,
    HEARTBEAT,
    Frame,
    HeartBeat,
    InvalidFrame,
    Limits,
    ParseError,
    Parser,
    Version,
    serialize,
)

Event = Frame | HeartBeat
V1_0, V1_1, V1_2 = Version.V1_0, Version.V1_1, Version.V1_2


def outcome(
    chunks: list[bytes], version: Version, limits: Limits | None = None, *, handshake: bool = False
) -> tuple[list[Event], tuple[type[ParseError], str, int] | None]:
    """The events of *chunks*, and the error that ended them (type, reason, offset)."""
    parser = Parser(version, limits=limits or Limits(), handshake=handshake)
    events: list[Event] = []
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            while (event := parser.next_event()) is not None:
                events.append(event)
    except ParseError as error:
        return events, (type(error), error.reason, error.offset)
    return events, None


def handshaking(parser: Parser) -> bool:
    """parser.handshake, read through a call (mypy would narrow the property)."""
    return parser.handshake


def every_chunking(data: bytes) -> list[list[bytes]]:
    """Whole, one byte at a time, and cut in two at every point."""
    cuts = [[data[:cut], data[cut:]] for cut in range(1, len(data))]
    return [[data], [data[i : i + 1] for i in range(len(data))], *cuts]


def read(
    data: bytes, version: Version, limits: Limits | None = None, *, handshake: bool = False
) -> tuple[list[Event], tuple[type[ParseError], str, int] | None]:
    """The outcome of *data*, which must be the same in every chunking."""
    whole = outcome([data], version, limits, handshake=handshake)
    for chunks in every_chunking(data):
        assert outcome(chunks, version, limits, handshake=handshake) == whole, chunks
    return whole


def refused(data: bytes, version: Version, limits: Limits | None = None) -> tuple[str, int]:
    """The reason and offset of the ParseError that *data* raises in every chunking."""
    events, error = read(data, version, limits)
    assert error is not None, f"{data!r} was read as {events!r}"
    return error[1], error[2]


# -- commands -------------------------------------------------------------------------------


class TestCommandsOfEachVersion:
    # Spec 1.1, "introducing several new features not present in STOMP 1.0: ... NACK frames
    # for negative acknowledgment of message receipt".
    # Spec 1.1: "Clients that use the STOMP frame instead of the CONNECT frame will only be
    # able to connect to STOMP 1.1 servers".

    def test_1_0_has_every_command_but_nack_and_stomp(self) -> None:
        assert V1_0.commands == COMMANDS - {"NACK", "STOMP"}
        assert V1_1.commands == V1_2.commands == COMMANDS

    @pytest.mark.parametrize("command", [b"NACK", b"STOMP"])
    def test_a_1_0_parser_refuses_nack_and_stomp_as_unknown_commands(self, command: bytes) -> None:
        reason, offset = refused(b"\n" + command + b"\nid:1\n\n\x00", V1_0)
        assert reason == f"unknown command {command.decode()!r} in STOMP 1.0"
        assert offset == 1

    @pytest.mark.parametrize("version", [V1_1, V1_2])
    @pytest.mark.parametrize("command", ["NACK", "STOMP"])
    def test_1_1_and_1_2_read_nack_and_stomp(self, version: Version, command: str) -> None:
        assert read(command.encode() + b"\nid:1\n\n\x00", version) == (
            [Frame(command, {"id": "1"})],
            None,
        )

    @pytest.mark.parametrize("command", ["NACK", "STOMP"])
    def test_1_0_serializing_refuses_nack_and_stomp(self, command: str) -> None:
        with pytest.raises(InvalidFrame, match=f"STOMP 1.0 has no {command} command"):
            serialize(Frame(command, {"id": "1"}), V1_0)

    @pytest.mark.parametrize("version", [V1_1, V1_2])
    @pytest.mark.parametrize("command", ["NACK", "STOMP"])
    def test_1_1_and_1_2_write_nack_and_stomp(self, version: Version, command: str) -> None:
        assert (
            serialize(Frame(command, {"id": "1"}), version) == command.encode() + b"\nid:1\n\n\x00"
        )


class TestHandshake:
    """A connection's first frames, read before any version is negotiated."""

    def test_a_handshake_parser_reads_stomp_before_a_version_is_known(self) -> None:
        # Spec 1.2: "STOMP servers MUST handle a STOMP frame in the same manner as a
        # CONNECT frame"; a server cannot know the version before it has read it.
        events, error = read(b"STOMP\naccept-version:1.2\nhost:/\n\n\x00", V1_0, handshake=True)
        assert error is None
        assert events == [Frame("STOMP", [("accept-version", "1.2"), ("host", "/")])]

    def test_a_handshake_parser_reads_a_connected_frame_with_crlf_line_ends(self) -> None:
        # Spec 1.2: "EOL = [CR] LF": a 1.2 server may answer CONNECT in CR LF lines.
        data = b"CONNECTED\r\nversion:1.2\r\n\r\n\x00"
        assert read(data, V1_0, handshake=True) == ([Frame("CONNECTED", {"version": "1.2"})], None)

    def test_after_the_handshake_the_negotiated_version_reads_what_follows(self) -> None:
        parser = Parser(V1_0, handshake=True)
        parser.receive_data(b"CONNECTED\r\nversion:1.2\r\n\r\n\x00\r\n")
        assert parser.next_event() == Frame("CONNECTED", {"version": "1.2"})
        parser.version = V1_2
        assert parser.next_event() == HEARTBEAT

    def test_the_handshake_ends_with_the_first_connect_stomp_or_connected_frame(self) -> None:
        parser = Parser(V1_0, handshake=True)
        assert handshaking(parser)
        assert parser.feed(b"STOMP\n\n\x00") == [Frame("STOMP")]
        assert not handshaking(parser)
        with pytest.raises(ParseError, match=r"unknown command 'NACK' in STOMP 1\.0"):
            parser.feed(b"NACK\nid:1\n\n\x00")

    def test_frames_before_the_handshake_frame_are_read_in_the_handshake(self) -> None:
        parser = Parser(V1_0, handshake=True)
        assert parser.feed(b"\r\nERROR\r\nmessage:no\r\n\r\n\x00") == [
            HEARTBEAT,
            Frame("ERROR", {"message": "no"}),
        ]
        assert handshaking(parser)

    def test_reset_starts_the_handshake_again(self) -> None:
        parser = Parser(V1_0, handshake=True)
        parser.feed(b"CONNECTED\nversion:1.1\n\n\x00")
        parser.version = V1_1
        assert not handshaking(parser)
        parser.reset()
        assert handshaking(parser)
        assert parser.feed(b"CONNECTED\r\n\r\n\x00") == [Frame("CONNECTED")]

    def test_a_parser_made_without_handshake_never_reads_one(self) -> None:
        parser = Parser(V1_0)
        assert not handshaking(parser)
        parser.reset()
        assert not handshaking(parser)
        with pytest.raises(ParseError, match=r"unknown command 'STOMP' in STOMP 1\.0"):
            parser.feed(b"STOMP\n\n\x00")

    def test_the_handshake_keeps_the_escaping_of_the_version(self) -> None:
        # Spec 1.2: "CONNECT and CONNECTED frames do not escape"; other frames follow
        # the parser's version.
        parser = Parser(V1_2, handshake=True)
        assert parser.feed(b"ERROR\nmessage:a\\cb\n\n\x00") == [Frame("ERROR", {"message": "a:b"})]
        assert parser.feed(b"CONNECTED\nserver:a\\cb\n\n\x00") == [
            Frame("CONNECTED", {"server": "a\\cb"})
        ]


# -- line ends ------------------------------------------------------------------------------


class TestLineEndsBefore12:
    # Spec 1.1: "The frame starts with a command string terminated by a newline", and its
    # grammar: "frame = command LF *( header LF ) LF *OCTET NULL *( LF )" and
    # "header-value = *<any OCTET except LF or ":">": a CR is an octet of the line.
    # Spec 1.2, changes in the protocol: "it is now possible to end frame lines with
    # carriage return plus line feed instead of only line feed".

    @pytest.mark.parametrize("version", [V1_0, V1_1])
    def test_a_cr_before_the_lf_belongs_to_the_header_value(self, version: Version) -> None:
        events, error = read(b"SEND\ndestination:/q\r\n\n\x00", version)
        assert error is None
        assert events == [Frame("SEND", {"destination": "/q\r"})]

    def test_in_1_2_a_cr_before_the_lf_ends_the_line(self) -> None:
        # Spec 1.2: "EOL = [CR] LF".
        assert read(b"SEND\ndestination:/q\r\n\n\x00", V1_2) == (
            [Frame("SEND", {"destination": "/q"})],
            None,
        )

    @pytest.mark.parametrize("version", [V1_0, V1_1])
    def test_a_command_line_ending_in_cr_is_not_a_command(self, version: Version) -> None:
        reason, offset = refused(b"SEND\r\ndestination:/q\n\n\x00", version)
        assert reason == "unknown command 'SEND\\r'"
        assert offset == 0

    @pytest.mark.parametrize("version", [V1_0, V1_1])
    def test_a_crlf_blank_line_does_not_end_the_headers(self, version: Version) -> None:
        # "\r" alone on a line is a header line without a colon, not the blank line.
        reason, _ = refused(b"SEND\na:1\n\r\nbody\n\n\x00", version)
        assert reason == "a header line has no colon: '\\r'"

    @pytest.mark.parametrize("version", [V1_0, V1_1])
    def test_a_crlf_between_frames_is_not_a_heart_beat(self, version: Version) -> None:
        # Spec 1.1: "if the sender has no real STOMP frame to send, it MUST send a single
        # newline byte (0x0A)".
        reason, offset = refused(b"SEND\n\n\x00\r\nSEND\n\n\x00", version)
        assert reason.startswith(f"a carriage return between frames (STOMP {version}")
        assert offset == 7

    def test_in_1_2_a_crlf_between_frames_is_a_heart_beat(self) -> None:
        # Spec 1.2: "it MUST send an end-of-line (EOL)".
        assert read(b"SEND\n\n\x00\r\n", V1_2) == ([Frame("SEND"), HEARTBEAT], None)

    @pytest.mark.parametrize("version", list(Version))
    def test_a_single_lf_is_a_heart_beat(self, version: Version) -> None:
        assert read(b"\nSEND\n\n\x00\n", version) == ([HEARTBEAT, Frame("SEND"), HEARTBEAT], None)

    @pytest.mark.parametrize("version", [V1_0, V1_1])
    def test_the_cr_counts_towards_the_header_line_limit(self, version: Version) -> None:
        limits = Limits(max_header_line=4)
        reason, offset = refused(b"SEND\nab:c\r\n\n\x00", version, limits)
        assert reason == "a header line is longer than 4 bytes"
        assert offset == 5
        assert read(b"SEND\nab:c\r\n\n\x00", V1_2, limits) == ([Frame("SEND", {"ab": "c"})], None)


# -- escaping -------------------------------------------------------------------------------


class TestEscaping:
    def test_1_1_refuses_the_cr_escape(self) -> None:
        # Spec 1.1: "Undefined escape sequences such as \r (octet 92 and 114) MUST be
        # treated as a fatal protocol error."
        reason, _ = refused(b"SEND\na:x\\ry\n\n\x00", V1_1)
        assert reason == "undefined escape sequence '\\\\r' in STOMP 1.1"

    def test_1_2_reads_the_cr_escape(self) -> None:
        # Spec 1.2: "\r (octet 92 and 114) translates to carriage return (octet 13)".
        assert read(b"SEND\na:x\\ry\n\n\x00", V1_2) == ([Frame("SEND", {"a": "x\ry"})], None)

    def test_1_0_does_not_unescape(self) -> None:
        # Spec 1.1: "The CONNECT and CONNECTED frames do not escape the colon or newline
        # octets in order to remain backward compatible with STOMP 1.0."
        assert read(b"SEND\na:x\\cy\\t\n\n\x00", V1_0) == ([Frame("SEND", {"a": "x\\cy\\t"})], None)

    def test_1_0_refuses_to_write_lone_surrogates_that_read_back_as_other_text(self) -> None:
        # Spec 1.0 has no escapes: what a 1.0 header holds is written as it is, so only
        # what reads back as the same text may be written. "\udcc3\udca9" would be
        # written as the UTF-8 of "é" and read back as "é".
        frame = Frame("SEND", {"a": "\udcc3\udca9"})
        with pytest.raises(InvalidFrame, match="lone surrogates"):
            serialize(frame, V1_0)
        for version in (V1_1, V1_2):
            with pytest.raises(InvalidFrame, match="cannot be encoded as UTF-8"):
                serialize(frame, version)

    def test_1_0_writes_back_the_bytes_it_read_that_are_not_utf_8(self) -> None:
        [frame] = Parser(V1_0).feed(b"SEND\na:\xff\xc3\n\n\x00")
        assert isinstance(frame, Frame)
        assert frame.get("a") == "\udcff\udcc3"
        assert serialize(frame, V1_0) == b"SEND\na:\xff\xc3\n\n\x00"


# -- limits and memory, whatever the chunking -------------------------------------------------


class TestLimitsWhateverTheChunking:
    def test_a_command_line_over_the_limit_raises_before_the_headers_end(self) -> None:
        # Found by fuzzing: whole, this waited for more bytes; cut after "ERRO" it raised.
        reason, offset = refused(b"ERROR\nf", V1_1, Limits(max_header_line=2))
        assert reason == "a header line is longer than 2 bytes"
        assert offset == 0

    @pytest.mark.parametrize("version", list(Version))
    def test_every_finished_line_is_checked_not_only_the_last(self, version: Version) -> None:
        data = b"SEND\na:1\nlong:" + b"x" * 20 + b"\nb:2\nc:"
        reason, offset = refused(data, version, Limits(max_header_line=10))
        assert (reason, offset) == ("a header line is longer than 10 bytes", 9)

    def test_a_cr_at_the_end_of_a_1_2_line_at_the_limit_is_not_counted(self) -> None:
        assert read(b"SEND\nab:c\r", V1_2, Limits(max_header_line=4)) == ([], None)
        assert read(b"SEND\nab:cd", V1_2, Limits(max_header_line=4))[1] is not None


class TestBuffersAreReleased:
    def test_a_large_body_without_content_length_is_not_held_twice(self) -> None:
        body = b"b" * (1 << 20)
        parser = Parser(V1_2)
        parser.receive_data(b"MESSAGE\ndestination:/q\n\n" + body + b"\x00MESS")
        frame = parser.next_event()
        assert isinstance(frame, Frame)
        assert frame.body == body
        # The buffer the frame was read from is let go as the frame is handed out.
        assert sys.getsizeof(parser._buf) < 1024
        assert parser.buffered == 4

    def test_a_large_body_in_one_chunk_with_content_length_is_not_held_twice(self) -> None:
        body = b"b" * (1 << 20)
        head = b"MESSAGE\ncontent-length:%d\n\n" % len(body)
        parser = Parser(V1_2)
        parser.receive_data(head + body + b"\x00\n")
        assert parser.next_event() == Frame("MESSAGE", {"content-length": str(len(body))}, body)
        assert sys.getsizeof(parser._buf) < 1024
        assert parser.next_event() == HEARTBEAT

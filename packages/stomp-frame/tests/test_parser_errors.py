"""The parser is strict: a malformed stream raises ParseError naming the problem and its offset."""

from __future__ import annotations

import pytest

from stomp_frame import (
    BODY_COMMANDS,
    COMMANDS,
    Frame,
    HeartBeat,
    LimitExceeded,
    Limits,
    ParseError,
    Parser,
    Version,
)

Event = Frame | HeartBeat
ALL_VERSIONS = list(Version)
ESCAPING_VERSIONS = [Version.V1_1, Version.V1_2]
NO_BODY_COMMANDS = sorted(COMMANDS - BODY_COMMANDS)


def error_when_fed(data: bytes, version: Version, chunk_size: int | None = None) -> ParseError:
    """Feed *data* (whole, or in chunks of *chunk_size*) and return the ParseError it raises."""
    parser = Parser(version)
    size = chunk_size or max(len(data), 1)
    chunks = [data[start : start + size] for start in range(0, len(data), size)]
    with pytest.raises(ParseError) as caught:
        feed_all(parser, chunks)
    return caught.value


def feed_all(parser: Parser, chunks: list[bytes]) -> None:
    for chunk in chunks:
        parser.feed(chunk)


def error_in_any_chunking(data: bytes, version: Version = Version.V1_2) -> ParseError:
    """The error raised for *data* fed whole; fed a byte at a time it must be the same."""
    whole = error_when_fed(data, version)
    for size in (1, 2, 3):
        chunked = error_when_fed(data, version, size)
        assert (type(chunked), chunked.offset, chunked.reason) == (
            type(whole),
            whole.offset,
            whole.reason,
        ), f"chunks of {size}"
    return whole


class TestUnknownCommand:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    @pytest.mark.parametrize("command", [b"FOO", b"send", b"SEND ", b" SEND", b"SENDX"])
    def test_unknown_command(self, version: Version, command: bytes) -> None:
        error = error_in_any_chunking(command + b"\na:1\n\n\x00", version)
        assert error.offset == 0
        assert "unknown command" in error.reason
        assert repr(command.decode()) in error.reason

    def test_offset_is_where_the_bad_frame_starts(self) -> None:
        data = b"SEND\n\nok\x00\n\r\nBOGUS\n\n\x00"
        error = error_in_any_chunking(data)
        assert error.offset == data.index(b"BOGUS")
        assert "BOGUS" in error.reason

    def test_frame_text_that_is_not_a_command_line(self) -> None:
        error = error_in_any_chunking(b"hello world\n\n\x00")
        assert error.offset == 0


class TestHeaderLines:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_header_line_without_a_colon(self, version: Version) -> None:
        data = b"SEND\na:1\nbogus\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert error.offset == data.index(b"bogus")
        assert "colon" in error.reason
        assert "bogus" in error.reason

    def test_header_line_without_a_colon_with_crlf_line_ends(self) -> None:
        data = b"SEND\r\na:1\r\nbogus\r\n\r\n\x00"
        error = error_in_any_chunking(data)
        assert error.offset == data.index(b"bogus")

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_empty_header_name(self, version: Version) -> None:
        data = b"SEND\na:1\n:value\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert error.offset == data.index(b":value")
        assert "empty name" in error.reason

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_nul_inside_the_headers(self, version: Version) -> None:
        data = b"SEND\na:x\x00y\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert error.offset == data.index(b"\x00")
        assert "NUL" in error.reason

    def test_nul_before_the_headers_end_raises_without_waiting_for_more(self) -> None:
        parser = Parser(Version.V1_2)
        with pytest.raises(ParseError) as caught:
            parser.feed(b"SEND\na:1\x00")
        assert caught.value.offset == 8

    def test_nul_where_a_frame_should_start(self) -> None:
        data = b"SEND\n\n\x00\x00"
        error = error_in_any_chunking(data)
        assert error.offset == 7

    def test_command_ended_by_nul(self) -> None:
        error = error_in_any_chunking(b"DISCONNECT\x00")
        assert error.offset == 10

    def test_carriage_return_between_frames_must_be_followed_by_a_line_feed(self) -> None:
        data = b"SEND\n\n\x00\rSEND\n\n\x00"
        error = error_in_any_chunking(data)
        assert error.offset == 7
        assert "carriage return" in error.reason


class TestEscapeErrors:
    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("sequence", [b"\\t", b"\\a", b"\\x", b"\\:", b"\\C", b"\\ "])
    def test_undefined_escape_is_fatal(self, version: Version, sequence: bytes) -> None:
        data = b"SEND\na:1\nb:x" + sequence + b"y\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert error.offset == data.index(b"b:")
        assert "escape" in error.reason
        assert sequence.decode() in error.reason

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_undefined_escape_in_a_header_name(self, version: Version) -> None:
        data = b"SEND\nb\\t:x\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert error.offset == 5
        assert "escape" in error.reason

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_backslash_at_the_end_of_a_value_is_fatal(self, version: Version) -> None:
        data = b"SEND\na:x\\\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert error.offset == 5

    def test_carriage_return_escape_is_undefined_in_1_1(self) -> None:
        data = b"SEND\na:x\\ry\n\n\x00"
        error = error_in_any_chunking(data, Version.V1_1)
        assert error.offset == 5
        assert "\\r" in error.reason

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_offset_names_the_line_with_the_bad_escape_after_an_escaped_backslash(
        self, version: Version
    ) -> None:
        data = b"SEND\na:x\\\\t\nb:\\c\nc:\\t\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert error.offset == data.index(b"c:")

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_escaped_backslash_before_a_letter_is_not_an_escape(self, version: Version) -> None:
        [frame] = Parser(version).feed(b"SEND\na:x\\\\t\n\n\x00")
        assert frame == Frame("SEND", {"a": "x\\t"})

    def test_1_0_accepts_any_backslash(self) -> None:
        [frame] = Parser(Version.V1_0).feed(b"SEND\na:\\t\\\n\n\x00")
        assert frame == Frame("SEND", {"a": "\\t\\"})


class TestEncodingErrors:
    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize(
        "data",
        [
            b"SEND\na:caf\xe9\n\n\x00",
            b"SEND\nb\xff:x\n\n\x00",
            b"SEND\na:\xc3\n\n\x00",
            b"SEND\na:1\nb:\xed\xa0\x80\n\n\x00",
        ],
    )
    def test_header_bytes_that_are_not_utf8(self, version: Version, data: bytes) -> None:
        first_bad = min(i for i, byte in enumerate(data) if byte >= 0x80)
        error = error_in_any_chunking(data, version)
        assert error.offset == first_bad
        assert "UTF-8" in error.reason

    def test_1_0_accepts_header_bytes_that_are_not_utf8(self) -> None:
        [frame] = Parser(Version.V1_0).feed(b"SEND\na:caf\xe9\n\n\x00")
        assert isinstance(frame, Frame)
        assert frame.get("a", "").startswith("caf")

    def test_body_need_not_be_utf8(self) -> None:
        assert Parser(Version.V1_2).feed(b"SEND\n\n\xff\xfe\x00") == [
            Frame("SEND", {}, b"\xff\xfe")
        ]


class TestContentLengthErrors:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    @pytest.mark.parametrize(
        "value",
        [b"", b"abc", b"-1", b"-0", b"+5", b" 5", b"5 ", b"0x10", b"1e3", b"1.0", b"\xd9\xa1"],
    )
    def test_malformed_content_length(self, version: Version, value: bytes) -> None:
        data = b"\nSEND\ndestination:/q\ncontent-length:" + value + b"\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert "content-length" in error.reason
        # The problem is reported at the frame or at its content-length line.
        assert 1 <= error.offset <= data.index(b"content-length")

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    @pytest.mark.parametrize("digits", [25, 5000])
    def test_content_length_of_many_digits_is_over_the_limit(
        self, version: Version, digits: int
    ) -> None:
        # 5000 digits: more than int() converts by default; a LimitExceeded, not a ValueError.
        data = b"\nSEND\ncontent-length:" + b"9" * digits + b"\n\n\x00"
        error = error_in_any_chunking(data, version)
        assert isinstance(error, LimitExceeded)
        assert error.offset == 1
        assert "content-length 999" in error.reason
        assert len(error.reason) < 200

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_negative_content_length_is_refused(self, version: Version) -> None:
        error = error_in_any_chunking(b"SEND\ncontent-length:-1\n\n\x00", version)
        assert "content-length" in error.reason

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_missing_nul_after_a_content_length_body(self, version: Version) -> None:
        head = b"SEND\ncontent-length:2\n\n"
        error = error_in_any_chunking(head + b"abc\x00", version)
        assert error.offset == len(head) + 2
        assert "NUL" in error.reason
        assert "content-length" in error.reason

    def test_content_length_longer_than_the_data_waits_for_more_bytes(self) -> None:
        parser = Parser(Version.V1_2)
        assert parser.feed(b"SEND\ncontent-length:10\n\nabc\x00") == []
        assert parser.feed(b"defghi\x00") == [
            Frame("SEND", {"content-length": "10"}, b"abc\x00defghi")
        ]

    def test_missing_nul_after_a_large_content_length_body(self) -> None:
        body = b"x" * 200_000
        head = b"SEND\ncontent-length:%d\n\n" % len(body)
        data = head + body + b"!\x00"
        for size in (len(data), 1000, 70_000):
            error = error_when_fed(data, Version.V1_2, size)
            assert error.offset == len(head) + len(body), f"chunks of {size}"


class TestForbiddenBodies:
    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("command", NO_BODY_COMMANDS)
    def test_body_on_a_command_that_may_not_have_one(self, version: Version, command: str) -> None:
        head = command.encode() + b"\nid:1\n\n"
        error = error_in_any_chunking(head + b"x\x00", version)
        assert error.offset == len(head)
        assert "body" in error.reason
        assert command in error.reason

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_content_length_body_on_a_command_that_may_not_have_one(self, version: Version) -> None:
        head = b"\nACK\nid:1\ncontent-length:2\n\n"
        error = error_in_any_chunking(head + b"\x00\x00\x00", version)
        assert error.offset == len(head)

    def test_large_content_length_body_on_a_command_that_may_not_have_one(self) -> None:
        body = b"x" * 200_000
        head = b"ACK\nid:1\ncontent-length:%d\n\n" % len(body)
        data = head + body + b"\x00"
        for size in (len(data), 1000, 70_000):
            error = error_when_fed(data, Version.V1_2, size)
            assert error.offset == len(head), f"chunks of {size}"


class TestErrorsAreFinalUntilReset:
    BAD = b"SEND\n\nok\x00BOGUS\n\n\x00"

    def failed_parser(self) -> tuple[Parser, ParseError]:
        parser = Parser(Version.V1_2)
        with pytest.raises(ParseError) as caught:
            parser.feed(self.BAD)
        return parser, caught.value

    def test_next_event_keeps_raising_the_same_error(self) -> None:
        parser, first = self.failed_parser()
        for _ in range(3):
            with pytest.raises(ParseError) as again:
                parser.next_event()
            assert (type(again.value), again.value.reason, again.value.offset) == (
                type(first),
                first.reason,
                first.offset,
            )

    def test_receive_data_raises_after_an_error(self) -> None:
        parser, first = self.failed_parser()
        with pytest.raises(ParseError) as again:
            parser.receive_data(b"SEND\n\n\x00")
        assert again.value.offset == first.offset

    def test_feed_and_events_raise_after_an_error(self) -> None:
        parser, first = self.failed_parser()
        with pytest.raises(ParseError) as again:
            parser.feed(b"")
        assert again.value.reason == first.reason
        with pytest.raises(ParseError):
            list(parser.events())

    def test_valid_bytes_after_an_error_do_not_revive_the_parser(self) -> None:
        parser, _ = self.failed_parser()
        with pytest.raises(ParseError):
            parser.feed(b"\n")
        with pytest.raises(ParseError):
            parser.next_event()

    def test_limit_exceeded_is_final_too(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_headers=1))
        with pytest.raises(LimitExceeded):
            parser.feed(b"SEND\na:1\nb:2\n\n\x00")
        with pytest.raises(LimitExceeded):
            parser.next_event()

    def test_reset_makes_the_parser_usable_again(self) -> None:
        parser, _ = self.failed_parser()
        parser.reset()
        assert parser.feed(b"SEND\n\nagain\x00") == [Frame("SEND", {}, b"again")]

    def test_offsets_count_from_zero_after_reset(self) -> None:
        parser, first = self.failed_parser()
        assert first.offset == self.BAD.index(b"BOGUS")
        parser.reset()
        with pytest.raises(ParseError) as caught:
            parser.feed(b"\nBAD\n\n\x00")
        assert caught.value.offset == 1

    def test_offsets_count_from_zero_after_a_reset_without_error(self) -> None:
        parser = Parser(Version.V1_2)
        assert parser.feed(b"SEND\n\nabc\x00\n") != []
        parser.reset()
        with pytest.raises(ParseError) as caught:
            parser.feed(b"BAD\n\n\x00")
        assert caught.value.offset == 0


class TestOffsetsAreStreamOffsets:
    def test_offset_counts_every_byte_fed_before(self) -> None:
        good = b"MESSAGE\nmessage-id:1\ncontent-length:3\n\na\x00b\x00\r\n" * 20
        data = good + b"MESSAGE\nno colon here\n\n\x00"
        for size in (1, 5, 64, len(data)):
            error = error_when_fed(data, Version.V1_2, size)
            assert error.offset == data.index(b"no colon"), f"chunks of {size}"

    def test_offset_after_a_large_body_collected_in_chunks(self) -> None:
        body = bytes(range(256)) * 800
        good = b"MESSAGE\ncontent-length:%d\n\n%b\x00\n" % (len(body), body)
        data = good + b"MESSAGE\na:1\nb:\\t\n\n\x00"
        for size in (1000, 65_536, 100_000, len(data)):
            error = error_when_fed(data, Version.V1_2, size)
            assert error.offset == data.index(b"b:\\t"), f"chunks of {size}"

    def test_error_message_includes_the_offset(self) -> None:
        error = error_when_fed(b"\n\nNOPE\n\n\x00", Version.V1_2)
        assert error.offset == 2
        assert "2" in str(error)
        assert "NOPE" in str(error)

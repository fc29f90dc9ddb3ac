"""Limits bound what a peer can make the parser hold: frame size, header count, header line length.

A frame's size is every byte from the first byte of its command to its NUL, both included.
Each limit is enforced the same way whatever the chunking, and before the frame is complete.
"""

from __future__ import annotations

import pytest

from stomp_frame import Frame, HeartBeat, LimitExceeded, Limits, ParseError, Parser, Version

Event = Frame | HeartBeat
CHUNK_SIZES = [None, 1, 2, 7]


def feed(parser: Parser, data: bytes, chunk_size: int | None) -> list[Event]:
    size = chunk_size or max(len(data), 1)
    events: list[Event] = []
    for start in range(0, len(data), size):
        events += parser.feed(data[start : start + size])
    return events


def limit_error(data: bytes, limits: Limits, chunk_size: int | None) -> LimitExceeded:
    parser = Parser(Version.V1_2, limits=limits)
    with pytest.raises(LimitExceeded) as caught:
        feed(parser, data, chunk_size)
    return caught.value


def sized_frame(size: int, *, content_length: bool) -> bytes:
    """A SEND frame of exactly *size* bytes, NUL included."""
    if content_length:
        overhead = len(b"SEND\ncontent-length:\n\n\x00")
        body_len = next(n for n in range(size) if overhead + len(str(n)) + n == size)
        data = b"SEND\ncontent-length:%d\n\n%b\x00" % (body_len, b"\x00" * body_len)
    else:
        data = b"SEND\n\n" + b"b" * (size - 7) + b"\x00"
    assert len(data) == size
    return data


class TestMaxFrameSize:
    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    @pytest.mark.parametrize("content_length", [True, False])
    def test_frame_of_exactly_the_limit_is_accepted(
        self, chunk_size: int | None, content_length: bool
    ) -> None:
        data = sized_frame(100, content_length=content_length)
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=100))
        events = feed(parser, data, chunk_size)
        assert len(events) == 1
        assert isinstance(events[0], Frame)
        assert len(events[0].body) > 70

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    @pytest.mark.parametrize("content_length", [True, False])
    def test_frame_one_byte_over_the_limit_is_refused(
        self, chunk_size: int | None, content_length: bool
    ) -> None:
        data = b"\n" + sized_frame(101, content_length=content_length)
        error = limit_error(data, Limits(max_frame_size=100), chunk_size)
        assert error.offset == 1
        assert "100" in error.reason

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    def test_much_larger_frame_without_content_length_is_refused(
        self, chunk_size: int | None
    ) -> None:
        data = b"SEND\n\n" + b"x" * 1000 + b"\x00"
        error = limit_error(data, Limits(max_frame_size=100), chunk_size)
        assert error.offset == 0

    def test_oversized_frame_after_valid_frames_in_the_same_chunk_is_refused(self) -> None:
        small = b"SEND\n\nok\x00"
        data = small + b"SEND\n\n" + b"x" * 200 + b"\x00"
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=100))
        assert parser.next_event() is None
        parser.receive_data(data)
        assert parser.next_event() == Frame("SEND", {}, b"ok")
        with pytest.raises(LimitExceeded) as caught:
            parser.next_event()
        assert caught.value.offset == len(small)

    def test_content_length_over_the_limit_raises_as_soon_as_the_headers_are_parsed(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=1000))
        with pytest.raises(LimitExceeded) as caught:
            parser.feed(b"\n\nSEND\ncontent-length:1000000000\n\n")
        assert caught.value.offset == 2
        assert "1000" in caught.value.reason

    def test_body_without_content_length_raises_before_its_nul_arrives(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=100))
        assert parser.feed(b"SEND\n\n" + b"x" * 90) == []
        with pytest.raises(LimitExceeded):
            feed(parser, b"x" * 10, 1)

    def test_endless_headers_raise_before_the_blank_line_arrives(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=100))
        assert parser.feed(b"SEND\n") == []
        headers = b"".join(b"h%d:v\n" % i for i in range(100))
        with pytest.raises(LimitExceeded) as caught:
            feed(parser, headers, 6)
        assert caught.value.offset == 0

    def test_limit_is_per_frame_not_per_stream(self) -> None:
        frame = b"SEND\n\n" + b"x" * 80 + b"\x00"
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=100))
        assert len(parser.feed(frame * 50)) == 50

    def test_heart_beats_do_not_count_towards_a_frame(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=10))
        events = parser.feed(b"\n" * 50 + b"\r\n" * 50 + b"SEND\n\nab\x00")
        assert len(events) == 101

    def test_limit_exceeded_is_a_parse_error(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_frame_size=10))
        with pytest.raises(ParseError):
            parser.feed(b"SEND\ncontent-length:20\n\n" + b"x" * 20 + b"\x00")


class TestMaxHeaders:
    @staticmethod
    def with_headers(count: int, *, crlf: bool = False) -> bytes:
        eol = b"\r\n" if crlf else b"\n"
        lines = [b"SEND"] + [b"h:%d" % i for i in range(count)]
        return eol.join(lines) + eol + eol + b"\x00"

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    @pytest.mark.parametrize("crlf", [False, True])
    def test_exactly_max_headers_are_accepted(self, chunk_size: int | None, crlf: bool) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_headers=5))
        [frame] = feed(parser, self.with_headers(5, crlf=crlf), chunk_size)
        assert isinstance(frame, Frame)
        assert frame.get_all("h") == ("0", "1", "2", "3", "4")

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    @pytest.mark.parametrize("crlf", [False, True])
    def test_one_header_over_the_limit_is_refused(self, chunk_size: int | None, crlf: bool) -> None:
        data = b"\r\n" + self.with_headers(6, crlf=crlf)
        error = limit_error(data, Limits(max_headers=5), chunk_size)
        assert error.offset == 2
        assert "5" in error.reason

    def test_too_many_headers_raise_before_the_blank_line_arrives(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_headers=5))
        assert parser.feed(b"SEND\n" + b"h:1\n" * 5) == []
        with pytest.raises(LimitExceeded):
            parser.feed(b"h:1\nh:1\n")

    def test_frame_without_headers_is_accepted_under_the_smallest_limit(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_headers=1))
        assert parser.feed(b"SEND\n\n\x00SEND\na:1\n\n\x00") == [
            Frame("SEND"),
            Frame("SEND", {"a": "1"}),
        ]

    def test_limit_applies_to_each_frame(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_headers=3))
        frames = parser.feed(self.with_headers(3) * 10)
        assert len(frames) == 10


class TestMaxHeaderLine:
    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    @pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
    def test_header_line_of_exactly_the_limit_is_accepted(
        self, chunk_size: int | None, eol: bytes
    ) -> None:
        line = b"h:" + b"v" * 18
        assert len(line) == 20
        data = b"SEND" + eol + line + eol + eol + b"\x00"
        parser = Parser(Version.V1_2, limits=Limits(max_header_line=20))
        assert feed(parser, data, chunk_size) == [Frame("SEND", {"h": "v" * 18})]

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    @pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
    def test_header_line_one_byte_over_the_limit_is_refused(
        self, chunk_size: int | None, eol: bytes
    ) -> None:
        line = b"h:" + b"v" * 19
        data = b"SEND" + eol + b"a:1" + eol + line + eol + eol + b"\x00"
        error = limit_error(data, Limits(max_header_line=20), chunk_size)
        assert error.offset == data.index(line)
        assert "20" in error.reason

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    def test_limit_counts_bytes_not_characters(self, chunk_size: int | None) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_header_line=20))
        line = "h:" + "é" * 9
        assert len(line.encode()) == 20
        data = b"SEND\n" + line.encode() + b"\n\n\x00"
        assert feed(parser, data, chunk_size) == [Frame("SEND", {"h": "é" * 9})]
        longer = b"SEND\n" + (line + "x").encode() + b"\n\n\x00"
        limit_error(longer, Limits(max_header_line=20), chunk_size)

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
    def test_command_line_counts_as_a_header_line(self, chunk_size: int | None) -> None:
        error = limit_error(b"DISCONNECT\n\n\x00", Limits(max_header_line=5), chunk_size)
        assert error.offset == 0

    def test_endless_header_line_raises_once_longer_than_the_limit(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_header_line=100))
        assert parser.feed(b"SEND\nh:" + b"v" * 98) == []
        with pytest.raises(LimitExceeded) as caught:
            parser.feed(b"v")
        assert caught.value.offset == 5

    def test_endless_command_line_raises_once_longer_than_the_limit(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_header_line=100))
        assert parser.feed(b"\n" + b"S" * 100) == [HeartBeat()]
        with pytest.raises(LimitExceeded) as caught:
            parser.feed(b"S")
        assert caught.value.offset == 1

    def test_long_body_lines_are_not_header_lines(self) -> None:
        parser = Parser(Version.V1_2, limits=Limits(max_header_line=10))
        body = b"x" * 1000
        assert parser.feed(b"SEND\n\n" + body + b"\x00") == [Frame("SEND", {}, body)]

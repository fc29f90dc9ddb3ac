"""Which error a malformed header block raises, whatever the chunking (issue #16).

The parser reports the problem that the fewest bytes of the stream prove (see the
Errors section of :class:`~stomp_frame.Parser`). Each case below is fed whole, one byte
at a time, and cut in two at every point; all must raise exactly the same error (type,
reason, offset). Before the fix, each case raised one error fed whole and another fed
in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from stomp_frame import Frame, LimitExceeded, Limits, ParseError, Parser, Version


@dataclass(frozen=True)
class Case:
    """A malformed stream and the one error it must raise."""

    data: bytes
    version: Version
    error: type[ParseError]
    reason: str
    offset: int
    limits: Limits = field(default_factory=Limits)
    handshake: bool = False


def chunkings(data: bytes) -> list[list[bytes]]:
    """*data* whole, a byte at a time, and cut in two at every point."""
    cuts = [[data[:cut], data[cut:]] for cut in range(1, len(data))]
    return [[data], [data[i : i + 1] for i in range(len(data))], *cuts]


def feed_all(parser: Parser, chunks: list[bytes]) -> None:
    for chunk in chunks:
        parser.feed(chunk)


def raised(case: Case, chunks: list[bytes]) -> tuple[type[ParseError], str, int]:
    parser = Parser(case.version, limits=case.limits, handshake=case.handshake)
    with pytest.raises(ParseError) as caught:
        feed_all(parser, chunks)
    return type(caught.value), caught.value.reason, caught.value.offset


CASES = {
    # The NUL at 0 is proved by byte 0; the bad UTF-8 at 5 only by the LF after it.
    "nul-before-bad-utf8": Case(
        b"\x00E\na:\xc3\n\n\x00",
        Version.V1_2,
        ParseError,
        "a frame ends (NUL) before its headers are complete",
        0,
    ),
    # Byte 1 already makes the command line longer than 1 byte; the NUL comes after.
    "long-line-before-nul": Case(
        b"\x01\x01\x00",
        Version.V1_0,
        LimitExceeded,
        "a header line is longer than 1 bytes",
        0,
        Limits(max_header_line=1),
    ),
    # An unfinished block: whole, it is checked as chunked feeding checks it.
    "long-command-line-unfinished": Case(
        b"ERROR\nf",
        Version.V1_1,
        LimitExceeded,
        "a header line is longer than 2 bytes",
        0,
        Limits(max_header_line=2),
    ),
    # "END" is over the limit at its third byte, before its LF shows it is unknown.
    "long-line-before-unknown-command": Case(
        b"END\ncontnt-length:\n\n\x00",
        Version.V1_2,
        LimitExceeded,
        "a header line is longer than 2 bytes",
        0,
        Limits(max_header_line=2),
    ),
    # The line at 5 is over 8 bytes at byte 13, before its LF shows the bad UTF-8 at 10.
    "long-line-before-bad-utf8": Case(
        b"SEND\nciont\xadent-leng4th:5-leng4th:5\n\nab\x00",
        Version.V1_1,
        LimitExceeded,
        "a header line is longer than 8 bytes",
        5,
        Limits(max_frame_size=37, max_headers=5, max_header_line=8),
    ),
    # Byte 20 is past the frame limit; the third header line ends at byte 34.
    "frame-size-before-header-count": Case(
        b"SEND\ncontent-length:2\ncontent-len2\ncontent-length:1\n\nab\x00",
        Version.V1_0,
        LimitExceeded,
        "a frame is larger than 20 bytes",
        0,
        Limits(max_frame_size=20, max_headers=1, max_header_line=33),
        handshake=True,
    ),
    # The first header line is too long at byte 11, long before a third header.
    "long-line-before-header-count": Case(
        b"SEND\ncontent-length:2\ncontent-len2\ncontent-length:1\n\nab\x00",
        Version.V1_0,
        LimitExceeded,
        "a header line is longer than 6 bytes",
        5,
        Limits(max_frame_size=136, max_headers=2, max_header_line=6),
        handshake=True,
    ),
    # The NUL at 8 comes before the LF that ends the line with the bad byte at 7.
    "nul-before-bad-utf8-in-same-line": Case(
        b"SEND\na:\xff\x00\n\n\x00",
        Version.V1_2,
        ParseError,
        "a frame ends (NUL) before its headers are complete",
        8,
    ),
    # Byte 9 is past the frame limit; the malformed content-length ends at byte 25.
    "frame-size-before-malformed-length": Case(
        b"MESSAGE\ncontent-length:%d\n\n",
        Version.V1_1,
        LimitExceeded,
        "a frame is larger than 9 bytes",
        0,
        Limits(max_frame_size=9, max_headers=1, max_header_line=28),
        handshake=True,
    ),
    # The header block alone is over the limit: not the content-length's reason.
    "frame-size-of-the-header-block": Case(
        b"SEND\ncontent-length:0\n\n\x00",
        Version.V1_2,
        LimitExceeded,
        "a frame is larger than 10 bytes",
        0,
        Limits(max_frame_size=10),
    ),
    # The empty name is shown by the LF at 7; the next line is too long only at 14.
    "empty-name-before-long-line": Case(
        b"SEND\n:x\nabcdefghij:1\n\n\x00",
        Version.V1_2,
        ParseError,
        "a header has an empty name",
        5,
        Limits(max_header_line=6),
    ),
    # Line by line: the line without a colon comes before the undefined escape.
    "no-colon-before-bad-escape": Case(
        b"SEND\nbogus\na:\\t\n\n\x00",
        Version.V1_2,
        ParseError,
        "a header line has no colon: 'bogus'",
        5,
    ),
    # An unknown command is raised once its line is complete, not at the block's end.
    "unknown-command-unfinished": Case(
        b"FOO\na:1\n",
        Version.V1_2,
        ParseError,
        "unknown command 'FOO'",
        0,
    ),
    # The fourth line is one header too many (LF at 16); the NUL comes after it.
    "header-count-before-nul": Case(
        b"SEND\na:1\nb:2\nc:3\n\x00",
        Version.V1_2,
        LimitExceeded,
        "a frame has more than 2 headers",
        0,
        Limits(max_headers=2),
    ),
    # Only the first content-length counts: a later malformed one is not an error,
    # the frame-size check of the first one is.
    "first-content-length-decides": Case(
        b"SEND\ncontent-length:90\ncontent-length:x\n\n",
        Version.V1_2,
        LimitExceeded,
        "a frame is larger than 50 bytes (content-length 90)",
        0,
        Limits(max_frame_size=50),
    ),
    # A CR at the limit is not counted only if an LF follows it.
    "cr-at-the-limit-then-more": Case(
        b"SEND\r\ndestination:/q\rx\r\n\r\n\x00",
        Version.V1_2,
        LimitExceeded,
        "a header line is longer than 14 bytes",
        6,
        Limits(max_header_line=14),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_same_error_whatever_the_chunking(case: Case) -> None:
    expected = (case.error, case.reason, case.offset)
    for chunks in chunkings(case.data):
        assert raised(case, chunks) == expected, chunks


def test_a_cr_before_the_lf_is_not_counted_in_1_2() -> None:
    # Each line is exactly as long as the limit once its CR LF is taken away.
    data = b"SEND\r\ndestination:/q\r\n\r\n\x00"
    for chunks in chunkings(data):
        parser = Parser(Version.V1_2, limits=Limits(max_header_line=14))
        events = [event for chunk in chunks for event in parser.feed(chunk)]
        assert events == [Frame("SEND", {"destination": "/q"})], chunks

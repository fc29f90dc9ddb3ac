"""Fuzzers of stomp-frame's parser and serializer, with Hypothesis (``nox -s fuzz``).

Parser: random bytes, STOMP-like token soup, and the seed corpus mutated (bytes flipped,
inserted, deleted, ranges duplicated, seeds spliced), read under every version and in
handshake mode, with the default or tiny limits. The parser may only return frames and
heart-beats or raise :class:`~stomp_frame.ParseError` (or :class:`~stomp_frame.LimitExceeded`),
may not hang, and must give the same events, the same error (type, reason, offset) and the
same count of buffered bytes whether the input is fed whole or in random chunks.

Serializer: random frames (every command, any text with escapable, control, non-ASCII
and surrogate characters, right, wrong and repeated content-lengths, bodies with NUL),
and frames the parser read from the mutated corpus. For every version, serialize either
raises :class:`~stomp_frame.InvalidFrame` or writes bytes that parse back, whole and in
chunks, to exactly that frame.

Seeds: the files of ``tests/fuzz/corpus`` and every bytes literal holding a line feed in
``packages/stomp-frame/tests``.
"""

from __future__ import annotations

import ast
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stomp_frame import (
    COMMANDS,
    UNESCAPED_COMMANDS,
    Frame,
    HeartBeat,
    InvalidFrame,
    Limits,
    ParseError,
    Parser,
    Version,
    serialize,
)

HERE = Path(__file__).parent
FRAME_TESTS = HERE.parent.parent / "packages" / "stomp-frame" / "tests"
HANG_SECONDS = 20
"""An example running longer than this is a hang (inputs are a few KiB at most)."""

Event = Frame | HeartBeat
Outcome = tuple[list[Event], list[dict[str, str]], tuple[type[ParseError], str, int] | None, int]
"""Events, their first-wins header maps, the error (type, reason, offset) if any, and
how many bytes are left buffered (-1 after an error)."""


def _test_literals() -> list[bytes]:
    found: set[bytes] = set()
    for path in sorted(FRAME_TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, bytes) and b"\n" in value and len(value) <= 4096:
                found.add(value)
    return sorted(found)


CORPUS = sorted(path.read_bytes() for path in (HERE / "corpus").glob("*.stomp"))
SEEDS = CORPUS + _test_literals()


class Hang(Exception):
    """An example ran longer than HANG_SECONDS."""


@contextmanager
def no_hang() -> Iterator[None]:
    """Raise Hang in the running code if the block takes longer than HANG_SECONDS."""

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no result after {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- strategies ------------------------------------------------------------------------------

TOKENS = [
    *(command.encode() for command in sorted(COMMANDS)),
    *[b"\n", b"\r\n", b"\r", b"\n\n", b":", b"\\", b"\\c", b"\\n", b"\\r", b"\\\\", b"\\t"],
    *[b"\x00", b"content-length:", b"content-length:0", b"content-length:3", b"\xff", b"\xc3"],
    *[b"\xc3\xa9", b"\xed\xa0\x80", b"a", b"id:1", b"version:1.2", b"0" * 20, b"9" * 30],
]

token_soup = st.lists(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=4), max_size=80).map(
    b"".join
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed (or two spliced) with a few bytes flipped, inserted, deleted or duplicated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    if draw(st.integers(0, 4)) == 0:
        other = draw(st.sampled_from(SEEDS))
        data[draw(st.integers(0, len(data))) :] = other[draw(st.integers(0, len(other))) :]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "token"]))
        at = draw(st.integers(0, len(data)))
        byte = draw(st.sampled_from([0, 10, 13, 58, 92, 0x80, 0xFF]) | st.integers(0, 255))
        if kind == "insert":
            data.insert(at, byte)
        elif kind == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif kind == "duplicate":
            end = draw(st.integers(at, min(len(data), at + 64)))
            data[at:at] = data[at:end]
        elif at < len(data):
            if kind == "flip":
                data[at] = byte if byte != data[at] else byte ^ 1
            else:
                del data[at]
    return bytes(data)


fuzz_bytes = st.one_of(mutated(), mutated(), token_soup, st.binary(max_size=300))

tiny_limits = st.builds(
    Limits,
    max_frame_size=st.integers(1, 300),
    max_headers=st.integers(1, 6),
    max_header_line=st.integers(1, 60),
)


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """*data* cut at random points (one byte at a time, sometimes)."""
    if len(data) < 2 or draw(st.integers(0, 9)) == 0:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = draw(st.lists(st.integers(1, len(data) - 1), min_size=1, max_size=12, unique=True))
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


SPECIAL = ":\\\n\r\x00\x01\t é✓\U0001f600c\ud800\udcc3"
header_text = st.text(
    st.sampled_from(SPECIAL) | st.characters(codec="utf-8") | st.characters(), max_size=10
)


@st.composite
def random_frames(draw: st.DrawFn) -> Frame:
    """Any frame Frame() accepts: any command, any text, any content-length, any body."""
    names = st.sampled_from(["content-length", "a", "destination"]) | header_text.filter(bool)
    headers = draw(st.lists(st.tuples(names, header_text), max_size=6))
    body = draw(st.sampled_from([b"", b"x", b"a\x00b"]) | st.binary(max_size=40))
    lengths = st.sampled_from([str(len(body)), str(len(body) + 1), "0", "", "-1", " 1", "01"])
    for _ in range(draw(st.integers(0, 2))):
        headers.insert(draw(st.integers(0, len(headers))), ("content-length", draw(lengths)))
    command = draw(st.sampled_from(sorted(COMMANDS)))
    if draw(st.booleans()):
        return Frame(command, dict(headers), body)  # the path of frames built from a dict
    return Frame(command, headers, body)


@st.composite
def parsed_frames(draw: st.DrawFn) -> Frame:
    """A frame the parser read from a mutated seed, under some version (or a random frame)."""
    data = draw(mutated())
    version = draw(st.sampled_from(list(Version)))
    frames = [e for e in read([data], version, handshake=False)[0] if isinstance(e, Frame)]
    return draw(st.sampled_from(frames)) if frames else draw(random_frames())


# -- the harness -----------------------------------------------------------------------------


def read(
    chunks: list[bytes],
    version: Version,
    *,
    handshake: bool,
    limits: Limits | None = None,
    negotiated: Version | None = None,
) -> Outcome:
    """Feed *chunks*, taking the events after each; only ParseError is caught.

    In handshake mode, *negotiated* (if given) is set as the version once the parser has
    returned a CONNECT, STOMP or CONNECTED frame, as a client or server does.
    """
    parser = Parser(version, limits=limits or Limits(), handshake=handshake)
    events: list[Event] = []
    error: ParseError | None = None
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            while (event := parser.next_event()) is not None:
                assert isinstance(event, Frame | HeartBeat), event
                events.append(event)
                if (
                    negotiated is not None
                    and isinstance(event, Frame)
                    and event.command in UNESCAPED_COMMANDS
                ):
                    parser.version = negotiated
                    negotiated = None
    except ParseError as raised:
        error = raised
    if error is not None:
        with pytest.raises(ParseError) as again:
            parser.next_event()
        assert again.value is error, "after a ParseError, the parser raises it again"
    maps = [event.header_dict() for event in events if isinstance(event, Frame)]
    failure = None if error is None else (type(error), error.reason, error.offset)
    # After an error the chunked run has not fed what came after it: no count to compare.
    return events, maps, failure, parser.buffered if error is None else -1


# -- the parser fuzzer -----------------------------------------------------------------------


def fuzz_parser(
    version: Version, handshake: bool, data: st.DataObject, raw: bytes, limits: Limits | None
) -> tuple[list[bytes], Outcome, Outcome]:
    """Read *raw* whole and in random chunks; return the chunks and both outcomes."""
    negotiated = data.draw(st.none() | st.sampled_from(list(Version))) if handshake else None
    chunks = data.draw(chunked(raw))
    with no_hang():
        whole = read([raw], version, handshake=handshake, limits=limits, negotiated=negotiated)
        pieces = read(chunks, version, handshake=handshake, limits=limits, negotiated=negotiated)
    return chunks, whole, pieces


@pytest.mark.parametrize("handshake", [False, True], ids=["plain", "handshake"])
@pytest.mark.parametrize("version", list(Version), ids=str)
@given(data=st.data(), raw=fuzz_bytes, limits=st.none() | tiny_limits)
def test_parser_raises_only_parse_error_and_ignores_chunking(
    version: Version, handshake: bool, data: st.DataObject, raw: bytes, limits: Limits | None
) -> None:
    chunks, whole, pieces = fuzz_parser(version, handshake, data, raw, limits)
    # The same events, and an error in both runs or in neither.
    assert (pieces[:2], pieces[2] is None, pieces[3]) == (whole[:2], whole[2] is None, whole[3]), (
        f"fed whole: {whole}\nfed in chunks {chunks!r}: {pieces}"
    )


@pytest.mark.parametrize("handshake", [False, True], ids=["plain", "handshake"])
@pytest.mark.parametrize("version", list(Version), ids=str)
@given(data=st.data(), raw=fuzz_bytes, limits=st.none() | tiny_limits)
def test_parser_error_ignores_chunking(
    version: Version, handshake: bool, data: st.DataObject, raw: bytes, limits: Limits | None
) -> None:
    chunks, whole, pieces = fuzz_parser(version, handshake, data, raw, limits)
    # The same error: type, reason and offset.
    assert pieces == whole, f"fed whole: {whole}\nfed in chunks {chunks!r}: {pieces}"


# -- the serializer fuzzer -------------------------------------------------------------------


@pytest.mark.parametrize("version", list(Version), ids=str)
@given(data=st.data(), frame=random_frames() | parsed_frames())
def test_serialize_refuses_or_round_trips(
    version: Version, data: st.DataObject, frame: Frame
) -> None:
    with no_hang():
        try:
            wire = serialize(frame, version)
        except InvalidFrame:
            return
        assert isinstance(wire, bytes)
        expected: Outcome = ([frame], [frame.header_dict()], None, 0)
        assert read([wire], version, handshake=False) == expected, wire
        assert read(data.draw(chunked(wire)), version, handshake=False) == expected, wire
        if version is Version.V1_2:  # the handshake grammar is 1.2's, every command known
            assert read([wire], version, handshake=True) == expected, wire

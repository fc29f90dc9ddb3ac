"""Properties: round trips under any chunking; only ParseError from arbitrary or damaged bytes.

The fuzzing tests at the end run a short, bounded search in a normal test run
(``STOMP_FUZZ_EXAMPLES``, default 50 examples each); a fuzzing run sets it high, for example
``STOMP_FUZZ_EXAMPLES=100000 pytest packages/stomp-frame/tests -k fuzz``. Their inputs start
from a seed corpus of the tests' own streams, mutated, cut in arbitrary chunks and read under
arbitrary limits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stomp_frame import (
    BODY_COMMANDS,
    COMMANDS,
    HEARTBEAT,
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
from stomp_frame._frame import _LINE, _NAME
from stomp_frame._serializer import _slow as serialize_generally

Event = Frame | HeartBeat
ALL_VERSIONS = list(Version)
SPECIAL = ":\\\n\r\x01\t é✓\U0001f600c"
"""Characters that need escaping, and characters that look like parts of escapes."""

properties = settings(deadline=timedelta(seconds=2))


# -- strategies ------------------------------------------------------------------------------


def header_text(version: Version, *, name: bool, raw: bool) -> st.SearchStrategy[str]:
    """Header names or values the version can carry (``raw``: written without escaping)."""
    forbidden = {"\x00"}
    if raw:
        forbidden |= {"\n", "\r"}
        if name:
            forbidden.add(":")
    elif version is Version.V1_1:
        forbidden.add("\r")
    alphabet = st.one_of(
        st.sampled_from([c for c in SPECIAL if c not in forbidden]),
        st.characters(codec="utf-8", exclude_characters="".join(forbidden)),
    )
    return st.text(alphabet, min_size=1 if name else 0, max_size=12)


@st.composite
def frames(draw: st.DrawFn, version: Version) -> Frame:
    """Any frame that *version* can write: every command, escapable text, repeats, NUL bodies."""
    command = draw(st.sampled_from(sorted(version.commands)))
    raw = version is Version.V1_0 or command in UNESCAPED_COMMANDS
    names = draw(
        st.lists(
            header_text(version, name=True, raw=raw).filter(lambda n: n != "content-length"),
            min_size=1,
            max_size=4,
        )
    )
    values = header_text(version, name=False, raw=raw)
    headers = draw(st.lists(st.tuples(st.sampled_from(names), values), max_size=6))
    may_have_body = version is Version.V1_0 or command in BODY_COMMANDS
    body = draw(st.binary(max_size=40)) if may_have_body else b""
    if b"\x00" in body or draw(st.booleans()):
        at = draw(st.integers(0, len(headers)))
        headers.insert(at, ("content-length", str(len(body))))
    return Frame(command, headers, body)


@st.composite
def streams(draw: st.DrawFn, version: Version) -> tuple[bytes, list[Event]]:
    """Serialized frames with heart-beats between them (CRLF too in 1.2), and their events."""
    events: list[Event] = draw(
        st.lists(st.one_of(frames(version), st.just(HEARTBEAT)), min_size=1, max_size=6)
    )
    parts = [
        serialize(event, version)
        if isinstance(event, Frame)
        else draw(st.sampled_from([b"\n", b"\r\n"] if version.crlf else [b"\n"]))
        for event in events
    ]
    return b"".join(parts), events


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """*data* split at arbitrary points: whole, one byte at a time, or anywhere in between."""
    mode = draw(st.sampled_from(["whole", "bytes", "anywhere"]))
    if mode == "whole":
        return [data]
    if mode == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=len(data) + 1))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


STOMPISH_PIECES = [
    b"SEND",
    b"MESSAGE",
    b"CONNECTED",
    b"ACK",
    b"\n",
    b"\r\n",
    b"\r",
    b":",
    b"\\",
    b"\\c",
    b"\\r",
    b"\x00",
    b"content-length:",
    b"3",
    b"-1",
    b"\xff",
    b"\xc3\xa9",
    b"a",
    b"id",
]

stompish_bytes = st.lists(
    st.one_of(st.sampled_from(STOMPISH_PIECES), st.binary(max_size=3)), max_size=60
).map(b"".join)

FRAME_LIKE: list[st.SearchStrategy[bytes]] = [st.nothing()]
"""frame_like_streams (defined further down), for the tests above it."""

small_limits = st.builds(
    Limits,
    max_frame_size=st.integers(1, 200),
    max_headers=st.integers(1, 5),
    max_header_line=st.integers(1, 40),
)


# -- helpers ---------------------------------------------------------------------------------


def parse_chunks(
    chunks: list[bytes], version: Version, limits: Limits | None = None
) -> tuple[list[Event], ParseError | None]:
    """Feed the chunks; return the events and the ParseError that ended them, if any.

    Only ParseError is caught: any other exception fails the test that called this.
    """
    parser = Parser(version) if limits is None else Parser(version, limits=limits)
    events: list[Event] = []
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            while (event := parser.next_event()) is not None:
                events.append(event)
    except ParseError as error:
        return events, error
    return events, None


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data())
def test_serialize_then_parse_round_trips_under_any_chunking(
    version: Version, data: st.DataObject
) -> None:
    stream, expected = data.draw(streams(version))
    chunks = data.draw(chunkings(stream))
    events, error = parse_chunks(chunks, version)
    assert error is None
    assert events == expected


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data())
def test_round_trip_one_byte_at_a_time(version: Version, data: st.DataObject) -> None:
    stream, expected = data.draw(streams(version))
    events, error = parse_chunks([bytes([b]) for b in stream], version)
    assert error is None
    assert events == expected


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data())
def test_round_trip_with_receive_data_of_every_chunk_before_taking_events(
    version: Version, data: st.DataObject
) -> None:
    stream, expected = data.draw(streams(version))
    parser = Parser(version)
    for chunk in data.draw(chunkings(stream)):
        parser.receive_data(chunk)
    assert list(parser.events()) == expected
    assert parser.buffered == 0


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data())
def test_serialized_frame_size_is_within_a_limit_of_that_size(
    version: Version, data: st.DataObject
) -> None:
    frame = data.draw(frames(version))
    wire = serialize(frame, version)
    lines = wire.split(b"\n\n")[0].split(b"\n")
    longest_line = max(len(line.rstrip(b"\r") if version.crlf else line) for line in lines)
    limits = Limits(
        max_frame_size=len(wire),
        max_headers=max(len(frame.headers), 1),
        max_header_line=longest_line,
    )
    events, error = parse_chunks(data.draw(chunkings(wire)), version, limits)
    assert error is None
    assert events == [frame]


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(
    frame=st.builds(
        Frame,
        st.sampled_from(sorted(COMMANDS)),
        st.lists(
            st.tuples(
                st.text(st.sampled_from(SPECIAL + "\x00a"), min_size=1, max_size=6),
                st.text(st.sampled_from(SPECIAL + "\x00a"), max_size=6),
            ),
            max_size=4,
        ),
        st.binary(max_size=10),
    )
)
def test_serialize_refuses_rather_than_corrupts(version: Version, frame: Frame) -> None:
    try:
        wire = serialize(frame, version)
    except InvalidFrame:
        return
    events, error = parse_chunks([wire], version)
    assert error is None, f"serialize wrote {wire!r}, which does not parse: {error}"
    assert events == [frame]


@properties
@given(
    command=st.sampled_from(sorted(COMMANDS)),
    pairs=st.lists(
        st.lists(st.text(st.sampled_from(SPECIAL + "\x00a"), max_size=3), max_size=3).map(tuple),
        max_size=4,
    ),
)
def test_frame_accepts_only_str_pairs_and_then_behaves(
    command: str, pairs: list[tuple[str, ...]]
) -> None:
    try:
        frame = Frame(command, pairs)  # type: ignore[arg-type]
    except InvalidFrame:
        assert any(len(pair) != 2 or not pair[0] for pair in pairs)
        return
    assert all(len(pair) == 2 and pair[0] for pair in pairs)
    assert frame.headers == tuple(pairs)
    for name, value in pairs:
        assert frame.get_all(name).count(value) >= 1
        assert frame.has(name)
    assert frame.header_dict() == {name: frame.get(name, "") for name, _ in pairs}
    for version in Version:
        with contextlib.suppress(InvalidFrame):
            serialize(frame, version)


# -- robustness ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data(), raw=st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_error(
    version: Version, data: st.DataObject, raw: bytes
) -> None:
    parse_chunks(data.draw(chunkings(raw)), version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data(), raw=stompish_bytes)
def test_stomp_like_bytes_raise_only_parse_error(
    version: Version, data: st.DataObject, raw: bytes
) -> None:
    parse_chunks(data.draw(chunkings(raw)), version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data(), raw=stompish_bytes, limits=small_limits)
def test_stomp_like_bytes_under_small_limits_raise_only_parse_error(
    version: Version, data: st.DataObject, raw: bytes, limits: Limits
) -> None:
    parse_chunks(data.draw(chunkings(raw)), version, limits)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data(), raw=stompish_bytes)
def test_chunking_does_not_change_the_events_before_an_error(
    version: Version, data: st.DataObject, raw: bytes
) -> None:
    whole_events, whole_error = parse_chunks([raw], version)
    events, error = parse_chunks(data.draw(chunkings(raw)), version)
    assert events == whole_events
    assert (error is None) == (whole_error is None)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@settings(deadline=timedelta(seconds=2), max_examples=300)
@given(data=st.data(), raw=stompish_bytes | st.deferred(lambda: FRAME_LIKE[0]), limits=small_limits)
def test_chunking_does_not_change_whether_a_limit_is_exceeded(
    version: Version, data: st.DataObject, raw: bytes, limits: Limits
) -> None:
    whole_events, whole_error = parse_chunks([raw], version, limits)
    events, error = parse_chunks(data.draw(chunkings(raw)), version, limits)
    assert events == whole_events
    assert (error is None) == (whole_error is None), (error, whole_error)


@st.composite
def mutated(draw: st.DrawFn, stream: bytes) -> bytes:
    """*stream* with a few bytes flipped, inserted or deleted."""
    damaged = bytearray(stream)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        at = draw(st.integers(0, len(damaged)))
        byte = draw(st.sampled_from([0, 10, 13, 58, 92, 0xFF, 0x80]) | st.integers(0, 255))
        if kind == "insert":
            damaged.insert(at, byte)
        elif at < len(damaged):
            if kind == "flip":
                damaged[at] = byte if byte != damaged[at] else byte ^ 1
            else:
                del damaged[at]
    return bytes(damaged)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data())
def test_damaged_valid_streams_raise_only_parse_error(
    version: Version, data: st.DataObject
) -> None:
    stream, _ = data.draw(streams(version))
    damaged = data.draw(mutated(stream))
    parse_chunks(data.draw(chunkings(damaged)), version)
    limits = data.draw(small_limits)
    parse_chunks(data.draw(chunkings(damaged)), version, limits)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data())
def test_damaged_stream_after_a_version_switch_raises_only_parse_error(
    version: Version, data: st.DataObject
) -> None:
    connected = serialize(Frame("CONNECTED", {"version": version.value}), Version.V1_0)
    stream, _ = data.draw(streams(version))
    damaged = data.draw(mutated(connected + stream))
    parser = Parser()
    try:
        for chunk in data.draw(chunkings(damaged)):
            parser.receive_data(chunk)
            for event in parser.events():
                if isinstance(event, Frame) and event.command == "CONNECTED":
                    parser.version = version
    except ParseError:
        pass


# -- the fast paths agree with the general ones ------------------------------------------------
#
# Parser.next_event reads a whole, plain frame itself and leaves everything else to the
# general path (Parser._next_event); serialize does the same with _slow. Whatever the
# input, the fast path must give exactly what the general path gives: the same events, the
# same error (type, reason and offset), the same bytes or the same refusal.


GOOD_PIECES = [b"a", b"b", b"1", b"id", b"\\c", b"\\n", b"\\\\", b"\\r", b"\xc3\xa9", b"\xc2\x80"]
BAD_PIECES = [b":", b"\\t", b"\\", b"\r", b"\x00", b"\xe9", b"\xfb", b"\xfc", b"\xfe", b"\xff"]
DEFECTS = ["none"] * 8 + ["piece", "command", "colon", "length", "crlf", "lead", "body"]


@st.composite
def frame_like(draw: st.DrawFn) -> bytes:
    """Bytes shaped like a frame: mostly valid, or broken in one of many small ways."""
    defect = draw(st.sampled_from(DEFECTS))
    pieces = st.sampled_from(GOOD_PIECES)
    if defect == "piece":
        pieces = pieces | st.sampled_from(BAD_PIECES)
    text = st.lists(pieces, max_size=3).map(b"".join)
    commands = [b"MESSAGE", b"SEND", b"ERROR", b"ACK", b"CONNECTED", b"STOMP", b"CONNECT"]
    if defect == "command":
        commands = [b"FOO", b"", b"MESS\\cAGE", b"SEND:x", b"send"]
    command = draw(st.sampled_from(commands))
    colons = [b"", b"::"] if defect == "colon" else [b":"]
    names = text | st.just(b"") if defect == "colon" else text.filter(bool)
    lines = [
        draw(names) + draw(st.sampled_from(colons)) + draw(text)
        for _ in range(draw(st.integers(0 if defect == "none" else 1, 4)))
    ]
    repeat_a_name = draw(st.booleans())
    if lines and repeat_a_name:
        lines.append(lines[0].partition(b":")[0] + b":other")
    body = draw(st.sampled_from([b"", b"", b"ab", b"a\x00b"]) | st.binary(max_size=4))
    if command not in (b"MESSAGE", b"SEND", b"ERROR") and defect != "body":
        body = b""
    length = draw(st.sampled_from([None, len(body)]))
    content_length = b"%d"
    if defect == "length":
        length = draw(st.sampled_from([len(body) - 1, len(body) + 1, -1, len(body)]))
        content_length = draw(
            st.sampled_from([b"0%d", b" %d", b"%d0000000000", b"%d", b"0" * 20 + b"%d"])
            | st.sampled_from([b"9" * 20 + b"%d", b"9" * 5000 + b"%d", b"0" * 5000 + b"%d"])
        )
    if length is not None:
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, b"content-length:" + content_length % length)
    eol = b"\r\n" if defect == "crlf" else b"\n"
    lead = draw(st.sampled_from([b"\r\n", b"\r", b"\n\r"])) if defect == "lead" else b""
    return lead + command + eol + b"".join(line + eol for line in lines) + eol + body + b"\x00"


frame_like_streams = st.lists(
    st.one_of(frame_like(), frame_like(), st.sampled_from([b"\n", b"\r\n"])), min_size=1, max_size=5
).map(b"".join)
FRAME_LIKE[0] = frame_like_streams


def parse_chunks_generally(
    chunks: list[bytes], version: Version, limits: Limits | None = None
) -> tuple[list[Event], ParseError | None]:
    """As parse_chunks, every event read by the parser's general path (no fast path)."""
    parser = Parser(version) if limits is None else Parser(version, limits=limits)
    events: list[Event] = []
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            while (event := parser._next_event()) is not None:
                events.append(event)
    except ParseError as error:
        return events, error
    return events, None


def assert_same_outcome(
    fast: tuple[list[Event], ParseError | None], general: tuple[list[Event], ParseError | None]
) -> None:
    assert fast[0] == general[0]
    # Frames compare by command, headers and body: compare the first-wins index too.
    assert [e.header_dict() for e in fast[0] if isinstance(e, Frame)] == [
        e.header_dict() for e in general[0] if isinstance(e, Frame)
    ]
    fast_error, general_error = fast[1], general[1]
    if fast_error is None or general_error is None:
        assert fast_error is general_error
    else:
        assert (type(fast_error), fast_error.reason, fast_error.offset) == (
            type(general_error),
            general_error.reason,
            general_error.offset,
        )


@pytest.mark.parametrize("version", ALL_VERSIONS)
@settings(deadline=timedelta(seconds=2), max_examples=400)
@given(data=st.data(), raw=frame_like_streams | stompish_bytes)
def test_fast_and_general_parsing_agree_on_frame_like_bytes(
    version: Version, data: st.DataObject, raw: bytes
) -> None:
    chunks = data.draw(chunkings(raw))
    limits = data.draw(st.none() | small_limits)
    assert_same_outcome(
        parse_chunks(chunks, version, limits), parse_chunks_generally(chunks, version, limits)
    )


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(data=st.data())
def test_fast_and_general_parsing_agree_on_valid_and_damaged_streams(
    version: Version, data: st.DataObject
) -> None:
    stream, _ = data.draw(streams(version))
    if data.draw(st.booleans()):
        stream = data.draw(mutated(stream))
    chunks = data.draw(chunkings(stream))
    limits = data.draw(st.none() | small_limits)
    assert_same_outcome(
        parse_chunks(chunks, version, limits), parse_chunks_generally(chunks, version, limits)
    )


# Mostly ASCII: the fast path of serialize takes only frames whose headers are all ASCII.
SERIALIZER_TEXT = st.text(
    st.sampled_from("ab:\\\n\r\x00\x01c") | st.sampled_from("\x80\x81\ud800\xe9"),
    max_size=5,
).filter(lambda text: len(text.encode("utf-8", "surrogatepass")) - len(text) < 2)


@st.composite
def frames_to_write(draw: st.DrawFn) -> Frame:
    """Frames of every command with tricky headers, right or wrong content-lengths, bodies."""
    headers = draw(st.lists(st.tuples(SERIALIZER_TEXT.filter(bool), SERIALIZER_TEXT), max_size=4))
    body = draw(st.sampled_from([b"", b"x", b"a\x00b"]) | st.binary(max_size=4))
    length = draw(st.sampled_from([None, len(body), len(body) + 1]))
    if length is not None:
        headers.insert(draw(st.integers(0, len(headers))), ("content-length", str(length)))
    return Frame(draw(st.sampled_from(sorted(COMMANDS))), headers, body)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@settings(deadline=timedelta(seconds=2), max_examples=400)
@given(frame=frames_to_write() | frames(Version.V1_2) | frames(Version.V1_1))
def test_fast_and_general_serializing_agree(version: Version, frame: Frame) -> None:
    def outcome(write: Callable[[Frame, Version], bytes]) -> bytes | str:
        try:
            return write(frame, version)
        except InvalidFrame as refused:
            return str(refused)

    assert outcome(serialize) == outcome(serialize_generally)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@properties
@given(frame=frames_to_write() | frames(Version.V1_2) | frames(Version.V1_0))
def test_a_frame_built_from_a_dict_is_the_frame_built_from_its_pairs(
    version: Version, frame: Frame
) -> None:
    # A dict holds no repeated names, and its frame makes its pairs only when asked:
    # serialize it before anything asks, so that the serializer sees it unmade.
    pairs = tuple(frame.header_dict().items())
    mapped = Frame(frame.command, dict(pairs), frame.body)
    listed = Frame(frame.command, pairs, frame.body)

    def outcome(write: Callable[[Frame, Version], bytes], which: Frame) -> bytes | str:
        try:
            return write(which, version)
        except InvalidFrame as refused:
            return str(refused)

    written = outcome(serialize, mapped)
    assert written == outcome(serialize, listed) == outcome(serialize_generally, mapped)
    assert mapped == listed
    assert hash(mapped) == hash(listed)
    assert mapped.headers == pairs
    assert mapped.header_dict() == listed.header_dict()


@st.composite
def frames_one_after_another(draw: st.DrawFn) -> list[tuple[Frame, Version]]:
    """A frame twice, a frame with its headers and another command or body, and one whose
    headers join to the same text (two neighbours made one through the separators), in
    any order and versions: the serializer keeps the last header block it wrote."""
    frame = draw(frames_to_write())
    headers = list(frame.headers)
    command = draw(st.sampled_from(sorted(COMMANDS)))
    body = draw(st.sampled_from([b"", b"x", b"a\x00b", frame.body]))
    written = [frame, frame, Frame(command, headers, body)]
    if len(headers) >= 2:
        at = draw(st.integers(0, len(headers) - 2))
        (name, value), (next_name, next_value) = headers[at : at + 2]
        if draw(st.booleans()):
            merged = (name, f"{value}{_LINE}{next_name}{_NAME}{next_value}")
        else:
            merged = (f"{name}{_NAME}{value}{_LINE}{next_name}", next_value)
        written.append(Frame(frame.command, [*headers[:at], merged, *headers[at + 2 :]], body))
    versions = st.sampled_from([Version.V1_2, Version.V1_1, Version.V1_0])  # 1.2 first
    return [(each, draw(versions)) for each in draw(st.permutations(written))]


@settings(properties, max_examples=300)
@given(written=frames_one_after_another())
def test_frames_written_one_after_another_are_each_written_as_if_alone(
    written: list[tuple[Frame, Version]],
) -> None:
    def outcome(
        write: Callable[[Frame, Version], bytes], frame: Frame, version: Version
    ) -> bytes | str:
        try:
            return write(frame, version)
        except InvalidFrame as refused:
            return str(refused)

    for frame, version in written:
        assert outcome(serialize, frame, version) == outcome(serialize_generally, frame, version)


# The same agreement on chosen inputs, each a way for a frame to be unusual or wrong, in
# every chunking and under tight limits: examples a random search may take long to find.

TRICKY_STREAMS = [
    b"MESSAGE\ndestination:/q\nmessage-id:a\\cb\\c1\ncontent-length:2\n\nab\x00\n",
    b"SEND\n:x\n\n\x00",
    b"SEND\na:1\n:x\n\n\x00",
    b"SEND\na:1\nb\n\n\x00",
    b"SEND\nb\na:1\n\n\x00",
    b"SEND\na:b:c\nd::\n\n\x00",
    b"SEND\na:\\t\n\n\x00",
    b"SEND\na:b\\\n\n\x00",
    b"SEND\na\\\\:b\n\n\x00",
    b"SEND\na:\\\\c\\n\\r\\\\\\\\\\c\n\n\x00",
    b"SEND\na\\c\\n\\r\\\\:\\\\\\c\n\n\x00",
    b"SEND\na:\\\\\\\n\n\x00",
    b"CONNECTED\nversion:1.2\na:b\\c\\t\n\n\x00",
    b"STOMP\nlogin:a\\cb\n\n\x00",
    b"CONNECT\nlogin:a\\\\b\n\n\x00",
    b"SEND\na:\xfc\xfd\n\n\x00",
    b"SEND\na:\xff\\c\n\n\x00",
    b"SEND\na:\xe9\n\n\x00",
    b"SEND\na:\xc3\xa9\xc2\x80\n\n\x00",
    b"SEND\na:\x00\n\nx\x00",
    b"SEND\na:b\r\n\n\x00",
    b"SEND\r\na:b\r\n\r\nx\x00",
    b"SEND\na:b\n\r\nx\x00SEND\n\ny\x00",
    b"\r\nSEND\n\n\x00\r\n",
    b"\rSEND\n\n\x00",
    b"FOO\n\n\x00",
    b"send\na:b\n\n\x00",
    b"SEND:x\n\n\x00",
    b"ACK\nid:1\n\nab\x00",
    b"ACK\nid:1\ncontent-length:2\n\nab\x00",
    b"ACK\nid:1\ncontent-length:0\n\n\x00",
    b"SEND\ncontent-length:1\n\nab\x00",
    b"SEND\ncontent-length:5\n\nab\x00",
    b"SEND\ncontent-length: 2\n\nab\x00",
    b"SEND\ncontent-length:" + b"9" * 30 + b"\n\n\x00",
    b"SEND\ncontent-length:" + b"9" * 5000 + b"\n\n\x00",
    b"SEND\ncontent-length:" + b"0" * 5000 + b"2\n\nab\x00",
    b"SEND\na:1\na:2\nb:3\n\n\x00",
    b"SEND\ncontent-length:1\ncontent-length:2\n\nab\x00",
    b"SEND\ncontent-length:2\ncontent-length:1\n\nab\x00",
    b"SEND\na:b\n\nbody without nul",
    b"SEND\na:b\n",
    b"MESSAGE\n" + b"".join(b"h%d:v\n" % i for i in range(1200)) + b"\nx\x00",
]


@pytest.mark.parametrize("stream", TRICKY_STREAMS, ids=lambda stream: repr(stream[:40]))
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_fast_and_general_parsing_agree_on_tricky_streams(version: Version, stream: bytes) -> None:
    chunkings_of_it = [[stream], [stream[i : i + 1] for i in range(len(stream))]]
    chunkings_of_it += [[stream[:cut], stream[cut:]] for cut in range(1, min(len(stream), 60))]
    all_limits = [
        None,
        Limits(max_headers=2000),
        Limits(max_frame_size=20),
        Limits(max_headers=1),
        Limits(max_header_line=6),
    ]
    for chunks in chunkings_of_it:
        for limits in all_limits:
            assert_same_outcome(
                parse_chunks(chunks, version, limits),
                parse_chunks_generally(chunks, version, limits),
            )


TRICKY_FRAMES = [
    Frame("SEND", [("a", "x\x00y")]),
    Frame("SEND", [("a\x00", "y")], b"x"),
    Frame("SEND", [("a", "x\ry")]),
    Frame("SEND", [("a", "1"), ("b\r", "2")]),
    Frame("SEND", [("a", "b")], b"x\x00y"),
    Frame("SEND", [("a", "b"), ("content-length", "3")], b"x\x00y"),
    Frame("SEND", [("content-length", "2")], b"x\x00y"),
    Frame("SEND", [("content-length", "3"), ("content-length", "2")], b"x\x00y"),
    Frame("SEND", [("content-length", "0")]),
    Frame("SEND", [("content-length", "1")]),
    Frame("ACK", [("id", "1")], b"x"),
    Frame("ACK", [("id", "1"), ("content-length", "0")]),
    Frame("SEND", [("a:b\\c\nd", "e:f\\g\nh\ri")]),
    Frame("SEND", [("a", "\x01\x80"), ("\x81", "b")]),
    Frame("SEND", [("a", "\ud800")]),
    Frame("SEND", [("caf\xe9", "\u2713")]),
    Frame("CONNECT", [("login", "a:b"), ("passcode", "x\\y")]),
    Frame("CONNECTED", [("a:b", "c")]),
    Frame("STOMP", [("a", "b\nc")]),
    Frame("DISCONNECT"),
    Frame("SEND", [("a", "")], b"x"),
    Frame("MESSAGE", [("a", "1"), ("a", "2")], b""),
]


@pytest.mark.parametrize("frame", TRICKY_FRAMES, ids=repr)
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_fast_and_general_serializing_agree_on_tricky_frames(
    version: Version, frame: Frame
) -> None:
    def outcome(write: Callable[[Frame, Version], bytes]) -> bytes | str:
        try:
            return write(frame, version)
        except InvalidFrame as refused:
            return str(refused)

    assert outcome(serialize) == outcome(serialize_generally)


PARSED_FRAMES = [
    event
    for version in ALL_VERSIONS
    for stream in TRICKY_STREAMS
    for event in parse_chunks([stream], version)[0]
    if isinstance(event, Frame)
]


@pytest.mark.parametrize("frame", PARSED_FRAMES, ids=repr)
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_fast_and_general_serializing_agree_on_parsed_frames(
    version: Version, frame: Frame
) -> None:
    def outcome(write: Callable[[Frame, Version], bytes]) -> bytes | str:
        try:
            return write(frame, version)
        except InvalidFrame as refused:
            return str(refused)

    assert outcome(serialize) == outcome(serialize_generally)


# -- fuzzing ---------------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("STOMP_FUZZ_EXAMPLES", "50"))

fuzzing = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEED_CORPUS = [
    *TRICKY_STREAMS,
    serialize(Frame("SEND", [("a", "x\ry"), ("b:c", "\\")], b"xy"), Version.V1_2),
    b"ERROR\nf",
    b"CONNECTED\r\nversion:1.2\r\n\r\n\x00\r\n",
    b"SEND\ndestination:/q\r\n\n\x00\r\nNACK\nid:1\n\n\x00",
    b"STOMP\naccept-version:1.0,1.1,1.2\nhost:/\n\n\x00",
]


def inputs(version: Version) -> st.SearchStrategy[bytes]:
    """Streams of the seed corpus, valid streams and frame-like bytes, mostly mutated."""
    seeds = st.sampled_from(SEED_CORPUS) | streams(version).map(lambda s: s[0]) | frame_like_streams
    return seeds.flatmap(lambda seed: st.just(seed) | mutated(seed))


@pytest.mark.parametrize("version", ALL_VERSIONS)
@fuzzing
@given(data=st.data())
def test_fuzz_chunking_changes_nothing_and_only_parse_error_is_raised(
    version: Version, data: st.DataObject
) -> None:
    raw = data.draw(inputs(version))
    limits = data.draw(st.none() | small_limits)
    whole_events, whole_error = parse_chunks([raw], version, limits)
    events, error = parse_chunks(data.draw(chunkings(raw)), version, limits)
    assert events == whole_events
    assert (error is None) == (whole_error is None), (error, whole_error)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@fuzzing
@given(data=st.data())
def test_fuzz_what_serialize_writes_reads_back(version: Version, data: st.DataObject) -> None:
    raw = data.draw(inputs(Version.V1_2))
    frames = [event for event in parse_chunks([raw], Version.V1_2)[0] if isinstance(event, Frame)]
    for frame in frames:
        try:
            wire = serialize(frame, version)
        except InvalidFrame:
            continue
        events, error = parse_chunks(data.draw(chunkings(wire)), version)
        assert error is None, (wire, error)
        assert events == [frame]

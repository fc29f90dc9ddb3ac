"""Properties: round trips under any chunking; only ParseError from arbitrary or damaged bytes."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
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
    command = draw(st.sampled_from(sorted(COMMANDS)))
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
    """Serialized frames with LF and CRLF heart-beats between them, and the events they are."""
    events: list[Event] = draw(
        st.lists(st.one_of(frames(version), st.just(HEARTBEAT)), min_size=1, max_size=6)
    )
    parts = [
        serialize(event, version)
        if isinstance(event, Frame)
        else draw(st.sampled_from([b"\n", b"\r\n"]))
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
    longest_line = max(len(line.rstrip(b"\r")) for line in wire.split(b"\n\n")[0].split(b"\n"))
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

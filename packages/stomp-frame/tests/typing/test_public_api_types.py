"""The public API's static types, checked by mypy (nox -s types-stomp-frame) and run by pytest.

``assert_type`` only does something under a type checker; at run time each check is paired
with a plain assertion on the value, so these tests can fail under pytest too. The
``# type: ignore[...]`` lines assert that mypy *rejects* a misuse: mypy --strict reports an
ignore that is not needed, so if the API started to accept the misuse, the check would fail.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from stomp_frame import (
    BODY_COMMANDS,
    COMMANDS,
    HEARTBEAT,
    HEARTBEAT_BYTES,
    REDACTED_HEADERS,
    Frame,
    FrameError,
    HeartBeat,
    InvalidFrame,
    LimitExceeded,
    Limits,
    ParseError,
    Parser,
    Version,
    serialize,
)

if TYPE_CHECKING:
    # mypy targets Python 3.10, where typing has neither; typing_extensions' stubs ship with mypy.
    from typing_extensions import assert_never, assert_type
elif sys.version_info >= (3, 11):
    from typing import assert_never, assert_type
else:

    def assert_type(value: object, expected_type: object, /) -> object:
        return value

    def assert_never(value: object, /) -> object:
        raise AssertionError(f"unexpected value {value!r}")


def test_frame_attributes_and_lookups() -> None:
    frame = Frame("SEND", {"destination": "/queue/a", "x": "1"}, b"body")
    assert assert_type(frame.command, str) == "SEND"
    assert assert_type(frame.headers, tuple[tuple[str, str], ...])[0] == ("destination", "/queue/a")
    assert assert_type(frame.body, bytes) == b"body"
    assert assert_type(Frame("SEND").get("x"), str | None) is None
    assert assert_type(frame.get("missing", "d"), str) == "d"
    assert assert_type(frame.get_all("x"), tuple[str, ...]) == ("1",)
    assert assert_type(frame.has("x"), bool) is True
    assert assert_type(frame.header_dict(), dict[str, str])["x"] == "1"


def test_frame_accepts_mappings_pairs_and_bytes_like_bodies() -> None:
    pairs: list[tuple[str, str]] = [("a", "1"), ("a", "2")]
    assert Frame("MESSAGE", pairs).get_all("a") == ("1", "2")
    assert Frame("SEND", {}, bytearray(b"x")).body == b"x"
    assert Frame("SEND", {}, memoryview(b"x")).body == b"x"


def test_misuses_are_type_errors_and_invalid_frames() -> None:
    with pytest.raises(InvalidFrame):
        Frame("SEND", {}, "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidFrame):
        Frame("SEND", {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(InvalidFrame):
        Limits(max_headers="10")  # type: ignore[arg-type]
    if TYPE_CHECKING:  # checked by mypy only: what these do at run time is not the point here
        serialize(Frame("SEND"), "1.2")  # type: ignore[arg-type]
        Parser().feed("SEND\n\n\x00")  # type: ignore[arg-type]
        Frame("SEND").get("a").upper()  # type: ignore[union-attr]


def test_frames_are_read_only() -> None:
    frame = Frame("SEND")
    with pytest.raises(AttributeError):
        frame.command = "ACK"  # type: ignore[misc]


def test_parser_api() -> None:
    parser = Parser(Version.V1_2, limits=Limits(max_headers=10))
    assert assert_type(parser.next_event(), Frame | HeartBeat | None) is None
    assert assert_type(parser.feed(b"\n"), list[Frame | HeartBeat]) == [HEARTBEAT]
    parser.receive_data(b"SEND\n\n\x00")
    events = assert_type(parser.events(), Iterator[Frame | HeartBeat])
    assert list(events) == [Frame("SEND")]
    assert assert_type(parser.version, Version) is Version.V1_2
    assert assert_type(parser.limits, Limits).max_headers == 10
    assert assert_type(parser.buffered, int) == 0
    parser.receive_data(bytearray(b"\n"))
    parser.receive_data(memoryview(b"\n"))
    parser.reset()
    assert parser.buffered == 0


def test_serializer_api() -> None:
    frame = Frame("SEND", {"destination": "/q"}, b"x")
    assert assert_type(serialize(frame, Version.V1_2), bytes).endswith(b"\x00")
    heart_beat: bytes = HEARTBEAT_BYTES
    assert heart_beat == b"\n"


def test_constants_and_versions() -> None:
    assert "SEND" in assert_type(COMMANDS, frozenset[str])
    assert "SEND" in assert_type(BODY_COMMANDS, frozenset[str])
    assert "passcode" in assert_type(REDACTED_HEADERS, frozenset[str])
    assert isinstance(assert_type(HEARTBEAT, HeartBeat), HeartBeat)
    assert assert_type(Version("1.1"), Version) is Version.V1_1
    assert assert_type(Version.V1_0.escapes_headers, bool) is False
    limits = Limits()
    assert assert_type(limits.max_frame_size, int) > 0


def test_errors_carry_reason_and_offset() -> None:
    parser = Parser()
    with pytest.raises(ParseError) as caught:
        parser.feed(b"BOGUS\n\n\x00")
    error = caught.value
    assert assert_type(error.offset, int) == 0
    assert "BOGUS" in assert_type(error.reason, str)
    assert issubclass(LimitExceeded, ParseError)
    assert issubclass(ParseError, FrameError)


def describe(event: Frame | HeartBeat) -> str:  # noqa: RET503 (assert_never does not return)
    """An exhaustive match over the parser's events: mypy proves no case is missing."""
    if isinstance(event, Frame):
        return event.command
    if isinstance(event, HeartBeat):
        return "heart-beat"
    assert_never(event)


def test_events_are_a_closed_union() -> None:
    assert [describe(e) for e in Parser().feed(b"\nSEND\n\n\x00")] == ["heart-beat", "SEND"]


def test_events_can_be_matched_structurally() -> None:
    seen: list[str] = []
    for event in Parser().feed(b"SEND\na:1\n\n\x00\n"):
        match event:
            case Frame(command=command):
                seen.append(command)
            case HeartBeat():
                seen.append("beat")
            case _:
                assert_never(event)
    assert seen == ["SEND", "beat"]

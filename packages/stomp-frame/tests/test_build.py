"""The two builds: pure Python (the default wheel) and compiled with mypyc (a platform wheel).

The same tests run against both (``nox -s tests-stomp-frame`` and ``nox -s compiled``);
these check that ``COMPILED`` tells which one was imported.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES

import pytest

import stomp_frame
from stomp_frame import (
    Frame,
    InvalidFrame,
    ParseError,
    Parser,
    Version,
    _frame,
    _parser,
    _serializer,
    serialize,
)


def _is_extension(path: str | None) -> bool:
    return path is not None and path.endswith(tuple(EXTENSION_SUFFIXES))


def test_compiled_says_whether_the_parser_and_serializer_are_extension_modules() -> None:
    assert stomp_frame.COMPILED is _is_extension(_parser.__file__)
    assert stomp_frame.COMPILED is _is_extension(_serializer.__file__)


def test_frames_are_pure_python_in_both_builds() -> None:
    # Frames behave the same in both builds (InvalidFrame for a command that is not a
    # str, not a TypeError of compiled code), because they are never compiled.
    assert not _is_extension(_frame.__file__)


def test_errors_raised_while_handling_another_hide_it_in_both_builds() -> None:
    # Compiled code drops ``raise ... from None``: the modules set __suppress_context__
    # themselves, so that a traceback shows the same in both builds.
    parser = Parser(version=Version.V1_2)
    with pytest.raises(ParseError, match="not valid UTF-8") as parsed:
        parser.feed(b"SEND\ndestination:/queue/\xff\n\n\x00")
    assert parsed.value.__suppress_context__
    frame = Frame("SEND", {"destination": "/queue/\udcff"})
    with pytest.raises(InvalidFrame, match="cannot be encoded as UTF-8") as serialized:
        serialize(frame, Version.V1_2)
    assert serialized.value.__suppress_context__
    assert isinstance(serialized.value.__context__, UnicodeEncodeError)

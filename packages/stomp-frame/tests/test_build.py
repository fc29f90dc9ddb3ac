"""The two builds: pure Python (the default wheel) and compiled with mypyc (a platform wheel).

The same tests run against both (``nox -s tests-stomp-frame`` and ``nox -s compiled``);
these check that ``COMPILED`` tells which one was imported.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES

import stomp_frame
from stomp_frame import _frame, _parser, _serializer


def _is_extension(path: str | None) -> bool:
    return path is not None and path.endswith(tuple(EXTENSION_SUFFIXES))


def test_compiled_says_whether_the_parser_and_serializer_are_extension_modules() -> None:
    assert stomp_frame.COMPILED is _is_extension(_parser.__file__)
    assert stomp_frame.COMPILED is _is_extension(_serializer.__file__)


def test_frames_are_pure_python_in_both_builds() -> None:
    # Frames behave the same in both builds (InvalidFrame for a command that is not a
    # str, not a TypeError of compiled code), because they are never compiled.
    assert not _is_extension(_frame.__file__)

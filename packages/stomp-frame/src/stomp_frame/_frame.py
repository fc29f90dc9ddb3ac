"""The frame model: immutable frames, the heart-beat value, and the parser's limits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import countOf
from typing import Any, Final, overload

from stomp_frame._errors import InvalidFrame
from stomp_frame._version import COMMANDS

__all__ = ["HEARTBEAT", "REDACTED_HEADERS", "Frame", "HeartBeat", "Limits"]

HeaderPairs = tuple[tuple[str, str], ...]

REDACTED_HEADERS: Final[frozenset[str]] = frozenset({"passcode"})
"""Headers whose values are replaced by ``***`` in a frame's ``repr``."""

_REPR_BODY_LIMIT: Final = 64

# Separators of the joined header text: after a name, and between two headers. Not ASCII,
# so that the serializer can tell from the length of the UTF-8 text alone that no name
# or value holds one (see _serializer).
_NAME: Final = "\x80"
_LINE: Final = "\x81"
_join_pair = _NAME.join
_join_lines = _LINE.join


@dataclass(frozen=True, slots=True, init=False, repr=False)
class Frame:
    """A STOMP frame: a command, ordered headers and a binary body.

    Frames are immutable and hashable. Headers keep their order and repeated
    names, as they appear on the wire; :meth:`get` follows the spec ("only the
    first header entry SHOULD be used as the value of header entry") while
    :meth:`get_all` and :attr:`headers` still show the later ones.

    >>> frame = Frame("SEND", {"destination": "/queue/a"}, b"hello")
    >>> frame.get("destination")
    '/queue/a'

    Args:
        command: One of the STOMP commands (:data:`~stomp_frame.COMMANDS`).
        headers: A mapping, or an iterable of ``(name, value)`` pairs when a
            name repeats. Names and values are ``str``; names are not empty.
        body: The body; ``bytearray`` and ``memoryview`` are copied to ``bytes``.

    Raises:
        InvalidFrame: the command is unknown, or a header or the body has the
            wrong type, or a header name is empty.
    """

    command: str
    headers: HeaderPairs
    """The headers, in wire order, repeated names included."""
    body: bytes
    _first: dict[str, str] = field(compare=False, hash=False)
    """The first value of each name (the lookup table of get, has and the serializer)."""
    _joined: str | None = field(compare=False, hash=False)
    """Names and values joined with _NAME and _LINE, for the serializer (None when parsed)."""

    def __init__(
        self,
        command: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | bytearray | memoryview = b"",
    ) -> None:
        if type(command) is not str or command not in COMMANDS:
            msg = f"unknown STOMP command {command!r}"
            raise InvalidFrame(msg)
        kind = type(headers)
        if kind is list or kind is tuple:
            pairs: HeaderPairs = tuple(headers)  # type: ignore[arg-type]
            if countOf(map(type, pairs), tuple) != len(pairs):
                pairs = _pairs(headers)  # lists, named tuples, or not pairs at all
        elif kind is dict:
            pairs = tuple(headers.items())  # type: ignore[union-attr]
        else:
            pairs = _pairs(headers)
        try:
            # dict() checks that every pair has two items and gives the first-wins index;
            # the joins check that they are str and leave the text the serializer escapes.
            first = dict(pairs)
            joined = _join_lines(map(_join_pair, pairs))
        except (TypeError, ValueError) as exc:
            raise InvalidFrame(_not_pairs(headers)) from exc
        if len(first) != len(pairs):
            first = _first_wins(pairs)
        if "" in first:
            msg = "a header name must not be empty"
            raise InvalidFrame(msg)
        if type(body) is not bytes:
            given: object = body
            if not isinstance(given, (bytes, bytearray, memoryview)):
                msg = f"the body must be bytes, got {type(given).__name__}"
                raise InvalidFrame(msg)
            if not isinstance(given, bytes):
                body = bytes(given)
        _set_command(self, command)
        _set_headers(self, pairs)
        _set_body(self, body)
        _set_first(self, first)
        _set_joined(self, joined)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the value of the first header called *name*, or *default*."""
        return self._first.get(name, default)

    def get_all(self, name: str) -> tuple[str, ...]:
        """Return the values of every header called *name*, in wire order."""
        return tuple(value for key, value in self.headers if key == name)

    def has(self, name: str) -> bool:
        """Return whether the frame has a header called *name*."""
        return name in self._first

    def header_dict(self) -> dict[str, str]:
        """Return the headers as a new ``dict``, the first occurrence of a name winning."""
        return dict(self._first)

    def __repr__(self) -> str:
        shown = tuple(
            (name, "***" if name in REDACTED_HEADERS else value) for name, value in self.headers
        )
        body = self.body
        if len(body) > _REPR_BODY_LIMIT:
            body_repr = f"{body[:_REPR_BODY_LIMIT]!r}... ({len(body)} bytes)"
        else:
            body_repr = repr(body)
        return f"Frame({self.command!r}, {shown!r}, {body_repr})"


# The slot descriptors, to fill a frozen instance without the cost of __setattr__.
_slots: Any = Frame.__dict__
_set_command = _slots["command"].__set__
_set_headers = _slots["headers"].__set__
_set_body = _slots["body"].__set__
_set_first = _slots["_first"].__set__
_set_joined = _slots["_joined"].__set__
_new = object.__new__


def _first_wins(pairs: HeaderPairs) -> dict[str, str]:
    first = dict(pairs)
    if len(first) != len(pairs):
        first = {}
        for name, value in pairs:
            first.setdefault(name, value)
    return first


def _pairs(headers: object) -> HeaderPairs:
    """The header pairs of anything but a list or tuple of tuples, or a dict."""
    source: Any = headers
    try:
        if isinstance(source, Mapping):
            return tuple(source.items())
        pairs = tuple(source)
        if not all(issubclass(kind, (tuple, list)) for kind in set(map(type, pairs))):
            raise TypeError
        return tuple(map(tuple, pairs))
    except TypeError as exc:
        raise InvalidFrame(_not_pairs(headers)) from exc


def _not_pairs(headers: object) -> str:
    return f"headers must be (str, str) pairs, got {_describe(headers)}"


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _trusted_frame(command: str, pairs: HeaderPairs, first: dict[str, str], body: bytes) -> Frame:
    """Build a frame from values the parser has already validated (no checks, no copies)."""
    frame: Frame = _new(Frame)
    _set_command(frame, command)
    _set_headers(frame, pairs)
    _set_body(frame, body)
    _set_first(frame, first)
    _set_joined(frame, None)
    return frame


@dataclass(frozen=True, slots=True)
class HeartBeat:
    """A heart-beat: an end-of-line between frames, as the parser reports it.

    Use the :data:`HEARTBEAT` instance; every heart-beat is equal to it.
    """

    def __repr__(self) -> str:
        return "HEARTBEAT"


HEARTBEAT: Final = HeartBeat()
"""The heart-beat value the parser returns for each EOL between frames."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what the parser accepts, so a peer cannot exhaust memory.

    The defaults follow ActiveMQ's own STOMP limits (100 MiB of data, 1000
    headers), so a frame a broker accepts is never refused; the header line
    limit is six times ActiveMQ's 10 KiB, room for large tokens in headers.

    Attributes:
        max_frame_size: Most bytes in one frame, command, headers and body included.
        max_headers: Most header lines in one frame.
        max_header_line: Most bytes in the command line or in one header line.
    """

    max_frame_size: int = 100 * 1024 * 1024
    max_headers: int = 1000
    max_header_line: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in ("max_frame_size", "max_headers", "max_header_line"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                msg = f"Limits.{name} must be a positive int, got {value!r}"
                raise InvalidFrame(msg)

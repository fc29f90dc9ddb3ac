"""The frame model: immutable frames, the heart-beat value, and the parser's limits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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

    # Plain slots behind read-only properties: stores in __init__ are then plain stores,
    # the cheapest there are, and the properties refuse assignment from outside.
    __slots__ = ("_body", "_command", "_first", "_headers", "_joined")
    __match_args__ = ("command", "headers", "body")

    _command: str
    _headers: HeaderPairs | None
    """The pairs; None, until they are asked for, when no name repeats (built from a dict,
    or parsed): they are then the items of _first."""
    _body: bytes
    _first: dict[str, str]
    """The first value of each name (the lookup table of get, has and the serializer)."""
    _joined: str | None
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
        pairs: HeaderPairs | None
        if kind is dict:
            # The common case: the names are unique, so the copy is the first-wins index,
            # and the pairs are its items, made when first asked for.
            first: dict[str, str] = headers.copy()  # type: ignore[union-attr]
            pairs = None
            try:
                # The joins check that names and values are str, and leave the text
                # the serializer escapes.
                joined = _join_lines(map(_join_pair, first.items()))
            except TypeError as exc:
                raise InvalidFrame(_not_pairs(first.items())) from exc
        else:
            if kind is list or kind is tuple:
                pairs = tuple(headers)  # type: ignore[arg-type]
                if countOf(map(type, pairs), tuple) != len(pairs):
                    pairs = _pairs(headers)  # lists, named tuples, or not pairs at all
            else:
                pairs = _pairs(headers)
            try:
                # dict() checks that every pair has two items and gives the first-wins
                # index; the joins check that they are str (as above).
                first = dict(pairs)
                joined = _join_lines(map(_join_pair, pairs))
            except (TypeError, ValueError) as exc:
                raise InvalidFrame(_not_pairs(pairs)) from exc
            if len(first) != len(pairs):
                first = _first_wins(pairs)
        if "" in first:
            msg = "a header name must not be empty"
            raise InvalidFrame(msg)
        if type(body) is not bytes:
            body = _bytes_body(body)
        self._command = command
        self._headers = pairs
        self._body = body
        self._first = first
        self._joined = joined

    @property
    def command(self) -> str:
        """The command, such as ``SEND`` or ``MESSAGE``."""
        return self._command

    @property
    def body(self) -> bytes:
        """The body, possibly empty."""
        return self._body

    @property
    def headers(self) -> HeaderPairs:
        """The headers as ``(name, value)`` pairs, in wire order, repeated names included."""
        pairs = self._headers
        if pairs is None:
            pairs = self._headers = tuple(self._first.items())
        return pairs

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

    @property
    def header_map(self) -> Mapping[str, str]:
        """The headers as a read-only mapping, the first occurrence of a name winning.

        No copy is made (unlike :meth:`header_dict`): the fastest way to read several
        headers, e.g. ``get = frame.header_map.get``. Do not cast it and change it.
        """
        return self._first

    def header_dict(self) -> dict[str, str]:
        """Return the headers as a new ``dict``, the first occurrence of a name winning."""
        return dict(self._first)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        that: Frame = other
        return (
            self._command == that._command
            and self._body == that._body
            and self.headers == that.headers
        )

    def __hash__(self) -> int:
        return hash((self._command, self.headers, self._body))

    def __reduce__(self) -> tuple[type[Frame], tuple[str, HeaderPairs, bytes]]:
        return (self.__class__, (self._command, self.headers, self._body))

    def __repr__(self) -> str:
        shown = tuple(
            (name, "***" if name in REDACTED_HEADERS else value) for name, value in self.headers
        )
        body = self._body
        if len(body) > _REPR_BODY_LIMIT:
            body_repr = f"{body[:_REPR_BODY_LIMIT]!r}... ({len(body)} bytes)"
        else:
            body_repr = repr(body)
        return f"Frame({self._command!r}, {shown!r}, {body_repr})"


_new = object.__new__


def _bytes_body(body: object) -> bytes:
    """The body as ``bytes``: a ``bytes`` subclass kept, ``bytearray`` and views copied."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    msg = f"the body must be bytes, got {type(body).__name__}"
    raise InvalidFrame(msg)


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
    if isinstance(source, Mapping):
        return tuple(source.items())
    try:
        pairs = tuple(source)
    except TypeError as exc:
        msg = f"{_PAIRS_WANTED}, got {_kind(headers)}"
        raise InvalidFrame(msg) from exc
    if not all(issubclass(kind, (tuple, list)) for kind in set(map(type, pairs))):
        raise InvalidFrame(_not_pairs(pairs))
    return tuple(map(tuple, pairs))


_PAIRS_WANTED: Final = "headers must be a mapping or (str, str) pairs"


def _not_pairs(pairs: Iterable[object]) -> str:
    """Say which header is wrong and how, by its position, name and type, never its value.

    A value may be a passcode, and error messages end up in logs.
    """
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)):
            return f"{_PAIRS_WANTED}: header {index} is {_kind(pair)}"
        if len(pair) != 2:
            items = "1 item" if len(pair) == 1 else f"{len(pair)} items"
            return f"{_PAIRS_WANTED}: header {index} has {items}, not 2"
        name, value = pair
        if not isinstance(name, str):
            return f"{_PAIRS_WANTED}: the name of header {index} is {_kind(name)}"
        if not isinstance(value, str):
            return f"{_PAIRS_WANTED}: the value of header {name!r} is {_kind(value)}"
    return _PAIRS_WANTED  # pragma: no cover - called only when a pair is wrong


def _kind(value: object) -> str:
    """A value's type, with its article: what an error may say of a value."""
    kind = type(value).__name__
    return f"an {kind}" if kind[:1].lower() in "aeiou" else f"a {kind}"


def _trusted_frame(
    command: str, pairs: HeaderPairs | None, first: dict[str, str], body: bytes
) -> Frame:
    """Build a frame from values the parser has already validated (no checks, no copies).

    *pairs* is None when no name repeats: the frame makes them from *first* when asked.
    """
    frame: Frame = _new(Frame)
    frame._command = command
    frame._headers = pairs
    frame._body = body
    frame._first = first
    frame._joined = None
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

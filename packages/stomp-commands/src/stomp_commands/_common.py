"""Shared types and checks of the commands layer: ack modes, header input, version order."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from operator import itemgetter
from typing import Final, Literal, NoReturn, TypeAlias

from stomp_commands._errors import LocalCommandError
from stomp_frame import Frame, InvalidFrame, Version

__all__ = [
    "ACK_MODES",
    "ALL_VERSIONS",
    "V1_0",
    "V1_1",
    "V1_2",
    "AckMode",
    "Headers",
    "build_frame",
    "check_headers",
]

AckMode: TypeAlias = Literal["auto", "client", "client-individual"]
"""A SUBSCRIBE ``ack`` mode. Spec 1.2: "The valid values for the ack header are auto,
client, or client-individual" (``client-individual`` is 1.1 and later)."""

ACK_MODES: Final[frozenset[str]] = frozenset({"auto", "client", "client-individual"})
"""Every :data:`AckMode`, for run-time checks."""

Headers: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]]"
"""Extra headers: a mapping, or ``(name, value)`` pairs when a name repeats."""

ALL_VERSIONS: Final[tuple[Version, ...]] = (Version.V1_0, Version.V1_1, Version.V1_2)
"""Every STOMP version, oldest first (the order ``accept-version`` lists them in)."""

# Module constants, for this package's builders too: reading a member off the enum class
# costs more than a global.
V1_0: Final = Version.V1_0
V1_1: Final = Version.V1_1
V1_2: Final = Version.V1_2

_NEVER_ESCAPED: Final = ("CONNECT", "STOMP")
"""The commands whose headers no version escapes."""

_name: Final = itemgetter(0)


def build_frame(
    command: str,
    version: Version,
    fields: dict[str, str],
    headers: Headers | None,
    reserved: frozenset[str],
    *,
    body: bytes = b"",
) -> Frame:
    """Build *command* from its own *fields* and the caller's extra *headers*.

    *fields* are the headers the command's parameters set, already checked, and all
    named in *reserved*; the dict may be extended in place. The extra headers follow
    them, in their given order. The frame checks the types and shape of the extra
    headers and that no name is empty; this adds that no name is one of *reserved*,
    and that *version* can carry every header (see :func:`check_headers`).

    Raises:
        LocalCommandError: any of those checks fails; the message names the header
            by name or position, never by value.
    """
    if headers is None:
        check_headers(command, version, fields)
        return Frame(command, fields, body)
    kind = type(headers)
    # (The exact types first: isinstance against an ABC costs more than the rest.)
    if kind is dict or (kind is not list and kind is not tuple and isinstance(headers, Mapping)):
        # Names are unique, so the frame is built from one dict, the fields first: the
        # fastest way to a frame. No extra name is reserved, so none replaces a field.
        if not reserved.isdisjoint(headers):
            raise _reserved(command, headers, reserved)
        fields.update(headers)
        try:
            frame = Frame(command, fields, body)
        except InvalidFrame as exc:
            _refuse_invalid(command, headers, exc)
        check_headers(command, version, fields)
        return frame
    # Pairs, where a name may repeat.
    try:
        pairs = (*fields.items(), *headers)
    except TypeError:
        kind_name = type(headers).__name__
        msg = (
            f"{command} headers must be a mapping or (name, value) pairs, got {_article(kind_name)}"
        )
        raise LocalCommandError(msg) from None
    try:
        frame = Frame(command, pairs, body)
    except InvalidFrame as exc:
        _refuse_invalid(command, pairs[len(fields) :], exc)
    given = frame.headers
    # The frame also takes lists as pairs (and holds them as tuples, so that its headers
    # differ from the pairs given); the extra headers of a command are tuples.
    if given != pairs and not all(isinstance(pair, tuple) for pair in pairs):
        raise _not_tuples(command, pairs[len(fields) :])
    extra = given[len(fields) :]
    if not reserved.isdisjoint(map(_name, extra)):
        raise _reserved(command, map(_name, extra), reserved)
    check_headers(command, version, given)
    return frame


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1].lower() in "aeiou" else f"a {kind}"


def _reserved(command: str, names: Iterable[object], reserved: frozenset[str]) -> LocalCommandError:
    name = next(name for name in names if name in reserved)
    msg = f"the {name!r} header of {command} is set by its own parameter; do not pass it in headers"
    return LocalCommandError(msg)


def _refuse_invalid(command: str, headers: object, refused: InvalidFrame) -> NoReturn:
    """Refuse extra *headers* that a frame refused (what a frame says never holds a value)."""
    try:
        # Again without the fields, so that a header's position counts from the first
        # extra one, as the caller sees them.
        Frame(command, headers)  # type: ignore[arg-type]
    except InvalidFrame as exc:
        refused = exc
    # The message says all there is; the frame's errors would count the fields too.
    msg = f"invalid {command} headers: {refused}"
    raise LocalCommandError(msg) from None


def _not_tuples(command: str, headers: Iterable[object]) -> LocalCommandError:
    index, pair = next((i, pair) for i, pair in enumerate(headers) if not isinstance(pair, tuple))
    msg = (
        f"invalid {command} headers: header {index} is of type {type(pair).__name__}, "
        "not a (name, value) tuple"
    )
    return LocalCommandError(msg)


def check_headers(
    command: str, version: Version, headers: dict[str, str] | tuple[tuple[str, str], ...]
) -> None:
    r"""Refuse headers that *version* cannot carry for *command* (values are never quoted).

    Spec 1.0 has no escaping, and spec 1.2 says "CONNECT and CONNECTED frames do not
    escape the carriage return, line feed or colon octets": there a line feed or a
    carriage return would end the header early, and a colon in a name would split
    it. Spec 1.1 escapes ``\n``, ``\c`` and ``\\`` but has no escape for a
    carriage return.

    *headers* are names and values known to be ``str``: a dict, or pairs.
    """
    if version is V1_2 and command not in _NEVER_ESCAPED:
        return
    if isinstance(headers, dict):
        names: Collection[str] = headers
        values: Collection[str] = headers.values()
    else:
        names = [name for name, _ in headers]
        values = [value for _, value in headers]
    text = "".join([*names, *values])
    raw = version is V1_0 or command in _NEVER_ESCAPED
    if "\r" not in text and not (raw and ("\n" in text or ":" in "".join(names))):
        return
    for name, value in zip(names, values, strict=True):
        if "\r" in name or "\r" in value or (raw and ("\n" in name or "\n" in value)):
            why = (
                "STOMP 1.1 has no escape for a carriage return"
                if not raw
                else _unescaped(command, version)
            )
            msg = f"the {name!r} header of {command} contains a line break, and {why}"
            raise LocalCommandError(msg)
        if raw and ":" in name:
            msg = f"the header name {name!r} of {command} contains a colon, and " + _unescaped(
                command, version
            )
            raise LocalCommandError(msg)


def _unescaped(command: str, version: Version) -> str:
    if command in _NEVER_ESCAPED:
        return f"{command} headers are never escaped"
    return f"STOMP {version} cannot escape it"

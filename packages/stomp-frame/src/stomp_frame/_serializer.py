"""The serializer: a frame and a protocol version in, the exact bytes for the wire out."""

from __future__ import annotations

from typing import Final

from stomp_frame._errors import InvalidFrame
from stomp_frame._frame import _LINE, _NAME, Frame, _join_lines, _join_pair
from stomp_frame._version import BODY_COMMANDS, COMMANDS, UNESCAPED_COMMANDS, Version

__all__ = ["HEARTBEAT_BYTES", "serialize"]

HEARTBEAT_BYTES: Final = b"\n"
"""What a heart-beat looks like on the wire (an EOL)."""

# Names and values are joined with two separator characters (_NAME, _LINE, shared with
# Frame, which joins them when it is built), escaped in one pass over the whole text,
# and the separators are then put in. The separators are not ASCII: when the UTF-8 text
# is longer than the text by just what they add, every name and value is ASCII, so none
# holds a separator, and serialize works on those bytes. Other frames take _slow.
#
# The bytes of the last header block so written are kept with its joined text and its
# number of headers: a frame whose joined text and number are the same has the same
# headers (its names and values hold no separator either, or the number would differ),
# so the same bytes, in 1.1 and 1.2 alike when no header holds a carriage return (such
# blocks are not kept). Frames sent one after another often have the same headers, and
# then skip the encoding, the escapes and the translation; a miss costs a comparison.
# One block, in one tuple: a thread reads or replaces it whole. Large blocks are not kept.

_V1_0: Final = Version.V1_0  # module constants: Version.V1_0 is an attribute lookup
_V1_1: Final = Version.V1_1
_LEAD: Final = _NAME.encode()[:1]  # the first UTF-8 byte of both separators
_SEPARATORS: Final = bytes.maketrans(_NAME.encode()[1:] + _LINE.encode()[1:], b":\n")
_BLOCK_BYTES: Final = 4096  # the largest header block kept
_last_block: tuple[str, int, bytes] = ("", -1, b"")  # joined text, header count, bytes
_COMMAND_LINES: Final = {command: f"{command}\n".encode() for command in COMMANDS}
# Ints, not b":": `bytes in bytes` first tries the needle as an int, which is slow.
_NUL: Final = 0x00
_LF: Final = 0x0A
_CR: Final = 0x0D
_COLON: Final = 0x3A
_BACKSLASH: Final = 0x5C


def serialize(frame: Frame, version: Version) -> bytes:
    r"""Return the bytes of *frame* as STOMP *version* writes it.

    The serializer never adds or drops a header: a ``content-length`` is
    written only if the frame has one (the commands layer adds it).

    Escaping follows the spec: none in 1.0; ``\\\\``, ``\\c`` and ``\\n`` in 1.1;
    1.2 adds ``\\r``; CONNECT, STOMP and CONNECTED are never escaped.

    Raises:
        InvalidFrame: the frame cannot be written in *version* without corrupting
            the stream: a line feed (or carriage return) in a header that is not
            escaped, a colon in such a header's name, a carriage return in a 1.1
            header (1.1 has no escape for it), a body containing NUL without a
            ``content-length`` header, a ``content-length`` that differs from the
            body's length, a body on a command that may not have one (1.1+), a
            command the version does not have (NACK and STOMP in 1.0), or a 1.0
            header holding text that would read back as other text.
    """
    global _last_block  # the last header block written (see above)
    if version.__class__ is not Version:
        msg = f"version must be a stomp_frame.Version, got {version!r}"
        raise TypeError(msg)
    command = frame._command
    if version is _V1_0 or command in UNESCAPED_COMMANDS:
        return _slow(frame, version)
    pairs = frame._headers
    first = frame._first
    count = len(first) if pairs is None else len(pairs)  # None: built from a dict
    joined = frame._joined
    if joined is None:  # a parsed frame
        joined = _join_lines(map(_join_pair, frame.headers))
    last = _last_block
    if count == last[1] and joined == last[0]:  # the headers of the last frame written
        text = last[2]
    else:
        # Fast path: escaped headers, every name and value ASCII (see above) without NUL.
        try:
            text = joined.encode()
        except UnicodeEncodeError:
            return _slow(frame, version)
        if len(text) - len(joined) != 2 * count - 1 or _NUL in text:
            return _slow(frame, version)
        if _BACKSLASH in text:
            text = text.replace(b"\\", b"\\\\")
        if _COLON in text:
            text = text.replace(b":", b"\\c")
        if _LF in text:
            text = text.replace(b"\n", b"\\n")
        if _CR in text:
            if version is _V1_1:
                return _slow(frame, version)
            text = text.replace(b"\r", b"\\r").translate(_SEPARATORS, _LEAD)
        else:
            text = text.translate(_SEPARATORS, _LEAD)
            if len(text) <= _BLOCK_BYTES:
                _last_block = (joined, count, text)
    body = frame._body
    length = first.get("content-length")
    if (_NUL in body if length is None else length != str(len(body))) or (
        body and command not in BODY_COMMANDS
    ):
        return _slow(frame, version)
    return b"".join((_COMMAND_LINES[command], text, b"\n\n", body, b"\0"))


def _slow(frame: Frame, version: Version) -> bytes:
    """Serialize any frame; raise InvalidFrame for one that cannot be written."""
    command = frame.command
    if command not in version.commands:
        msg = f"STOMP {version} has no {command} command (it is new in STOMP 1.1)"
        raise InvalidFrame(msg)
    headers = frame.headers
    body = frame.body
    if command in UNESCAPED_COMMANDS or version is _V1_0:
        text = _raw_headers(command, headers, version)
    else:
        text = _escaped_headers(headers, version)
    if body or frame.has("content-length"):
        _check_body(frame, version)
    head = f"{command}\n{text}\n" if text else f"{command}\n\n"
    try:
        encoded = head.encode("utf-8", "surrogateescape" if version is _V1_0 else "strict")
    except UnicodeEncodeError as exc:
        msg = f"a header of the {command} frame cannot be encoded as UTF-8: {exc.reason}"
        invalid = InvalidFrame(msg)
        invalid.__suppress_context__ = True  # from None, which mypyc drops
        raise invalid  # noqa: B904
    if version is _V1_0 and not head.isascii() and _reads_back(encoded) != head:
        # A 1.0 parser gives bytes that are not UTF-8 back as lone surrogates (and the
        # encoding above writes those back as the bytes), but lone surrogates that stand
        # for valid UTF-8 would be read back as other text: "\udcc3\udca9" as "\xe9".
        msg = (
            f"a header of the {command} frame holds lone surrogates that would be read "
            "back as other text"
        )
        raise InvalidFrame(msg)
    if body:
        return b"".join((encoded, body, b"\0"))
    return encoded + b"\0"


def _reads_back(encoded: bytes) -> str:
    return encoded.decode("utf-8", "surrogateescape")


def _escaped_headers(headers: tuple[tuple[str, str], ...], version: Version) -> str:
    if not headers:
        return ""
    text = _LINE.join(map(_NAME.join, headers))
    if text.count(_NAME) != len(headers) or text.count(_LINE) != len(headers) - 1 or "\x00" in text:
        # A header holds a separator character, or a NUL: escape pair by pair.
        _refuse_nul(headers)
        return "".join(_escape_pair(name, value, version) for name, value in headers)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if ":" in text:
        text = text.replace(":", "\\c")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        if version is _V1_1:
            _refuse_cr_1_1(headers)
        text = text.replace("\r", "\\r")
    return text.replace(_NAME, ":").replace(_LINE, "\n") + "\n"


def _escape(text: str, version: Version) -> str:
    text = text.replace("\\", "\\\\").replace(":", "\\c").replace("\n", "\\n")
    if "\r" in text:
        if version is _V1_1:
            msg = "STOMP 1.1 cannot carry a carriage return in a header (it has no escape for it)"
            raise InvalidFrame(msg)
        text = text.replace("\r", "\\r")
    return text


def _escape_pair(name: str, value: str, version: Version) -> str:
    return f"{_escape(name, version)}:{_escape(value, version)}\n"


def _refuse_cr_1_1(headers: tuple[tuple[str, str], ...]) -> None:
    name = next(name for name, value in headers if "\r" in name or "\r" in value)
    msg = (
        f"STOMP 1.1 cannot carry a carriage return in a header (header {name!r}); "
        "it has no escape for it"
    )
    raise InvalidFrame(msg)


def _refuse_nul(headers: tuple[tuple[str, str], ...]) -> None:
    for name, value in headers:
        if "\x00" in name or "\x00" in value:
            msg = f"the header {name!r} contains a NUL, which would end the frame on the wire"
            raise InvalidFrame(msg)


def _raw_headers(command: str, headers: tuple[tuple[str, str], ...], version: Version) -> str:
    _refuse_nul(headers)
    for name, value in headers:
        if ":" in name:
            msg = f"the header name {name!r} contains a colon, which {_where(command, version)}"
            raise InvalidFrame(msg)
        if "\n" in name or "\n" in value or "\r" in name or "\r" in value:
            msg = (
                f"the header {name!r} contains a line feed or carriage return, "
                f"which {_where(command, version)}"
            )
            raise InvalidFrame(msg)
    return "".join(f"{name}:{value}\n" for name, value in headers)


def _where(command: str, version: Version) -> str:
    if version is _V1_0:
        return "STOMP 1.0 cannot escape"
    return f"a {command} frame cannot escape (CONNECT, STOMP and CONNECTED are never escaped)"


def _check_body(frame: Frame, version: Version) -> None:
    body = frame.body
    command = frame.command
    if body and command not in BODY_COMMANDS and version is not _V1_0:
        msg = f"a {command} frame may not have a body in STOMP {version}"
        raise InvalidFrame(msg)
    length = frame.get("content-length")
    if length is None:
        if b"\0" in body:
            msg = (
                f"the body of the {command} frame contains a NUL byte but the frame has no "
                "content-length header: the NUL would end the frame early"
            )
            raise InvalidFrame(msg)
    elif length != str(len(body)):
        msg = f"content-length {length!r} does not match the body's {len(body)} bytes"
        raise InvalidFrame(msg)

"""The escapes of header values, and the checks that find the first problem of a header block.

The parser's fast path (``Parser.next_event``) reads a well-formed frame in a few passes
over its bytes; everything here serves the other paths: an unfinished header block, checked
line by line as it arrives, and a block found wrong, whose first problem is the error raised
(see ``Parser``'s docstring, Errors). The functions take the parser whose state they read
and record.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from stomp_frame._errors import LimitExceeded, ParseError
from stomp_frame._version import COMMANDS, UNESCAPED_COMMANDS, Version

if TYPE_CHECKING:
    from stomp_frame._parser import Parser

_partition = str.partition

# Spec 1.1: "\\" "\c" "\n"; 1.2 adds "\r". "Undefined escape sequences such as \t
# MUST be treated as a fatal protocol error."
_UNESCAPES_1_1: Final = {"\\\\": "\\", "\\c": ":", "\\n": "\n"}
_UNESCAPES_1_2: Final = {**_UNESCAPES_1_1, "\\r": "\r"}
_ESCAPE_RE: Final = re.compile(r"\\.?", re.DOTALL)

# The fast path of next_event (see there). A header block is checked by its "shape": the
# bytes left once all others are deleted. It is "\n:" once per header line when every
# line holds exactly one colon and the block holds no NUL, CR or byte in 0xFB-0xFF (never
# in UTF-8; a 1.0 header that has one is left to the slow path).
_NOT_SHAPE: Final = bytes(sorted(set(range(256)) - {*b"\n:\r\x00", *range(0xFB, 0x100)}))
_ESCAPED_BACKSLASH: Final = b"\xff\xfb"
_ESCAPED_COLON: Final = b"\xff\xfc"
_ESCAPED_LF: Final = b"\xff\xfd"
_ESCAPED_CR: Final = b"\xff\xfe"
# Module constants: an enum member read as Version.V1_0 costs an attribute lookup each time.
_V1_0: Final = Version.V1_0
_V1_2: Final = Version.V1_2
# An int, not b"\\": `bytes in bytes` first tries the needle as an int and fails, slowly.
_BACKSLASH: Final = 0x5C


def _mark_escapes(block: bytes, *, carriage: bool) -> bytes | None:
    """Replace every escape by its two bytes (see _FIELDS); None for an undefined one."""
    # "\\" first: each backslash left after it starts an escape of its own.
    block = block.replace(b"\\\\", _ESCAPED_BACKSLASH).replace(b"\\c", _ESCAPED_COLON)
    block = block.replace(b"\\n", _ESCAPED_LF)
    if carriage:
        block = block.replace(b"\\r", _ESCAPED_CR)
    return None if _BACKSLASH in block else block


class _BadEscape(Exception):
    def __init__(self, sequence: str) -> None:
        self.sequence = sequence


def _unescape(text: str, table: dict[str, str]) -> str:
    # Fast paths: replacing a defined escape that turns out to be the second half of
    # an escaped backslash leaves a backslash behind, which sends us to the full path.
    result = text.replace("\\c", ":")
    if "\\" not in result:
        return result
    if "\\\\" not in text:
        # Without an escaped backslash, every backslash starts an escape, and
        # replacing the defined ones cannot create new backslashes.
        result = text.replace("\\c", ":").replace("\\n", "\n")
        if "\\r" in result and "\\r" in table:
            result = result.replace("\\r", "\r")
        if "\\" not in result:
            return result

    def replace(match: re.Match[str]) -> str:
        found = table.get(match.group())
        if found is None:
            raise _BadEscape(match.group())
        return found

    return _ESCAPE_RE.sub(replace, text)


def first_problem(parser: Parser, pos: int, size: int, search: int) -> ParseError | None:
    """The first problem of the unfinished header block buf[pos:size], or None.

    "First" as the class docstring says (Errors): the problem proved by the fewest
    bytes, then the first in the order NUL, line length, frame size, header count, the
    line's content. Lines before pos + _line_scan were checked by an earlier call and
    bytes before *search* hold no NUL and no LF of the unfinished line; what this call
    checks is recorded for the next one, so that checking stays linear in the block.
    """
    buf = parser._buf
    limits = parser._limits
    limit = limits.max_header_line
    start = pos + parser._line_scan
    number = parser._header_lines  # of the line at start; 0 is the command line
    # What line 0 said (read only once it has been checked: the fast path resets the
    # counters above, not these).
    escaped = parser._escaped if number else False
    length_seen = parser._length_seen if number else False
    find_from = max(start, search)
    # Quick: no NUL, no limit reached, and every new line plainly right (the loop
    # below says which problem comes first, and takes what this does not).
    last = buf.rfind(10, find_from, size)
    if (
        size - pos <= limit
        and size - pos <= limits.max_frame_size
        and buf.find(0, search, size) < 0
        and number + (buf.count(10, find_from, size) if last >= 0 else 0) <= limits.max_headers + 1
    ):
        if last < 0:
            parser._header_counted = size - pos  # tells the fast path to reset the counters
            return None
        fine = plain_lines(parser, start, last, number, escaped=escaped, seen=length_seen)
        if fine is not None:
            parser._line_scan = last + 1 - pos
            parser._header_lines = number + buf.count(10, start, last) + 1
            parser._escaped, parser._length_seen = fine
            parser._header_counted = size - pos
            return None
    crlf = parser._crlf
    # The problem found so far: the byte that proves it, its rank, the error.
    proof = size
    rank = 9
    problem: ParseError | None = None
    nul = buf.find(0, search, size)
    if nul >= 0:
        proof, rank = nul, 0
        problem = parser._fail("a frame ends (NUL) before its headers are complete", nul)
    too_big = pos + limits.max_frame_size  # the first byte past the limit
    if too_big < proof:
        proof, rank = too_big, 2
        problem = parser._fail(
            f"a frame is larger than {limits.max_frame_size} bytes", pos, LimitExceeded
        )
    while start < proof:
        stop = buf.find(10, find_from, min(proof + 1, size))
        end = stop if stop >= 0 else size
        over = start + limit  # the first byte past the limit, if it is in the line
        # A CR before the LF is not part of the line in 1.2 (nor in a handshake).
        if over < end and crlf and buf[over] == 13:
            over += 1
        if over < end and (over < proof or (over == proof and rank > 1)):
            proof, rank = over, 1
            problem = parser._fail(
                f"a header line is longer than {limit} bytes", start, LimitExceeded
            )
            break
        if stop < 0 or stop >= proof:
            break
        if number > limits.max_headers:
            problem = parser._fail(
                f"a frame has more than {limits.max_headers} headers", pos, LimitExceeded
            )
            break
        wrong, escaped, length_seen = line_problem(
            parser, pos, start, stop, number, escaped=escaped, length_seen=length_seen
        )
        if wrong is not None:
            problem = wrong
            break
        number += 1
        start = find_from = stop + 1
    if problem is None:
        parser._line_scan = start - pos
        parser._header_lines = number
        parser._escaped = escaped
        parser._length_seen = length_seen
        parser._header_counted = size - pos  # tells the fast path to reset the counters
    return problem


def plain_lines(
    parser: Parser, start: int, last: int, number: int, *, escaped: bool, seen: bool
) -> tuple[bool, bool] | None:
    """(escaped, content-length seen) if the lines buf[start:last] are plainly right.

    None when they hold a CR, a byte in 0xFB-0xFF, a line without exactly one colon,
    bad UTF-8, an unknown command, an escape, an empty name or a content-length that
    is not plain digits: _first_problem then reads them line by line.
    """
    block = bytes(parser._buf[start:last])  # bytes already, unless a bytearray
    if number:
        shape_ok = block.translate(None, _NOT_SHAPE) == b":" + b"\n:" * block.count(10)
    else:
        shape_ok = block.translate(None, _NOT_SHAPE) == b"\n:" * block.count(10)
    if not shape_ok or b"\n:" in block or (number and block[:1] == b":"):
        return None
    try:
        text = block.decode("utf-8", "surrogateescape" if parser._version is _V1_0 else "strict")
    except UnicodeDecodeError:
        return None
    if not number:
        command = _partition(text, "\n")[0]
        if command not in parser._commands:
            return None
        escaped = parser._unescapes is not None and command not in UNESCAPED_COMMANDS
    if (
        escaped
        and _BACKSLASH in block
        and _mark_escapes(block, carriage=parser._version is _V1_2) is None
    ):
        return None
    if not seen:
        if number and block.startswith(b"content-length:"):
            at = start
        else:
            at = block.find(b"\ncontent-length:")
            at = -1 if at < 0 else start + at + 1
        if at >= 0:
            end = parser._buf.find(10, at, last)
            value = parser._buf[at + 15 : last if end < 0 else end]
            digits = value.lstrip(b"0") or b"0"
            if not value.isdigit() or len(digits) > len(str(parser._limits.max_frame_size)):
                return None
            seen = True
    return escaped, seen


def line_problem(
    parser: Parser,
    pos: int,
    start: int,
    stop: int,
    number: int,
    *,
    escaped: bool,
    length_seen: bool,
) -> tuple[ParseError | None, bool, bool]:
    """What is wrong with the content of the line buf[start:stop] (*number* 0: the command).

    Returns the error or None, then whether headers are escaped (known from the
    command line) and whether a content-length header has been read.
    """
    try:
        line = parser._buf[start:stop].decode(
            "utf-8", "surrogateescape" if parser._version is Version.V1_0 else "strict"
        )
    except UnicodeDecodeError as exc:
        return (
            parser._fail("a header is not valid UTF-8", start + exc.start),
            escaped,
            length_seen,
        )
    if parser._crlf and line[-1:] == "\r":
        line = line[:-1]
    if number == 0:
        if line not in parser._commands:
            return unknown_command(parser, pos, line), escaped, length_seen
        escaped = parser._unescapes is not None and line not in UNESCAPED_COMMANDS
        return None, escaped, length_seen
    name, sep, value = line.partition(":")
    if not sep:
        return no_colon(parser, start, line), escaped, length_seen
    unescapes = parser._unescapes
    if escaped and unescapes is not None and "\\" in line:
        try:
            name = _unescape(name, unescapes)
            value = _unescape(value, unescapes)
        except _BadEscape as bad:
            return bad_escape(parser, start, bad), escaped, length_seen
    if not name:
        return parser._fail("a header has an empty name", start), escaped, length_seen
    if name == "content-length" and not length_seen:
        try:
            content_length(parser, pos, value)
        except ParseError as error:
            return error, escaped, True
        length_seen = True
    return None, escaped, length_seen


def unknown_command(parser: Parser, pos: int, command: str) -> ParseError:
    shown = command if len(command) <= 40 else command[:40] + "..."
    where = f" in STOMP {parser._version}" if command in COMMANDS else ""
    return parser._fail(f"unknown command {shown!r}{where}", pos)


def no_colon(parser: Parser, start: int, line: str) -> ParseError:
    shown = line if len(line) <= 40 else line[:40] + "..."
    return parser._fail(f"a header line has no colon: {shown!r}", start)


def bad_escape(parser: Parser, start: int, bad: _BadEscape) -> ParseError:
    return parser._fail(
        f"undefined escape sequence {bad.sequence!r} in STOMP {parser._version}", start
    )


def content_length(parser: Parser, pos: int, text: str) -> int:
    """The value of a content-length header, checked (raises ParseError)."""
    if not (text.isascii() and text.isdigit()):
        raise parser._fail(f"malformed content-length {text!r}", pos)
    digits = text.lstrip("0") or "0"
    max_frame_size = parser._limits.max_frame_size
    if len(digits) > len(str(max_frame_size)):
        # Over the limit for sure; and int() refuses more than 4300 digits.
        shown = digits if len(digits) <= 40 else digits[:40] + "..."
        raise parser._fail(
            f"a frame is larger than {max_frame_size} bytes (content-length {shown})",
            pos,
            LimitExceeded,
        )
    return int(digits)


def block_problem(parser: Parser, pos: int, body_start: int, found: ParseError) -> ParseError:
    """The error to raise for the complete header block at pos, *found* wrong.

    The first problem of the block read as the unfinished block of all its bytes but
    the last (what chunked feeding may have checked), else *found* (a problem that
    only the complete block shows: content-length against the frame size, a body).
    """
    parser._line_scan = parser._header_lines = 0
    problem = first_problem(parser, pos, body_start - 1, pos)
    parser._header_scan = parser._header_counted = parser._header_lines = parser._line_scan = 0
    return found if problem is None else problem


def check_line_lengths(parser: Parser, pos: int, text: str, lines: list[str]) -> None:
    limit = parser._limits.max_header_line
    for number, line in enumerate(lines):
        if len(line.encode("utf-8", "surrogateescape")) > limit:
            offset = pos if number == 0 else line_offset(pos, text, number - 1)
            raise parser._fail(f"a header line is longer than {limit} bytes", offset, LimitExceeded)


def unescape_pairs(
    parser: Parser,
    pos: int,
    text: str,
    pairs: tuple[tuple[str, str], ...],
    unescapes: dict[str, str],
) -> tuple[tuple[str, str], ...]:
    # Visit only the lines that hold a backslash: text.find jumps from one to the next.
    result = list(pairs)
    found = text.find("\\")
    # Lines are counted from the last line visited, not from the start: linear in the
    # size of the block, however many lines hold a backslash.
    number = -1  # line 0 of text is the command
    counted = 0
    while found >= 0:
        number += text.count("\n", counted, found)
        counted = found
        name, value = result[number]
        try:
            result[number] = (
                _unescape(name, unescapes) if "\\" in name else name,
                _unescape(value, unescapes) if "\\" in value else value,
            )
        except _BadEscape as bad:
            raise parser._fail(
                f"undefined escape sequence {bad.sequence!r} in STOMP {parser._version}",
                line_offset(pos, text, number),
            ) from None
        line_end = text.find("\n", found)
        if line_end < 0:
            break
        found = text.find("\\", line_end)
    return tuple(result)


def raise_bad_line(parser: Parser, pos: int, text: str, lines: list[str]) -> None:
    number = next(i for i, line in enumerate(lines) if ":" not in line)
    shown = lines[number] if len(lines[number]) <= 40 else lines[number][:40] + "..."
    raise parser._fail(f"a header line has no colon: {shown!r}", line_offset(pos, text, number))


def line_offset(pos: int, text: str, header_number: int) -> int:
    """Byte index in the buffer of the start of the given header line (error path only)."""
    lines = text.split("\n")
    before = "\n".join(lines[: header_number + 1]) + "\n"
    return pos + len(before.encode("utf-8", "surrogateescape"))

"""The incremental parser: bytes in, in any chunking, frames and heart-beats out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import repeat
from types import FunctionType
from typing import Final

from stomp_frame._errors import LimitExceeded, ParseError
from stomp_frame._frame import (
    HEARTBEAT,
    Frame,
    HeaderPairs,
    HeartBeat,
    Limits,
    _first_wins,
    _trusted_frame,
)
from stomp_frame._version import BODY_COMMANDS, COMMANDS, UNESCAPED_COMMANDS, Version

__all__ = ["COMPILED", "Parser"]


def _is_compiled() -> bool:
    """Whether this module was compiled with mypyc (its functions are then not Python's)."""
    return not isinstance(_is_compiled, FunctionType)


COMPILED: Final = _is_compiled()
"""Whether the parser and the serializer run compiled with mypyc, or as pure Python.

True when installed from a compiled (platform) wheel; frames themselves are pure Python
in both builds, so that they behave the same.
"""

_DEFAULT_LIMITS: Final = Limits()
# A content-length body still missing more than this is collected chunk by chunk and
# joined once, instead of being appended to the buffer (which copies as it grows).
_COLLECT_AT_LEAST: Final = 64 * 1024
# What is left of the buffer is copied into a new bytes object with each chunk while it
# is at most this large or no larger than the chunk, and appended to otherwise.
_SMALL_REST: Final = 4096
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
_MAX_FAST_HEADERS: Final = 1000
_ALTERNATING: Final = b"\n:" * _MAX_FAST_HEADERS
# Escapes are replaced by two bytes, so in place: 0xFF (deleted afterwards) and a byte
# that stands for the character. One translate then turns the separators into NULs and
# those bytes into their characters, and deletes 0xFF.
_MARK: Final = b"\xff"
_ESCAPED_BACKSLASH: Final = b"\xff\xfb"
_ESCAPED_COLON: Final = b"\xff\xfc"
_ESCAPED_LF: Final = b"\xff\xfd"
_ESCAPED_CR: Final = b"\xff\xfe"
_FIELDS: Final = bytes.maketrans(b":\n\xfb\xfc\xfd\xfe", b"\x00\x00\\:\n\r")
_UNESCAPED_LINES: Final = tuple(f"{command}\n".encode() for command in sorted(UNESCAPED_COMMANDS))
_C_OR_S: Final = frozenset({command.encode()[0] for command in UNESCAPED_COMMANDS})
# A content-length of this many digits or more is left to the slow path.
_LONGEST: Final = 16
_header_end = re.compile(b"\n\n").search
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


class Parser:
    """An incremental STOMP parser: feed bytes, take frames and heart-beats.

    The parser is sans-I/O: :meth:`receive_data` buffers bytes as they arrive,
    in any chunking (one byte at a time included), and :meth:`next_event`
    returns the next complete :class:`~stomp_frame.Frame`, the
    :data:`~stomp_frame.HEARTBEAT` for an end-of-line between frames, or
    ``None`` when more bytes are needed. Nothing already searched is searched
    again, so parsing is linear in the size of the stream.

    The parser reads one protocol version at a time (:attr:`version`), exactly
    as its grammar says: STOMP 1.0 has no NACK and no STOMP command, and before
    1.2 a line ends with LF only (a CR before the LF is part of the header value,
    and a CR LF between frames is not a heart-beat). Frames already buffered are
    read under the version set when they are taken, since parsing happens in
    :meth:`next_event`, not in :meth:`receive_data`.

    Before a version is negotiated, a connection's first frames are read with
    ``handshake=True``: until the parser has returned a CONNECT, STOMP or
    CONNECTED frame, it knows every command of every version and takes CR LF
    line ends and heart-beats (a server answering a 1.2 CONNECT may use CR LF;
    a server reads STOMP before it knows the version), escaping still following
    :attr:`version`. A client then sets the negotiated version; :meth:`reset`
    starts the handshake again.

    Errors: malformed input raises :class:`~stomp_frame.ParseError` (or its
    subclass :class:`~stomp_frame.LimitExceeded`) naming the problem and the
    byte offset in the stream. After that the stream cannot be trusted: every
    further call raises the same error until :meth:`reset` is called (which
    also discards what was buffered).

    Which error, when a frame has several problems, does not depend on the
    chunking: it is the problem proved by the fewest bytes of the stream, raised
    as soon as those bytes are buffered, whole or not. In a header block,
    a NUL is proved by the NUL itself; a line over ``max_header_line`` by its first
    byte past the limit (in 1.2, a CR there only once a byte other than LF follows);
    a frame over ``max_frame_size`` by its first byte past the limit; one header
    too many by the LF that ends it; and what is wrong in a line's content (not
    UTF-8, an unknown command, no colon, an undefined escape, an empty name, a
    malformed first ``content-length``) by the LF that ends the line. A
    ``content-length`` too large for the rest of the frame, or a body on a frame
    that may have none, is proved by the end of the header block or of the body.
    When one byte proves several problems, the first in this order is raised:
    NUL, line length, frame size, header count, then the line's content in the
    order just given. The offset is where the problem is: the NUL, the start of
    the line, the bad UTF-8 sequence, or the start of the frame (unknown command,
    header count, frame size, ``content-length``).

    Limits are checked in :meth:`next_event` on what is buffered for the frame
    being read, so as long as the caller takes events after each chunk, memory
    stays bounded by the limits plus one chunk.

    Args:
        version: The protocol version to read.
        limits: Bounds on frame size, header count and header line length.
        handshake: Read the connection's opening frames (see above).
    """

    __slots__ = (
        "_alternating",
        "_body_scan",
        "_buf",
        "_commands",
        "_consumed",
        "_crlf",
        "_error",
        "_escaped",
        "_handshake",
        "_have",
        "_header_counted",
        "_header_lines",
        "_header_scan",
        "_length_seen",
        "_limits",
        "_line_scan",
        "_max_frame_size",
        "_max_header_line",
        "_opens_with_handshake",
        "_parts",
        "_pending",
        "_pos",
        "_unescapes",
        "_version",
    )

    def __init__(
        self,
        version: Version = Version.V1_0,
        *,
        limits: Limits = _DEFAULT_LIMITS,
        handshake: bool = False,
    ) -> None:
        self._limits = limits
        # Read by the fast path of every frame: kept here, not looked up on limits.
        self._max_frame_size = limits.max_frame_size
        self._max_header_line = limits.max_header_line
        self._alternating = _ALTERNATING[: 2 * min(limits.max_headers, _MAX_FAST_HEADERS)]
        self._unescapes: dict[str, str] | None
        self._opens_with_handshake = self._handshake = bool(handshake)
        self.version = version
        self._reset_state()

    def _reset_state(self) -> None:
        # bytes while what is left over between chunks is small (slices of it are bytes,
        # one copy each), a bytearray while a large frame accumulates (see receive_data).
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._consumed = 0
        self._error: ParseError | None = None
        self._header_scan = 0
        self._header_counted = 0
        self._header_lines = 0
        self._line_scan = 0
        # Whether the frame's headers are escaped and whether a content-length header was
        # read, in the lines already checked (read only while _header_lines is not 0).
        self._escaped = False
        self._length_seen = False
        self._body_scan = 0
        self._parts: list[bytes] | None = None
        self._have = 0
        # (command, headers, first, body start, content-length or -1, header size)
        self._pending: tuple[str, HeaderPairs | None, dict[str, str], int, int, int] | None
        self._pending = None

    @property
    def version(self) -> Version:
        """The protocol version the next frames are read under."""
        return self._version

    @version.setter
    def version(self, version: Version) -> None:
        given: object = version
        if not isinstance(given, Version):
            msg = f"version must be a stomp_frame.Version, got {given!r}"
            raise TypeError(msg)
        self._version = version
        self._unescapes = {
            Version.V1_0: None,
            Version.V1_1: _UNESCAPES_1_1,
            Version.V1_2: _UNESCAPES_1_2,
        }[version]
        self._set_grammar()

    def _set_grammar(self) -> None:
        version = self._version
        handshake = self._handshake
        self._commands = COMMANDS if handshake else version.commands
        self._crlf = handshake or version.crlf

    @property
    def handshake(self) -> bool:
        """Whether the parser is reading a connection's opening frames (see the class).

        True from creation (with ``handshake=True``) or :meth:`reset` until the first
        CONNECT, STOMP or CONNECTED frame has been returned.
        """
        return self._handshake

    @property
    def limits(self) -> Limits:
        """The limits this parser enforces."""
        return self._limits

    @property
    def buffered(self) -> int:
        """How many received bytes are not yet returned as events."""
        pending = self._pending[5] if self._pending else 0
        return len(self._buf) - self._pos + pending + self._have

    def reset(self) -> None:
        """Forget buffered bytes and any error; offsets count from zero again.

        A parser made with ``handshake=True`` reads a handshake again.
        """
        self._reset_state()
        if self._handshake is not self._opens_with_handshake:
            self._handshake = self._opens_with_handshake
            self._set_grammar()

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes received from the peer; parse them with :meth:`next_event`."""
        if self._error is not None:
            raise self._error
        parts = self._parts
        if parts is not None:
            # Collecting a large content-length body: keep the chunks, join once.
            chunk = data if type(data) is bytes else bytes(data)
            parts.append(chunk)
            self._have += len(chunk)
            return
        buf = self._buf
        pos = self._pos
        rest = len(buf) - pos
        self._consumed += pos
        self._pos = 0
        if not rest:
            self._buf = data if type(data) is bytes else bytes(data)
        elif rest <= _SMALL_REST or rest <= len(data):
            # Copying what is left costs no more than the new data: linear overall.
            self._buf = b"".join((memoryview(buf)[pos:], data))
        elif isinstance(buf, bytearray):
            del buf[:pos]  # O(1) at the front of a bytearray
            buf += data
        else:
            self._buf = bytearray(memoryview(buf)[pos:])
            self._buf += data

    def next_event(self) -> Frame | HeartBeat | None:
        """Return the next frame or heart-beat, or ``None`` if more bytes are needed.

        Raises:
            ParseError: the bytes are not a valid STOMP stream.
            LimitExceeded: a frame exceeds the parser's limits.
        """
        buf = self._buf
        pos = self._pos
        if (
            pos >= len(buf)
            or self._error is not None
            or self._pending is not None
            or type(buf) is not bytes
            or self._handshake
        ):
            return self._next_event()
        # Fast path: a whole frame is buffered and every header line holds one colon.
        # Whatever else (a partial frame, CRLF, a raw colon in a value, an error, a limit
        # reached) is left to _next_event, which reads the frame again from the start.
        lead = buf[pos]
        if lead == 10:  # LF: a heart-beat
            self._pos = pos + 1
            return HEARTBEAT
        found = _header_end(buf, pos + self._header_scan)
        if found is None or lead == 13:
            return self._next_event()
        end = found.start()
        header = buf[pos:end]
        shape = header.translate(None, _NOT_SHAPE)
        if (
            len(shape) & 1
            or not self._alternating.startswith(shape)
            or end - pos > self._max_header_line
        ):
            return self._next_event()
        version = self._version
        if (
            _BACKSLASH in header
            and version is not _V1_0
            # CONNECT, CONNECTED and STOMP are never escaped (C or S first: a quick test)
            and (lead not in _C_OR_S or not header.startswith(_UNESCAPED_LINES))
        ):
            marked = header.replace(b"\\c", _ESCAPED_COLON)
            if _BACKSLASH in marked:
                # Another escape, or an escaped backslash that "\c" may have cut in two.
                every = _mark_escapes(header, carriage=version is _V1_2)
                if every is None:
                    return self._next_event()  # an undefined escape
                marked = every
            header = marked
        header = header.translate(_FIELDS, _MARK)
        try:
            if version is _V1_0:
                fields = header.decode("utf-8", "surrogateescape").split("\x00")
            else:
                fields = header.decode().split("\x00")
        except UnicodeDecodeError:
            return self._next_event()
        command = fields[0]
        if command not in self._commands:
            return self._next_event()
        # The shape makes fields a command and then name, value, name, value... A plain loop
        # is quicker than dict(zip(it, it)), and much quicker compiled.
        first: dict[str, str] = {}
        count = len(fields)
        index = 1
        while index < count:
            first[fields[index]] = fields[index + 1]
            index += 2
        pairs: HeaderPairs | None = None  # the frame makes them from first
        if len(first) != len(fields) >> 1:  # a name repeats: the pairs are not first's items
            pairs = tuple(zip(fields[1::2], fields[2::2], strict=True))
            first = _first_wins(pairs)
        if "" in first:
            return self._next_event()
        start = end + 2
        size = len(buf)
        length_text = first.get("content-length")
        if length_text is None:
            length = -1
            stop = buf.find(0, start)
            if stop < 0:
                stop = size  # the body is still arriving
        elif length_text.isdigit() and length_text.isascii() and len(length_text) < _LONGEST:
            length = int(length_text)
            stop = start + length
            if stop < size and buf[stop]:
                return self._next_event()  # no NUL after the body
        else:
            return self._next_event()
        if (
            stop + 1 - pos > self._max_frame_size
            or stop - start > _COLLECT_AT_LEAST  # a large body: see _read_body
            or (stop != start and command not in BODY_COMMANDS and version is not _V1_0)
        ):
            return self._next_event()
        if self._header_counted:
            self._header_scan = self._header_counted = self._header_lines = self._line_scan = 0
        if stop >= size:
            # As _parse_headers does: read the body as it arrives.
            self._pending = (command, pairs, first, 0, length, start - pos)
            self._pos = start
            self._body_scan = 0
            return self._next_event()
        self._pos = stop + 1
        return _trusted_frame(command, pairs, first, buf[start:stop])

    def _next_event(self) -> Frame | HeartBeat | None:
        if self._error is not None:
            raise self._error
        try:
            event: Frame | HeartBeat | None = (
                self._read_body() if self._pending is not None else self._read_frame()
            )
        except ParseError as error:
            self._error = error
            raise
        if self._handshake and type(event) is Frame and event.command in UNESCAPED_COMMANDS:
            self._handshake = False
            self._set_grammar()
        return event

    def events(self) -> Iterator[Frame | HeartBeat]:
        """Iterate over the events buffered so far (stops when more bytes are needed).

        The version may be changed between two steps of the iteration: the
        remaining events are read under the new version.
        """
        while (event := self.next_event()) is not None:
            yield event

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | HeartBeat]:
        """Buffer *data* and return every complete event, all read under :attr:`version`."""
        self.receive_data(data)
        return list(self.events())

    # -- internals -------------------------------------------------------------------------

    def _fail(self, reason: str, index: int, error: type[ParseError] = ParseError) -> ParseError:
        return error(reason, self._consumed + index)

    def _read_frame(self) -> Frame | HeartBeat | None:
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if pos >= size:
            return None
        first = buf[pos]
        if first == 10:  # LF
            self._pos = pos + 1
            return HEARTBEAT
        if first == 13:  # CR, must be CR LF
            if not self._crlf:
                # Spec 1.1: "if the sender has no real STOMP frame to send, it MUST send a
                # single newline byte (0x0A)"; CR LF as an end of line is new in 1.2.
                raise self._fail(
                    f"a carriage return between frames (STOMP {self._version} "
                    "ends lines and heart-beats with LF only)",
                    pos,
                )
            if pos + 1 >= size:
                return None
            if buf[pos + 1] != 10:
                raise self._fail(
                    "a carriage return between frames is not followed by a line feed", pos
                )
            self._pos = pos + 2
            return HEARTBEAT

        search = pos + self._header_scan
        end = buf.find(b"\n\n", search)
        # Look for a CRLF header end only if there is a CR at all (one memchr, cheap).
        crlf_end = -1
        if self._crlf and buf.find(13, search, end + 2 if end >= 0 else size) >= 0:
            crlf_end = buf.find(b"\n\r\n", search, end + 2 if end >= 0 else size)
        if crlf_end >= 0:
            end = crlf_end
            body_start = crlf_end + 3
        elif end >= 0:
            body_start = end + 2
        else:
            self._check_partial_headers(pos, search, size)
            return None
        self._header_scan = self._header_counted = self._header_lines = self._line_scan = 0
        return self._parse_headers(pos, end, body_start)

    def _check_partial_headers(self, pos: int, search: int, size: int) -> None:
        problem = self._first_problem(pos, size, search)
        if problem is not None:
            raise problem
        # "\n\r\n" may straddle the chunk boundary: search its first two bytes again.
        self._header_scan = max(0, size - pos - 2)

    def _first_problem(self, pos: int, size: int, search: int) -> ParseError | None:
        """The first problem of the unfinished header block buf[pos:size], or None.

        "First" as the class docstring says (Errors): the problem proved by the fewest
        bytes, then the first in the order NUL, line length, frame size, header count, the
        line's content. Lines before pos + _line_scan were checked by an earlier call and
        bytes before *search* hold no NUL and no LF of the unfinished line; what this call
        checks is recorded for the next one, so that checking stays linear in the block.
        """
        buf = self._buf
        limits = self._limits
        limit = limits.max_header_line
        start = pos + self._line_scan
        number = self._header_lines  # of the line at start; 0 is the command line
        # What line 0 said (read only once it has been checked: the fast path resets the
        # counters above, not these).
        escaped = self._escaped if number else False
        length_seen = self._length_seen if number else False
        find_from = max(start, search)
        # Quick: no NUL, no limit reached, and every new line plainly right (the loop
        # below says which problem comes first, and takes what this does not).
        last = buf.rfind(10, find_from, size)
        if (
            size - pos <= limit
            and size - pos <= limits.max_frame_size
            and buf.find(0, search, size) < 0
            and number + (buf.count(10, find_from, size) if last >= 0 else 0)
            <= limits.max_headers + 1
        ):
            if last < 0:
                self._header_counted = size - pos  # tells the fast path to reset the counters
                return None
            fine = self._plain_lines(start, last, number, escaped=escaped, seen=length_seen)
            if fine is not None:
                self._line_scan = last + 1 - pos
                self._header_lines = number + buf.count(10, start, last) + 1
                self._escaped, self._length_seen = fine
                self._header_counted = size - pos
                return None
        crlf = self._crlf
        # The problem found so far: the byte that proves it, its rank, the error.
        proof = size
        rank = 9
        problem: ParseError | None = None
        nul = buf.find(0, search, size)
        if nul >= 0:
            proof, rank = nul, 0
            problem = self._fail("a frame ends (NUL) before its headers are complete", nul)
        too_big = pos + limits.max_frame_size  # the first byte past the limit
        if too_big < proof:
            proof, rank = too_big, 2
            problem = self._fail(
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
                problem = self._fail(
                    f"a header line is longer than {limit} bytes", start, LimitExceeded
                )
                break
            if stop < 0 or stop >= proof:
                break
            if number > limits.max_headers:
                problem = self._fail(
                    f"a frame has more than {limits.max_headers} headers", pos, LimitExceeded
                )
                break
            wrong, escaped, length_seen = self._line_problem(
                pos, start, stop, number, escaped=escaped, length_seen=length_seen
            )
            if wrong is not None:
                problem = wrong
                break
            number += 1
            start = find_from = stop + 1
        if problem is None:
            self._line_scan = start - pos
            self._header_lines = number
            self._escaped = escaped
            self._length_seen = length_seen
            self._header_counted = size - pos  # tells the fast path to reset the counters
        return problem

    def _plain_lines(
        self, start: int, last: int, number: int, *, escaped: bool, seen: bool
    ) -> tuple[bool, bool] | None:
        """(escaped, content-length seen) if the lines buf[start:last] are plainly right.

        None when they hold a CR, a byte in 0xFB-0xFF, a line without exactly one colon,
        bad UTF-8, an unknown command, an escape, an empty name or a content-length that
        is not plain digits: _first_problem then reads them line by line.
        """
        block = bytes(self._buf[start:last])  # bytes already, unless a bytearray
        if number:
            shape_ok = block.translate(None, _NOT_SHAPE) == b":" + b"\n:" * block.count(10)
        else:
            shape_ok = block.translate(None, _NOT_SHAPE) == b"\n:" * block.count(10)
        if not shape_ok or b"\n:" in block or (number and block[:1] == b":"):
            return None
        try:
            text = block.decode("utf-8", "surrogateescape" if self._version is _V1_0 else "strict")
        except UnicodeDecodeError:
            return None
        if not number:
            command = _partition(text, "\n")[0]
            if command not in self._commands:
                return None
            escaped = self._unescapes is not None and command not in UNESCAPED_COMMANDS
        if (
            escaped
            and _BACKSLASH in block
            and _mark_escapes(block, carriage=self._version is _V1_2) is None
        ):
            return None
        if not seen:
            if number and block.startswith(b"content-length:"):
                at = start
            else:
                at = block.find(b"\ncontent-length:")
                at = -1 if at < 0 else start + at + 1
            if at >= 0:
                end = self._buf.find(10, at, last)
                value = self._buf[at + 15 : last if end < 0 else end]
                digits = value.lstrip(b"0") or b"0"
                if not value.isdigit() or len(digits) > len(str(self._limits.max_frame_size)):
                    return None
                seen = True
        return escaped, seen

    def _line_problem(
        self, pos: int, start: int, stop: int, number: int, *, escaped: bool, length_seen: bool
    ) -> tuple[ParseError | None, bool, bool]:
        """What is wrong with the content of the line buf[start:stop] (*number* 0: the command).

        Returns the error or None, then whether headers are escaped (known from the
        command line) and whether a content-length header has been read.
        """
        try:
            line = self._buf[start:stop].decode(
                "utf-8", "surrogateescape" if self._version is Version.V1_0 else "strict"
            )
        except UnicodeDecodeError as exc:
            return (
                self._fail("a header is not valid UTF-8", start + exc.start),
                escaped,
                length_seen,
            )
        if self._crlf and line[-1:] == "\r":
            line = line[:-1]
        if number == 0:
            if line not in self._commands:
                return self._unknown_command(pos, line), escaped, length_seen
            escaped = self._unescapes is not None and line not in UNESCAPED_COMMANDS
            return None, escaped, length_seen
        name, sep, value = line.partition(":")
        if not sep:
            return self._no_colon(start, line), escaped, length_seen
        unescapes = self._unescapes
        if escaped and unescapes is not None and "\\" in line:
            try:
                name = _unescape(name, unescapes)
                value = _unescape(value, unescapes)
            except _BadEscape as bad:
                return self._bad_escape(start, bad), escaped, length_seen
        if not name:
            return self._fail("a header has an empty name", start), escaped, length_seen
        if name == "content-length" and not length_seen:
            try:
                self._content_length(pos, value)
            except ParseError as error:
                return error, escaped, True
            length_seen = True
        return None, escaped, length_seen

    def _unknown_command(self, pos: int, command: str) -> ParseError:
        shown = command if len(command) <= 40 else command[:40] + "..."
        where = f" in STOMP {self._version}" if command in COMMANDS else ""
        return self._fail(f"unknown command {shown!r}{where}", pos)

    def _no_colon(self, start: int, line: str) -> ParseError:
        shown = line if len(line) <= 40 else line[:40] + "..."
        return self._fail(f"a header line has no colon: {shown!r}", start)

    def _bad_escape(self, start: int, bad: _BadEscape) -> ParseError:
        return self._fail(
            f"undefined escape sequence {bad.sequence!r} in STOMP {self._version}", start
        )

    def _content_length(self, pos: int, text: str) -> int:
        """The value of a content-length header, checked (raises ParseError)."""
        if not (text.isascii() and text.isdigit()):
            raise self._fail(f"malformed content-length {text!r}", pos)
        digits = text.lstrip("0") or "0"
        max_frame_size = self._limits.max_frame_size
        if len(digits) > len(str(max_frame_size)):
            # Over the limit for sure; and int() refuses more than 4300 digits.
            shown = digits if len(digits) <= 40 else digits[:40] + "..."
            raise self._fail(
                f"a frame is larger than {max_frame_size} bytes (content-length {shown})",
                pos,
                LimitExceeded,
            )
        return int(digits)

    def _block_problem(self, pos: int, body_start: int, found: ParseError) -> ParseError:
        """The error to raise for the complete header block at pos, *found* wrong.

        The first problem of the block read as the unfinished block of all its bytes but
        the last (what chunked feeding may have checked), else *found* (a problem that
        only the complete block shows: content-length against the frame size, a body).
        """
        self._line_scan = self._header_lines = 0
        problem = self._first_problem(pos, body_start - 1, pos)
        self._header_scan = self._header_counted = self._header_lines = self._line_scan = 0
        return found if problem is None else problem

    def _parse_headers(self, pos: int, end: int, body_start: int) -> Frame | None:
        buf = self._buf
        version = self._version
        limits = self._limits
        # Whatever these checks find first, the error raised is the first problem of the
        # block in the order of the class docstring (Errors): see _block_problem.
        try:
            try:
                text = buf[pos:end].decode(
                    "utf-8", "surrogateescape" if version is Version.V1_0 else "strict"
                )
            except UnicodeDecodeError as exc:
                invalid = self._fail("a header is not valid UTF-8", pos + exc.start)
                invalid.__suppress_context__ = True  # from None, which mypyc drops
                raise invalid  # noqa: B904
            if "\x00" in text:
                nul = buf.find(0, pos, end)
                raise self._fail("a frame ends (NUL) before its headers are complete", nul)
            lines = text.split("\n")
            if self._crlf and "\r" in text:
                # Spec 1.2: "EOL = [CR] LF"; before 1.2 a CR is an octet of the line like
                # any other (spec 1.1: "header-value = *<any OCTET except LF or ":">").
                lines = [line[:-1] if line[-1:] == "\r" else line for line in lines]
            command = lines[0]
            if command not in self._commands:
                raise self._unknown_command(pos, command)
            del lines[0]
            if len(lines) > limits.max_headers:
                raise self._fail(
                    f"a frame has more than {limits.max_headers} headers", pos, LimitExceeded
                )
            if end - pos > limits.max_header_line:
                self._check_line_lengths(pos, text, [command, *lines])
            pairs = tuple(
                [(name, value) for name, sep, value in map(_partition, lines, repeat(":")) if sep]
            )
            if len(pairs) != len(lines):
                self._raise_bad_line(pos, text, lines)
            unescapes = self._unescapes
            if unescapes is not None and "\\" in text and command not in UNESCAPED_COMMANDS:
                pairs = self._unescape_pairs(pos, text, pairs, unescapes)
            first = _first_wins(pairs)
            if "" in first:
                index = self._line_offset(
                    pos, text, next(i for i, p in enumerate(pairs) if not p[0])
                )
                raise self._fail("a header has an empty name", index)

            length_text = first.get("content-length")
            length = -1
            if length_text is not None:
                length = self._content_length(pos, length_text)
                if body_start - pos + length + 1 > limits.max_frame_size:
                    raise self._fail(
                        f"a frame is larger than {limits.max_frame_size} bytes "
                        f"(content-length {length})",
                        pos,
                        LimitExceeded,
                    )
                if length and command not in BODY_COMMANDS and version is not Version.V1_0:
                    # Spec 1.1+: "Only the SEND, MESSAGE, and ERROR frames MAY have a body."
                    raise self._fail(f"a {command} frame must not have a body", body_start)
                stop = body_start + length
                complete = stop < len(buf) and buf[stop] == 0
            else:
                stop = buf.find(0, body_start)
                complete = stop >= 0
                if complete and stop + 1 - pos > limits.max_frame_size:
                    raise self._fail(
                        f"a frame is larger than {limits.max_frame_size} bytes",
                        pos,
                        LimitExceeded,
                    )
        except ParseError as found:
            problem = self._block_problem(pos, body_start, found)
            problem.__suppress_context__ = True  # from None, which mypyc drops
            raise problem  # noqa: B904
        # Fast path: the whole frame is buffered and needs no further check.
        if (
            complete
            and stop - body_start <= _COLLECT_AT_LEAST  # else let go of the buffer: _read_body
            and (stop == body_start or command in BODY_COMMANDS or version is Version.V1_0)
        ):
            self._pos = stop + 1
            return _trusted_frame(command, pairs, first, bytes(buf[body_start:stop]))
        self._pending = (command, pairs, first, 0, length, body_start - pos)
        self._pos = body_start
        self._body_scan = 0
        return self._read_body()

    def _check_line_lengths(self, pos: int, text: str, lines: list[str]) -> None:
        limit = self._limits.max_header_line
        for number, line in enumerate(lines):
            if len(line.encode("utf-8", "surrogateescape")) > limit:
                offset = pos if number == 0 else self._line_offset(pos, text, number - 1)
                raise self._fail(
                    f"a header line is longer than {limit} bytes", offset, LimitExceeded
                )

    def _read_body(self) -> Frame | None:
        pending = self._pending
        assert pending is not None
        command, pairs, first, _, length, header_size = pending
        buf = self._buf
        start = self._pos
        size = len(buf)
        if length >= 0:
            if self._parts is not None:
                return self._join_body(command, pairs, first, length)
            stop = start + length
            if stop >= size:
                if length - (size - start) > _COLLECT_AT_LEAST:
                    self._parts = [bytes(buf[start:])]
                    self._have = size - start
                    self._consumed += start
                    self._buf = b""
                    self._pos = 0
                return None
            if buf[stop] != 0:
                raise self._fail(
                    f"no NUL after a body of content-length {length}: "
                    "the content-length is wrong or the frame is truncated",
                    stop,
                )
        else:
            stop = buf.find(0, start + self._body_scan)
            # The smallest the frame can be: up to its NUL, or what is buffered plus a NUL.
            least = (stop if stop >= 0 else size) + 1 - start + header_size
            if least > self._limits.max_frame_size:
                raise self._fail(
                    f"a frame is larger than {self._limits.max_frame_size} bytes",
                    start - header_size,
                    LimitExceeded,
                )
            if stop < 0:
                self._body_scan = size - start
                return None
        self._pending = None
        if stop - start > _COLLECT_AT_LEAST:
            with memoryview(buf) as view:
                body = bytes(view[start:stop])
                frame = self._finish(command, pairs, first, body, start)
                if size - stop - 1 <= stop - start:
                    # Let go of the buffer as the frame is handed out, so that the body is
                    # not held twice until the next receive_data (copying what follows
                    # costs less than the body did).
                    self._buf = bytes(view[stop + 1 :])
                    self._consumed += stop + 1
                    self._pos = 0
                    return frame
            self._pos = stop + 1
            return frame
        body = bytes(buf[start:stop])
        self._pos = stop + 1
        return self._finish(command, pairs, first, body, start)

    def _join_body(
        self,
        command: str,
        pairs: HeaderPairs | None,
        first: dict[str, str],
        length: int,
    ) -> Frame | None:
        """Complete a large content-length body collected as separate chunks (one copy)."""
        if self._have <= length:
            return None
        parts = self._parts
        assert parts is not None
        overflow = self._have - length  # bytes from the NUL to the end of what was received
        after: list[bytes] = []
        while overflow > len(parts[-1]):  # the NUL is in an earlier chunk
            overflow -= len(parts[-1])
            after.append(parts.pop())
        last = parts.pop()
        cut = len(last) - overflow  # index of the NUL in that chunk
        if last[cut] != 0:
            raise self._fail(
                f"no NUL after a body of content-length {length}: "
                "the content-length is wrong or the frame is truncated",
                length,
            )
        if cut:
            parts.append(last[:cut])
        body = b"".join(parts)
        self._parts = None
        self._have = 0
        self._pending = None
        self._buf = b"".join((last[cut + 1 :], *reversed(after)))
        self._pos = 0
        self._consumed += length + 1
        return self._finish(command, pairs, first, body, 0)

    def _finish(
        self,
        command: str,
        pairs: HeaderPairs | None,
        first: dict[str, str],
        body: bytes,
        start: int,
    ) -> Frame:
        if body and command not in BODY_COMMANDS and self._version is not Version.V1_0:
            # Spec 1.1+: "Only the SEND, MESSAGE, and ERROR frames MAY have a body."
            raise self._fail(f"a {command} frame must not have a body", start)
        return _trusted_frame(command, pairs, first, body)

    def _unescape_pairs(
        self,
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
                raise self._fail(
                    f"undefined escape sequence {bad.sequence!r} in STOMP {self._version}",
                    self._line_offset(pos, text, number),
                ) from None
            line_end = text.find("\n", found)
            if line_end < 0:
                break
            found = text.find("\\", line_end)
        return tuple(result)

    def _raise_bad_line(self, pos: int, text: str, lines: list[str]) -> None:
        number = next(i for i, line in enumerate(lines) if ":" not in line)
        shown = lines[number] if len(lines[number]) <= 40 else lines[number][:40] + "..."
        raise self._fail(
            f"a header line has no colon: {shown!r}", self._line_offset(pos, text, number)
        )

    def _line_offset(self, pos: int, text: str, header_number: int) -> int:
        """Byte index in the buffer of the start of the given header line (error path only)."""
        lines = text.split("\n")
        before = "\n".join(lines[: header_number + 1]) + "\n"
        return pos + len(before.encode("utf-8", "surrogateescape"))

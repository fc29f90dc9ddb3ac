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
from stomp_frame._headers import (
    _BACKSLASH,
    _ESCAPED_COLON,
    _NOT_SHAPE,
    _UNESCAPES_1_1,
    _UNESCAPES_1_2,
    _V1_0,
    _V1_2,
    _mark_escapes,
    _partition,
    block_problem,
    check_line_lengths,
    content_length,
    first_problem,
    line_offset,
    raise_bad_line,
    unescape_pairs,
    unknown_command,
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


_MAX_FAST_HEADERS: Final = 1000
_ALTERNATING: Final = b"\n:" * _MAX_FAST_HEADERS
# Escapes are replaced by two bytes, so in place: 0xFF (deleted afterwards) and a byte
# that stands for the character. One translate then turns the separators into NULs and
# those bytes into their characters, and deletes 0xFF.
_MARK: Final = b"\xff"
_FIELDS: Final = bytes.maketrans(b":\n\xfb\xfc\xfd\xfe", b"\x00\x00\\:\n\r")
_UNESCAPED_LINES: Final = tuple(f"{command}\n".encode() for command in sorted(UNESCAPED_COMMANDS))
_C_OR_S: Final = frozenset({command.encode()[0] for command in UNESCAPED_COMMANDS})
# A content-length of this many digits or more is left to the slow path.
_LONGEST: Final = 16
_header_end = re.compile(b"\n\n").search


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
        if pos >= len(buf) and self._error is None and self._pending is None:
            return None  # all read: the last call of every burst
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
        problem = first_problem(self, pos, size, search)
        if problem is not None:
            raise problem
        # "\n\r\n" may straddle the chunk boundary: search its first two bytes again.
        self._header_scan = max(0, size - pos - 2)

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
                raise unknown_command(self, pos, command)
            del lines[0]
            if len(lines) > limits.max_headers:
                raise self._fail(
                    f"a frame has more than {limits.max_headers} headers", pos, LimitExceeded
                )
            if end - pos > limits.max_header_line:
                check_line_lengths(self, pos, text, [command, *lines])
            pairs = tuple(
                [(name, value) for name, sep, value in map(_partition, lines, repeat(":")) if sep]
            )
            if len(pairs) != len(lines):
                raise_bad_line(self, pos, text, lines)
            unescapes = self._unescapes
            if unescapes is not None and "\\" in text and command not in UNESCAPED_COMMANDS:
                pairs = unescape_pairs(self, pos, text, pairs, unescapes)
            first = _first_wins(pairs)
            if "" in first:
                index = line_offset(pos, text, next(i for i, p in enumerate(pairs) if not p[0]))
                raise self._fail("a header has an empty name", index)

            length_text = first.get("content-length")
            length = -1
            if length_text is not None:
                length = content_length(self, pos, length_text)
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
            problem = block_problem(self, pos, body_start, found)
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

"""The frames of an open client connection (RFC 6455 section 5), on the hot path.

wsproto makes and reads the upgrade; once it is accepted every STOMP frame passes here:
:func:`encode_masked` writes one masked client frame, :class:`FrameReader` reads the
server's frames incrementally.
"""

from __future__ import annotations

import os
from typing import Final

from stomp_websocket._errors import RemoteWebSocketError

__all__ = ["BINARY", "CLOSE", "PING", "PONG", "TEXT", "FrameReader", "encode_masked"]

CONTINUATION: Final = 0x0
TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA
_DATA: Final = frozenset({CONTINUATION, TEXT, BINARY})
_CONTROL: Final = frozenset({CLOSE, PING, PONG})
_KEYS_AT_ONCE: Final = 1024  # masking keys drawn from os.urandom per call


class _Keys:
    """Masking keys from the operating system's random source, drawn in batches."""

    __slots__ = ("_at", "_pool")

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        at = self._at
        if at >= len(self._pool):
            self._pool = os.urandom(4 * _KEYS_AT_ONCE)
            at = 0
        self._at = at + 4
        return self._pool[at : at + 4]


_KEYS: Final = _Keys()


def encode_masked(payload: bytes, *, opcode: int = BINARY) -> bytes:
    """One final client frame (FIN set, masked) carrying *payload*.

    RFC 6455 5.3: "The masking key is a 32-bit value chosen at random by the client
    ... from a strong source of entropy"; 5.2: the payload length is 7 bits, or 126 and
    16 bits, or 127 and 64 bits.
    """
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 0x10000:
        header = bytes((first, 0xFE)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, 0xFF)) + size.to_bytes(8, "big")
    key = _KEYS.next()
    if not size:
        return header + key
    mask = key * (size // 4 + 1)
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(mask[:size], "little")).to_bytes(
        size, "little"
    )
    return header + key + masked


class FrameReader:
    """The server's frames, read incrementally (unmasked, no extension negotiated).

    :meth:`feed` returns the payload bytes of the data frames read (text, binary and
    continuation alike: to STOMP they are one byte stream; text is not checked for UTF-8)
    and the control frames; a close frame is the last thing read (what follows it is
    dropped). A frame is given out once it is whole.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> tuple[list[bytes], list[tuple[int, bytes]] | None]:
        """Take *data*; return ``(data payloads, control frames or None)``.

        Raises:
            RemoteWebSocketError: a frame RFC 6455 forbids from a server (masked, RSV bits
                set, an unknown opcode, a fragmented or long control frame), with the
                close code 1002.
        """
        buffer = self._buffer
        if buffer:
            buffer += data
            view: bytes | bytearray = buffer
        else:
            view = data
        size = len(view)
        at = 0
        payloads: list[bytes] = []
        controls: list[tuple[int, bytes]] | None = None
        while size - at >= 2:
            first = view[at]
            second = view[at + 1]
            length = second & 0x7F
            start = at + 2
            if length == 126:
                if size - at < 4:
                    break
                length = int.from_bytes(view[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(view[start : start + 8], "big")
                start += 8
            end = start + length
            if end > size:
                break
            opcode = first & 0x0F
            if second & 0x80 or first & 0x70 or (opcode not in _DATA and opcode not in _CONTROL):
                _refuse(first, second)
            if opcode in _DATA:
                payloads.append(bytes(view[start:end]))
            else:
                if length > 125 or not first & 0x80:
                    msg = f"a control frame (opcode {opcode}) that is fragmented or too long"
                    raise RemoteWebSocketError(msg, code=1002)
                if controls is None:
                    controls = []
                controls.append((opcode, bytes(view[start:end])))
                if opcode == CLOSE:  # RFC 6455 5.5.1: no more data after it
                    at = size
                    break
            at = end
        if buffer:
            del buffer[:at]
        elif at < size:
            buffer += view[at:]
        return payloads, controls


def _refuse(first: int, second: int) -> None:
    if second & 0x80:
        msg = "a masked frame from the server (RFC 6455 5.1: servers never mask)"
    elif first & 0x70:
        msg = "a frame with RSV bits set, but no extension was negotiated"
    else:
        msg = f"a frame with the unknown opcode {first & 0x0F:#x}"
    raise RemoteWebSocketError(msg, code=1002)

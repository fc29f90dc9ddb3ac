"""Client data frames, masked (RFC 6455 section 5.3): the one path every STOMP frame takes."""

from __future__ import annotations

import os
from typing import Final

__all__ = ["encode_masked"]

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


def encode_masked(payload: bytes, *, opcode: int = 0x2) -> bytes:
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

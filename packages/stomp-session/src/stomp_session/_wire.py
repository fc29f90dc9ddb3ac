"""Bytes the session writes without building a frame: the fast paths of SEND and ACK/NACK.

Each writes exactly what the full path (stomp_commands, then stomp_frame.serialize)
writes for the same request; the tests compare the two.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACK_LINE", "NACK_LINE", "SEND_PREFIXES", "escape_v1_2"]

SEND_PREFIXES: Final = 256
"""How many destinations' SEND prefixes a session keeps (then it starts again)."""

ACK_LINE: Final = b"ACK\nid:"
"""The command line and the start of the ``id`` header of a STOMP 1.2 ACK."""
NACK_LINE: Final = b"NACK\nid:"
"""The same for a NACK."""


def escape_v1_2(value: str) -> bytes:
    r"""Return *value* as UTF-8 with STOMP 1.2's escapes (``\\``, ``\c``, ``\n``, ``\r``).

    The caller keeps NUL out (the full path refuses it).
    """
    if "\\" not in value and "\n" not in value and "\r" not in value:
        return value.replace(":", "\\c").encode()  # the common case: colons at most
    data = value.encode().replace(b"\\", b"\\\\").replace(b":", b"\\c")
    return data.replace(b"\n", b"\\n").replace(b"\r", b"\\r")

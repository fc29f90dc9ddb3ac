"""stomp-frame: the STOMP 1.0, 1.1 and 1.2 wire format, with no dependencies.

Bytes to frames with the incremental :class:`Parser`, frames to bytes with
:func:`serialize`. Nothing here does I/O.

>>> from stomp_frame import Frame, Parser, Version, serialize
>>> data = serialize(Frame("SEND", {"destination": "/queue/a"}, b"hi"), Version.V1_2)
>>> Parser(Version.V1_2).feed(data)
[Frame('SEND', (('destination', '/queue/a'),), b'hi')]
"""

from __future__ import annotations

from stomp_frame._errors import FrameError, InvalidFrame, LimitExceeded, ParseError
from stomp_frame._frame import HEARTBEAT, REDACTED_HEADERS, Frame, HeartBeat, Limits
from stomp_frame._parser import COMPILED, Parser
from stomp_frame._serializer import HEARTBEAT_BYTES, serialize
from stomp_frame._version import (
    BODY_COMMANDS,
    CLIENT_COMMANDS,
    COMMANDS,
    SERVER_COMMANDS,
    UNESCAPED_COMMANDS,
    Version,
)

__all__ = [
    "BODY_COMMANDS",
    "CLIENT_COMMANDS",
    "COMMANDS",
    "COMPILED",
    "HEARTBEAT",
    "HEARTBEAT_BYTES",
    "REDACTED_HEADERS",
    "SERVER_COMMANDS",
    "UNESCAPED_COMMANDS",
    "Frame",
    "FrameError",
    "HeartBeat",
    "InvalidFrame",
    "LimitExceeded",
    "Limits",
    "ParseError",
    "Parser",
    "Version",
    "serialize",
]

__version__ = "0.1.0"

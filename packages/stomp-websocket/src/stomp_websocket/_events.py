"""What a WebSocket codec reports while it decodes: the upgrade, STOMP bytes, the close."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = [
    "STOMP_SUBPROTOCOLS",
    "Closed",
    "CodecState",
    "Opened",
    "StompData",
    "WebSocketEvent",
    "subprotocol_version",
]

STOMP_SUBPROTOCOLS: Final = ("v12.stomp", "v11.stomp", "v10.stomp")
"""The STOMP WebSocket subprotocols, newest first (STOMP 1.2 spec, "STOMP over WebSocket")."""

_VERSIONS: Final = {"v10.stomp": "1.0", "v11.stomp": "1.1", "v12.stomp": "1.2"}


def subprotocol_version(subprotocol: str | None) -> str | None:
    """The STOMP version a subprotocol names (``"v12.stomp"`` -> ``"1.2"``), else ``None``.

    ``None`` for no subprotocol and for names that fix no version (``"stomp"``).
    """
    if subprotocol is None:
        return None
    return _VERSIONS.get(subprotocol.lower())


class CodecState(enum.Enum):
    """Where a WebSocket connection is."""

    CONNECTING = "connecting"
    """The upgrade request is out (or not yet made); no answer yet."""
    OPEN = "open"
    """The upgrade was accepted: messages flow both ways."""
    CLOSING = "closing"
    """One side sent its close frame; the other's is awaited."""
    CLOSED = "closed"
    """Both close frames passed, the upgrade was refused, or the transport ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """The peer accepted the upgrade (client side) or asked for it (server side).

    Attributes:
        subprotocol: The negotiated subprotocol (``"v12.stomp"``), or ``None`` when the
            server chose none.
        headers: The other HTTP headers of the upgrade, names lower-cased.
        path: The path the client asked for (``"/ws"``; server side only, else ``""``).
    """

    subprotocol: str | None
    headers: tuple[tuple[str, str], ...] = ()
    path: str = ""


@dataclass(frozen=True, slots=True)
class StompData:
    """STOMP bytes carried by the messages decoded from one input, in order.

    STOMP frames may start and end anywhere in them: a frame split over several
    messages, or several frames in one message, are one byte stream for the STOMP parser.

    Attributes:
        data: The bytes (text messages are encoded as UTF-8).
    """

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    """The peer closed the WebSocket, or the transport ended without a close frame.

    Attributes:
        code: The close code (1000 normal, 1001 going away, 1006 no close frame, ...).
        reason: The peer's reason text, possibly empty.
    """

    code: int
    reason: str = ""

    def __str__(self) -> str:
        return f"code {self.code}" + (f" ({self.reason})" if self.reason else "")


WebSocketEvent: TypeAlias = Opened | StompData | Closed
"""Every event a codec reports (match it exhaustively)."""

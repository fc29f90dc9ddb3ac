"""The errors of stomp-websocket: one base, the peer's faults and the caller's misuse."""

from __future__ import annotations

__all__ = ["LocalWebSocketError", "RemoteWebSocketError", "UpgradeRefused", "WebSocketError"]


class WebSocketError(Exception):
    """Base class of every error this package raises."""


class RemoteWebSocketError(WebSocketError):
    """The peer broke the WebSocket protocol (a bad upgrade answer, a bad frame).

    Attributes:
        code: The WebSocket close code that fits the fault (1002, a protocol error), or
            ``None`` while the upgrade was not done.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class UpgradeRefused(RemoteWebSocketError):
    """The server answered the upgrade request with an HTTP status other than 101.

    A 404 (wrong path), 401 or 403 (credentials or origin refused), 400 (the upgrade
    request was refused) or 5xx: the message says the status, its reason and the
    start of the body.

    Attributes:
        status_code: The HTTP status code.
        reason: The reason phrase of the status line (``"Not Found"``); the standard
            phrase of the status when the server sent none.
        body: The start of the response body received with the status (at most 512 bytes).
    """

    def __init__(self, status_code: int, reason: str, body: bytes = b"") -> None:
        text = f"the WebSocket upgrade was refused: HTTP {status_code}"
        if reason:
            text += f" {reason}"
        snippet = body[:200].decode("utf-8", "replace").strip()
        if snippet:
            text += f" ({snippet})"
        super().__init__(text)
        self.status_code = status_code
        self.reason = reason
        self.body = body[:512]


class LocalWebSocketError(WebSocketError):
    """The caller used a codec in a way its state does not allow (frame before the upgrade)."""

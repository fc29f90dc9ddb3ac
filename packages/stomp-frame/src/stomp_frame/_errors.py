"""The exceptions of stomp-frame: one base class, a remote and a local branch."""

from __future__ import annotations

__all__ = ["FrameError", "InvalidFrame", "LimitExceeded", "ParseError"]


class FrameError(Exception):
    """Base class of every error raised by stomp-frame."""


class ParseError(FrameError):
    """The peer sent bytes that are not a valid STOMP stream (a *remote* error).

    After a :class:`ParseError` the stream cannot be trusted any more: the parser
    refuses further input (it raises the same error again) until it is
    :meth:`~stomp_frame.Parser.reset`, and the connection should be closed.

    Attributes:
        reason: What was wrong, in words.
        offset: Byte offset in the whole stream (counted from the parser's
            creation or last reset) at which the problem was found.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} (at byte {offset} of the stream)")
        self.reason = reason
        self.offset = offset


class LimitExceeded(ParseError):
    """A frame from the peer exceeds one of the parser's :class:`~stomp_frame.Limits`."""


class InvalidFrame(FrameError, ValueError):
    """The caller asked for a frame that cannot exist or cannot be written (a *local* error).

    Raised when a :class:`~stomp_frame.Frame` is built with bad values, and when
    a frame cannot be serialized for the requested protocol version without
    corrupting the stream (for example a line feed in a STOMP 1.0 header).
    """

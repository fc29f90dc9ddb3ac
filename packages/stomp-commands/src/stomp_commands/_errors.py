"""The exceptions of stomp-commands: one base class, a local and a remote branch."""

from __future__ import annotations

__all__ = ["CommandError", "LocalCommandError", "RemoteCommandError"]


class CommandError(Exception):
    """Base class of every error raised by stomp-commands."""


class LocalCommandError(CommandError, ValueError):
    """The caller asked for a frame the protocol version does not allow (a *local* error).

    Examples: a NACK on STOMP 1.0, a SUBSCRIBE without ``id`` on 1.1 or later, a
    header value with a line feed on 1.0 (which cannot escape it), an ACK for a
    1.2 message that carries no ``ack`` header. Nothing was sent; fix the call.
    Messages never contain header values, so a passcode cannot leak through them.
    """


class RemoteCommandError(CommandError):
    """The server sent a frame that breaks the protocol (a *remote* error).

    Examples: a MESSAGE without ``message-id``, a CONNECTED naming a version the
    client did not offer, a malformed ``heart-beat`` header, a RECEIPT without
    ``receipt-id``.

    Attributes:
        command: The command of the offending server frame.
    """

    def __init__(self, message: str, *, command: str) -> None:
        super().__init__(message)
        self.command = command

"""The STOMP protocol versions, and which commands exist in each direction."""

from __future__ import annotations

import enum

__all__ = [
    "BODY_COMMANDS",
    "CLIENT_COMMANDS",
    "COMMANDS",
    "SERVER_COMMANDS",
    "UNESCAPED_COMMANDS",
    "Version",
]


class Version(enum.Enum):
    """A STOMP protocol version.

    ``Version("1.2")`` looks a version up by its wire name; :attr:`value` gives
    the wire name back.
    """

    V1_0 = "1.0"
    V1_1 = "1.1"
    V1_2 = "1.2"

    def __str__(self) -> str:
        return self.value

    @property
    def escapes_headers(self) -> bool:
        """Whether header names and values are escaped (STOMP 1.1 and later)."""
        return self is not Version.V1_0

    @property
    def commands(self) -> frozenset[str]:
        """The commands of this version, in both directions.

        STOMP 1.0 has neither NACK nor STOMP. Spec 1.1 lists "NACK frames for
        negative acknowledgment of message receipt" among the "new features not
        present in STOMP 1.0", and says "Clients that use the STOMP frame instead of
        the CONNECT frame will only be able to connect to STOMP 1.1 servers".
        """
        return _VERSION_COMMANDS[self]

    @property
    def crlf(self) -> bool:
        """Whether a line may end with CR LF (STOMP 1.2); before 1.2 only LF ends a line.

        Spec 1.2, changes in the protocol: "it is now possible to end frame lines with
        carriage return plus line feed instead of only line feed".
        """
        return self is Version.V1_2


CLIENT_COMMANDS: frozenset[str] = frozenset(
    {
        "CONNECT",
        "STOMP",
        "SEND",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "ACK",
        "NACK",
        "BEGIN",
        "COMMIT",
        "ABORT",
        "DISCONNECT",
    }
)
"""Commands a client sends."""

SERVER_COMMANDS: frozenset[str] = frozenset({"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"})
"""Commands a server sends."""

COMMANDS: frozenset[str] = CLIENT_COMMANDS | SERVER_COMMANDS
"""Every command of STOMP 1.0, 1.1 and 1.2."""

_VERSION_COMMANDS: dict[Version, frozenset[str]] = {
    Version.V1_0: COMMANDS - {"NACK", "STOMP"},
    Version.V1_1: COMMANDS,
    Version.V1_2: COMMANDS,
}

BODY_COMMANDS: frozenset[str] = frozenset({"SEND", "MESSAGE", "ERROR"})
"""Spec 1.1+: "Only the SEND, MESSAGE, and ERROR frames MAY have a body."""

UNESCAPED_COMMANDS: frozenset[str] = frozenset({"CONNECT", "STOMP", "CONNECTED"})
"""Spec 1.2: "CONNECT and CONNECTED frames do not escape the carriage return, line feed
or colon octets" (STOMP is CONNECT under another name)."""

r"""stomp-commands: every STOMP client frame built, every server frame read, per protocol version.

Stateless functions and nothing else: the builders take the negotiated
:class:`~stomp_frame.Version` and return a :class:`~stomp_frame.Frame`
(write it with :func:`stomp_frame.serialize`); the readers take a received frame
and return a typed view. Every difference between STOMP 1.0, 1.1 and 1.2 is
decided here. Misuse raises :class:`LocalCommandError`; a server frame that
breaks the protocol raises :class:`RemoteCommandError`.

>>> from stomp_frame import Version, serialize
>>> from stomp_commands import send
>>> serialize(send(Version.V1_2, "/queue/a", b"hi"), Version.V1_2)
b'SEND\ndestination:/queue/a\ncontent-length:2\n\nhi\x00'
"""

from __future__ import annotations

from stomp_commands._client import (
    abort,
    ack,
    begin,
    commit,
    connect,
    disconnect,
    heart_beat,
    nack,
    send,
    subscribe,
    unsubscribe,
)
from stomp_commands._common import ACK_MODES, ALL_VERSIONS, AckMode, Headers
from stomp_commands._errors import CommandError, LocalCommandError, RemoteCommandError
from stomp_commands._server import (
    ConnectedInfo,
    ErrorInfo,
    MessageInfo,
    ReceiptInfo,
    read_connected,
    read_error,
    read_message,
    read_receipt,
)

__all__ = [
    "ACK_MODES",
    "ALL_VERSIONS",
    "AckMode",
    "CommandError",
    "ConnectedInfo",
    "ErrorInfo",
    "Headers",
    "LocalCommandError",
    "MessageInfo",
    "ReceiptInfo",
    "RemoteCommandError",
    "abort",
    "ack",
    "begin",
    "commit",
    "connect",
    "disconnect",
    "heart_beat",
    "nack",
    "read_connected",
    "read_error",
    "read_message",
    "read_receipt",
    "send",
    "subscribe",
    "unsubscribe",
]

__version__ = "0.1.0"

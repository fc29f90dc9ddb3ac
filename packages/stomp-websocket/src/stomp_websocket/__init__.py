r"""STOMP over WebSocket, sans I/O: the client's upgrade, framing, pings and close, on wsproto.

:class:`WebSocketCodec` turns the bytes a client reads into STOMP bytes and each STOMP
frame to write into one WebSocket message; the caller moves the bytes (a socket, a
Twisted protocol, an asyncio stream; TLS around it for ``wss://``).

Example:
    >>> codec = WebSocketCodec("broker.test:15674", "/ws")
    >>> codec.handshake().split(b"\r\n")[0]
    b'GET /ws HTTP/1.1'
    >>> codec.state
    <CodecState.CONNECTING: 'connecting'>

:class:`ServerCodec` is the other side, for test brokers.
"""

from stomp_websocket._client import WebSocketCodec, host_header
from stomp_websocket._errors import (
    LocalWebSocketError,
    RemoteWebSocketError,
    UpgradeRefused,
    WebSocketError,
)
from stomp_websocket._events import (
    STOMP_SUBPROTOCOLS,
    Closed,
    CodecState,
    Opened,
    StompData,
    WebSocketEvent,
    subprotocol_version,
)
from stomp_websocket._server import ServerCodec, ServerEvent, UpgradeRequested

__all__ = [
    "STOMP_SUBPROTOCOLS",
    "Closed",
    "CodecState",
    "LocalWebSocketError",
    "Opened",
    "RemoteWebSocketError",
    "ServerCodec",
    "ServerEvent",
    "StompData",
    "UpgradeRefused",
    "UpgradeRequested",
    "WebSocketCodec",
    "WebSocketError",
    "WebSocketEvent",
    "host_header",
    "subprotocol_version",
]

__version__ = "0.1.0"

# Show the public path, not the private module, in reprs and tracebacks.
for _name in __all__:
    if isinstance(globals()[_name], type) or callable(globals()[_name]):
        globals()[_name].__module__ = __name__
del _name

"""STOMP over WebSocket for the client core: the codec of a ``ws://``/``wss://`` broker.

stomp-websocket is optional (each client's ``websocket`` extra): it is imported only for
a URI that names a WebSocket broker, and its absence is said when the client is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stomp_core._errors import InvalidRequest
from stomp_failover import Broker, FailoverUri
from stomp_frame import Version

if TYPE_CHECKING:
    from stomp_websocket import WebSocketCodec

__all__ = ["MISSING_EXTRA", "check_websocket_support", "new_codec", "subprotocols"]

MISSING_EXTRA = (
    "{broker} is a WebSocket broker, and STOMP over WebSocket needs the stomp-websocket "
    "package: install the websocket extra of your client (pip install stomp-sync[websocket], "
    "stomp-asyncio[websocket] or stomp-twisted[websocket])"
)
"""The message of a ``ws://`` URI without stomp-websocket installed."""

_SUBPROTOCOLS = {Version.V1_0: "v10.stomp", Version.V1_1: "v11.stomp", Version.V1_2: "v12.stomp"}


def check_websocket_support(uri: FailoverUri) -> None:
    """Refuse a URI with a WebSocket broker when stomp-websocket is not installed.

    Raises:
        InvalidRequest: naming the broker and the extra to install.
    """
    for broker in uri.brokers:
        if broker.websocket:
            try:
                import stomp_websocket  # noqa: F401, PLC0415
            except ImportError:
                raise InvalidRequest(MISSING_EXTRA.format(broker=broker)) from None
            return


def subprotocols(versions: tuple[Version, ...]) -> tuple[str, ...]:
    """The WebSocket subprotocols for the STOMP versions offered, newest first."""
    return tuple(_SUBPROTOCOLS[v] for v in sorted(versions, key=lambda v: v.value, reverse=True))


def new_codec(
    broker: Broker, versions: tuple[Version, ...], headers: tuple[tuple[str, str], ...]
) -> WebSocketCodec:
    """The codec of one connection to *broker* (binary messages, any body survives)."""
    from stomp_websocket import WebSocketCodec, host_header  # noqa: PLC0415

    return WebSocketCodec(
        host_header(broker.host, broker.port, tls=broker.tls),
        broker.path,
        subprotocols=subprotocols(versions),
        extra_headers=headers,
    )

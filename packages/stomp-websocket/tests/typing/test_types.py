"""Static checks of the public types, run by mypy (the types session); nothing runs here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stomp_websocket import (
    Closed,
    CodecState,
    Opened,
    ServerCodec,
    ServerEvent,
    StompData,
    UpgradeRefused,
    WebSocketCodec,
    WebSocketEvent,
    subprotocol_version,
)

if TYPE_CHECKING:
    from typing_extensions import assert_type


def check_public_types(events: list[WebSocketEvent]) -> None:
    codec = WebSocketCodec("h", "/ws")
    assert_type(codec.handshake(), bytes)
    assert_type(codec.state, CodecState)
    assert_type(codec.subprotocol, str | None)
    assert_type(codec.receive(b""), list[WebSocketEvent])
    assert_type(codec.frame(b"\n"), bytes)
    assert_type(ServerCodec().receive(b""), list[ServerEvent])
    for event in events:
        if isinstance(event, Opened):
            assert_type(event.subprotocol, str | None)
        elif isinstance(event, StompData):
            assert_type(event.data, bytes)
        else:
            assert_type(event, Closed)
    assert_type(subprotocol_version("v12.stomp"), str | None)
    assert_type(UpgradeRefused(404, "Not Found").status_code, int)

"""The server side of STOMP over WebSocket, sans I/O, for test brokers (on wsproto)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from stomp_websocket._errors import LocalWebSocketError, RemoteWebSocketError
from stomp_websocket._events import Closed, StompData

__all__ = ["ServerCodec", "UpgradeRequested"]


@dataclass(frozen=True, slots=True, kw_only=True)
class UpgradeRequested:
    """A client asked for the upgrade: answer with :meth:`ServerCodec.accept` or ``refuse``.

    Attributes:
        path: The path asked for (``"/ws"``).
        subprotocols: The subprotocols offered, preferred first.
        headers: The other request headers, names lower-cased.
    """

    path: str
    subprotocols: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()


ServerEvent = UpgradeRequested | StompData | Closed
"""Every event a :class:`ServerCodec` reports."""


class ServerCodec:
    """One server-side WebSocket connection carrying STOMP, sans I/O.

    Feed what the client writes to :meth:`receive`; answer :class:`UpgradeRequested`
    with :meth:`accept` or :meth:`refuse`; send each STOMP frame (or several) with
    :meth:`frame`; write :meth:`data_to_send` after each :meth:`receive`.

    Args:
        text: Send text messages instead of binary ones (the bytes must be UTF-8).
    """

    __slots__ = ("_out", "_text", "_ws")

    def __init__(self, *, text: bool = False) -> None:
        self._ws = WSConnection(ConnectionType.SERVER)
        self._text = text
        self._out: list[bytes] = []

    @property
    def open(self) -> bool:
        """Whether the upgrade was accepted and no close began."""
        return self._ws.state is ConnectionState.OPEN

    def receive(self, data: bytes) -> list[ServerEvent]:
        """Decode bytes read from the client (``b""``: the transport ended).

        Raises:
            RemoteWebSocketError: the request or a frame broke the protocol.
        """
        ws = self._ws
        try:
            ws.receive_data(data or None)
        except RemoteProtocolError as exc:
            msg = f"bad WebSocket upgrade request: {exc}"
            raise RemoteWebSocketError(msg) from None
        except LocalProtocolError:
            return []
        found: list[ServerEvent] = []
        chunks: list[bytes] = []
        try:
            for event in ws.events():
                if isinstance(event, BytesMessage):
                    chunks.append(bytes(event.data))
                elif isinstance(event, TextMessage):
                    chunks.append(event.data.encode())
                elif isinstance(event, Ping):
                    self._out.append(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if chunks:
                        found.append(StompData(b"".join(chunks)))
                        chunks = []
                    if ws.state is ConnectionState.OPEN:
                        msg = f"bad WebSocket frame from the client: {event.reason}"
                        raise RemoteWebSocketError(msg, code=event.code)
                    if ws.state is ConnectionState.REMOTE_CLOSING:
                        self._out.append(ws.send(event.response()))
                    found.append(Closed(code=int(event.code), reason=event.reason or ""))
                elif isinstance(event, Request):
                    found.append(
                        UpgradeRequested(
                            path=event.target,
                            subprotocols=tuple(event.subprotocols),
                            headers=tuple(
                                (bytes(n).decode("latin-1").lower(), bytes(v).decode("latin-1"))
                                for n, v in event.extra_headers
                            ),
                        )
                    )
        except RemoteProtocolError as exc:
            msg = f"bad WebSocket upgrade request: {exc}"
            raise RemoteWebSocketError(msg) from None
        if chunks:
            found.append(StompData(b"".join(chunks)))
        return found

    def accept(self, subprotocol: str | None) -> bytes:
        """The 101 answer, with *subprotocol* (one the client offered) or none."""
        try:
            return self._ws.send(AcceptConnection(subprotocol=subprotocol))
        except LocalProtocolError as exc:
            raise LocalWebSocketError(str(exc)) from None

    def refuse(self, status: int, body: bytes = b"") -> bytes:
        """An HTTP answer with *status* (and *body*) instead of the upgrade."""
        ws = self._ws
        try:
            headers = [(b"content-length", str(len(body)).encode())]
            data = ws.send(RejectConnection(status_code=status, headers=headers, has_body=True))
            return data + ws.send(RejectData(data=body, body_finished=True))
        except LocalProtocolError as exc:
            raise LocalWebSocketError(str(exc)) from None

    def frame(self, payload: bytes) -> bytes:
        """*payload* as one message (``b""`` once the close began)."""
        ws = self._ws
        if ws.state is not ConnectionState.OPEN:
            return b""
        if self._text:
            return ws.send(TextMessage(data=payload.decode()))
        return ws.send(BytesMessage(data=payload))

    def ping(self, payload: bytes = b"") -> bytes:
        """A ping frame (the client must answer with a pong)."""
        ws = self._ws
        return ws.send(Ping(payload=payload)) if ws.state is ConnectionState.OPEN else b""

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """The close frame (``b""`` once the close began)."""
        ws = self._ws
        if ws.state is not ConnectionState.OPEN:
            return b""
        return ws.send(CloseConnection(code=code, reason=reason or None))

    def data_to_send(self) -> bytes:
        """Bytes the codec wants written (pongs, the answer to a close)."""
        out = self._out
        data = b"".join(out)
        out.clear()
        return data

    @staticmethod
    def choose(offered: Sequence[str], supported: Sequence[str]) -> str | None:
        """The first of the client's *offered* subprotocols that is *supported*, else ``None``."""
        for name in offered:
            if name in supported:
                return name
        return None

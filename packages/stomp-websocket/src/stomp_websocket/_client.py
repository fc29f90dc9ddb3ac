"""The client side of STOMP over WebSocket, sans I/O: upgrade, framing, ping, close."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus

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

from stomp_websocket._errors import LocalWebSocketError, RemoteWebSocketError, UpgradeRefused
from stomp_websocket._events import (
    STOMP_SUBPROTOCOLS,
    Closed,
    CodecState,
    Opened,
    StompData,
    WebSocketEvent,
)
from stomp_websocket._framing import encode_masked

__all__ = ["WebSocketCodec", "host_header"]

_MAX_HEAD = 64 * 1024  # bytes of an HTTP answer to the upgrade kept to read its status line
_TEXT = 0x1
_BINARY = 0x2

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def host_header(host: str, port: int, *, tls: bool) -> str:
    """The HTTP ``Host`` value for *host* and *port* (the port left out when default).

    An IPv6 address gets its brackets back: ``host_header("::1", 15674, tls=False)`` is
    ``"[::1]:15674"``.
    """
    name = f"[{host}]" if ":" in host else host
    default = 443 if tls else 80
    return name if port == default else f"{name}:{port}"


class WebSocketCodec:
    """One client WebSocket connection carrying STOMP, sans I/O (on wsproto).

    Write :meth:`handshake` first; feed every byte read to :meth:`receive` and act on
    the events it returns; turn each STOMP frame to write into one WebSocket message with
    :meth:`frame`; write :meth:`data_to_send` after each :meth:`receive` (answers to
    pings and to a close); end with :meth:`close`.

    Args:
        host: The HTTP ``Host`` value (see :func:`host_header`).
        path: The path to ask for (``"/ws"``), query included if the server wants one.
        subprotocols: The subprotocols to offer, preferred first; an empty sequence
            offers none (a server that insists on one refuses the upgrade).
        extra_headers: More request headers (``Origin``, ``Authorization``, ``Cookie``).
        binary: ``None`` (the default): a frame that is valid UTF-8 goes in a text
            message, any other in a binary one (brokers that read only text, as
            ActiveMQ Classic, get every text frame; binary bodies survive where binary
            messages are read, as on RabbitMQ). ``True``: always binary; ``False``:
            always text (every frame must then be valid UTF-8).

    Raises:
        LocalWebSocketError: a header name or value that HTTP cannot carry.
    """

    __slots__ = (
        "_binary",
        "_failed",
        "_head",
        "_out",
        "_request",
        "_requested",
        "_subprotocol",
        "_ws",
    )

    def __init__(
        self,
        host: str,
        path: str = "/",
        *,
        subprotocols: Sequence[str] = STOMP_SUBPROTOCOLS,
        extra_headers: Headers = (),
        binary: bool | None = None,
    ) -> None:
        items = extra_headers.items() if isinstance(extra_headers, Mapping) else extra_headers
        headers: list[tuple[bytes, bytes]] = []
        for name, value in items:
            if not name or any(c in name for c in " :\r\n\t") or any(c in value for c in "\r\n"):
                msg = f"HTTP header {name!r} cannot be sent in the WebSocket upgrade"
                raise LocalWebSocketError(msg)
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        if not path.startswith("/"):
            msg = f"the WebSocket path must start with '/', got {path!r}"
            raise LocalWebSocketError(msg)
        self._request = Request(
            host=host, target=path, subprotocols=list(subprotocols), extra_headers=headers
        )
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._binary = binary
        self._head: bytearray | None = bytearray()  # the answer so far, until the upgrade ends
        self._out: list[bytes] = []
        self._subprotocol: str | None = None
        self._failed = False
        self._requested = False

    def __repr__(self) -> str:
        return f"<WebSocketCodec {self._request.host}{self._request.target} {self.state.value}>"

    @property
    def state(self) -> CodecState:
        """Where the connection is."""
        state = self._ws.state
        if state is ConnectionState.OPEN:
            return CodecState.OPEN
        if state is ConnectionState.CONNECTING:
            return CodecState.CLOSED if self._failed else CodecState.CONNECTING
        if state in (ConnectionState.LOCAL_CLOSING, ConnectionState.REMOTE_CLOSING):
            return CodecState.CLOSING
        return CodecState.CLOSED

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose (``None`` before the upgrade, or if it chose none)."""
        return self._subprotocol

    def handshake(self) -> bytes:
        """The HTTP upgrade request to write first.

        Raises:
            LocalWebSocketError: it was already made.
        """
        if self._requested:
            msg = "the upgrade request was made already"
            raise LocalWebSocketError(msg)
        self._requested = True
        return self._ws.send(self._request)

    def frame(self, payload: bytes) -> bytes:
        """*payload* (one STOMP frame, or a heart-beat EOL) as one WebSocket message.

        Raises:
            LocalWebSocketError: the upgrade is not accepted yet, or the close began.
        """
        if self._ws.state is not ConnectionState.OPEN:
            msg = f"no STOMP frame can be sent while the WebSocket is {self.state.value}"
            raise LocalWebSocketError(msg)
        binary = self._binary
        if binary is None:
            binary = not payload.isascii() and not _is_utf8(payload)
        return encode_masked(payload, opcode=_BINARY if binary else _TEXT)

    def receive(self, data: bytes) -> list[WebSocketEvent]:
        """Decode bytes read from the transport; ``b""`` says that the transport ended.

        Returns the events in order: :class:`Opened` once, then :class:`StompData` (the
        STOMP bytes of every message in *data*, joined) and :class:`Closed` at the end.

        Raises:
            UpgradeRefused: the server answered the upgrade with another HTTP status.
            RemoteWebSocketError: the answer or a frame broke the protocol, or the
                transport ended before the upgrade was answered.
        """
        ws = self._ws
        head = self._head
        if not data and head is not None:
            self._head = None
            self._failed = True
            msg = "the connection ended before the server answered the WebSocket upgrade"
            raise RemoteWebSocketError(msg)
        if head is not None and len(head) < _MAX_HEAD:
            head += data
        try:
            ws.receive_data(data or None)
        except RemoteProtocolError as exc:
            self._head = None
            self._failed = True
            msg = f"the answer to the WebSocket upgrade is not valid: {exc}"
            raise RemoteWebSocketError(msg) from None
        except LocalProtocolError:
            return []  # bytes after the close: nothing more to read
        found: list[WebSocketEvent] = []
        chunks: list[bytes] = []
        try:
            for event in ws.events():
                kind = type(event)
                if kind is BytesMessage:
                    chunks.append(event.data)  # type: ignore[attr-defined]
                elif kind is TextMessage:
                    chunks.append(event.data.encode())  # type: ignore[attr-defined]
                elif kind is Ping:
                    assert isinstance(event, Ping)
                    self._out.append(ws.send(event.response()))
                elif kind is CloseConnection:
                    assert isinstance(event, CloseConnection)
                    if chunks:
                        found.append(StompData(b"".join(chunks)))
                        chunks = []
                    found.append(self._closed(event))
                elif kind is AcceptConnection:
                    assert isinstance(event, AcceptConnection)
                    self._head = None
                    self._subprotocol = event.subprotocol
                    found.append(
                        Opened(
                            subprotocol=event.subprotocol,
                            headers=tuple(
                                (n.decode("latin-1"), v.decode("latin-1"))
                                for n, v in event.extra_headers
                            ),
                        )
                    )
                elif kind is RejectConnection:
                    assert isinstance(event, RejectConnection)
                    self._refused(event.status_code, head)
                elif kind is RejectData:
                    pass  # the body of a refusal already reported
        except RemoteProtocolError as exc:
            self._head = None
            self._failed = True
            msg = f"the answer to the WebSocket upgrade is not valid: {exc}"
            raise RemoteWebSocketError(msg) from None
        if chunks:
            found.append(StompData(chunks[0] if len(chunks) == 1 else b"".join(chunks)))
        return found

    def _closed(self, event: CloseConnection) -> Closed:
        ws = self._ws
        if ws.state is ConnectionState.OPEN:
            # wsproto reports a frame it cannot parse as a close event; the state says so.
            hint = ""
            if event.code == 1007:
                hint = (
                    " (a text message that is not UTF-8: ask the broker for binary frames,"
                    " as RabbitMQ's web_stomp.ws_frame = binary)"
                )
            msg = f"bad WebSocket frame from the server: {event.reason}{hint}"
            raise RemoteWebSocketError(msg, code=event.code)
        if ws.state is ConnectionState.REMOTE_CLOSING:
            self._out.append(ws.send(event.response()))
        return Closed(code=int(event.code), reason=event.reason or "")

    def _refused(self, status: int, head: bytearray | None) -> None:
        self._head = None
        self._failed = True
        reason = ""
        body = b""
        if head is not None:
            line, _, rest = bytes(head).partition(b"\r\n")
            parts = line.split(b" ", 2)
            if len(parts) == 3:
                reason = parts[2].decode("latin-1").strip()
            body = rest.partition(b"\r\n\r\n")[2]
        if not reason:
            with contextlib.suppress(ValueError):
                reason = HTTPStatus(status).phrase
        raise UpgradeRefused(status, reason, body)

    def data_to_send(self) -> bytes:
        """Bytes the codec wants written (answers to pings and to the peer's close)."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """The close frame to write (``b""`` when the close began already or no upgrade was made).

        After the peer's close frame, its answer is in :meth:`data_to_send` already.
        """
        ws = self._ws
        if ws.state is not ConnectionState.OPEN:
            return b""
        return ws.send(CloseConnection(code=code, reason=reason or None))

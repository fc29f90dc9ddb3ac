"""The client side of STOMP over WebSocket, sans I/O: upgrade, framing, ping, close."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, Request
from wsproto.utilities import RemoteProtocolError

from stomp_websocket._errors import LocalWebSocketError, RemoteWebSocketError, UpgradeRefused
from stomp_websocket._events import (
    STOMP_SUBPROTOCOLS,
    Closed,
    CodecState,
    Opened,
    StompData,
    WebSocketEvent,
)
from stomp_websocket._framing import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    FrameReader,
    encode_masked,
)

__all__ = ["WebSocketCodec", "host_header"]

_MAX_HEAD = 64 * 1024  # bytes of an HTTP answer to the upgrade kept to read its status line

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class _Phase(enum.Enum):
    REQUEST = "request"  # the upgrade request not made yet
    UPGRADING = "upgrading"  # made; the answer awaited
    OPEN = "open"
    CLOSING = "closing"  # our close frame is out; the server's awaited
    CLOSED = "closed"


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
    """One client WebSocket connection carrying STOMP, sans I/O.

    Write :meth:`handshake` first; feed every byte read to :meth:`receive` and act on
    the events it returns; turn each STOMP frame to write into one WebSocket message with
    :meth:`frame`; write :meth:`data_to_send` after each :meth:`receive` (answers to
    pings and to a close); end with :meth:`close`. wsproto makes and reads the upgrade;
    the frames of the open connection take a short path of their own.

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

    __slots__ = ("_binary", "_head", "_out", "_phase", "_reader", "_request", "_subprotocol", "_ws")

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
        self._ws: WSConnection | None = WSConnection(ConnectionType.CLIENT)
        self._binary = binary
        self._phase = _Phase.REQUEST
        self._head = bytearray()  # the answer so far, until the upgrade ends
        self._reader = FrameReader()
        self._out: list[bytes] = []
        self._subprotocol: str | None = None

    def __repr__(self) -> str:
        return f"<WebSocketCodec {self._request.host}{self._request.target} {self.state.value}>"

    @property
    def state(self) -> CodecState:
        """Where the connection is."""
        phase = self._phase
        if phase is _Phase.OPEN:
            return CodecState.OPEN
        if phase is _Phase.CLOSING:
            return CodecState.CLOSING
        if phase is _Phase.CLOSED:
            return CodecState.CLOSED
        return CodecState.CONNECTING

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose (``None`` before the upgrade, or if it chose none)."""
        return self._subprotocol

    def handshake(self) -> bytes:
        """The HTTP upgrade request to write first.

        Raises:
            LocalWebSocketError: it was already made.
        """
        if self._phase is not _Phase.REQUEST or self._ws is None:
            msg = "the upgrade request was made already"
            raise LocalWebSocketError(msg)
        self._phase = _Phase.UPGRADING
        return self._ws.send(self._request)

    def frame(self, payload: bytes) -> bytes:
        """*payload* (one STOMP frame, or a heart-beat EOL) as one WebSocket message.

        Raises:
            LocalWebSocketError: the upgrade is not accepted yet, or the close began.
        """
        if self._phase is not _Phase.OPEN:
            msg = f"no STOMP frame can be sent while the WebSocket is {self.state.value}"
            raise LocalWebSocketError(msg)
        binary = self._binary
        if binary is None:
            binary = not payload.isascii() and not _is_utf8(payload)
        return encode_masked(payload, opcode=BINARY if binary else TEXT)

    def receive(self, data: bytes) -> list[WebSocketEvent]:
        """Decode bytes read from the transport; ``b""`` says that the transport ended.

        Returns the events in order: :class:`Opened` once, then :class:`StompData` (the
        STOMP bytes of every message in *data*, joined) and :class:`Closed` at the end.

        Raises:
            UpgradeRefused: the server answered the upgrade with another HTTP status.
            RemoteWebSocketError: the answer or a frame broke the protocol, or the
                transport ended before the upgrade was answered.
        """
        phase = self._phase
        if phase is _Phase.OPEN or phase is _Phase.CLOSING:
            if not data:
                self._phase = _Phase.CLOSED
                return [Closed(code=1006)]
            payloads, controls = self._reader.feed(data)
            found: list[WebSocketEvent] = []
            if payloads:
                found.append(StompData(payloads[0] if len(payloads) == 1 else b"".join(payloads)))
            if controls is not None:
                closed = self._control(controls)
                if closed is not None:
                    found.append(closed)
            return found
        if phase is _Phase.UPGRADING:
            return self._upgrade(data)
        return []  # nothing asked yet, or all over

    def _control(self, controls: list[tuple[int, bytes]]) -> Closed | None:
        for opcode, payload in controls:
            if opcode == PING:
                self._out.append(encode_masked(payload, opcode=0xA))
            elif opcode == CLOSE:
                code, reason = 1005, ""
                if len(payload) >= 2:
                    code = int.from_bytes(payload[:2], "big")
                    reason = payload[2:].decode("utf-8", "replace")
                if self._phase is _Phase.OPEN:  # answer with the same code (RFC 6455 5.5.1)
                    self._out.append(encode_masked(payload[:2], opcode=CLOSE))
                self._phase = _Phase.CLOSED
                return Closed(code=code, reason=reason)
        return None

    def _upgrade(self, data: bytes) -> list[WebSocketEvent]:
        ws = self._ws
        assert ws is not None
        head = self._head
        if not data:
            self._fail()
            msg = "the connection ended before the server answered the WebSocket upgrade"
            raise RemoteWebSocketError(msg)
        if len(head) < _MAX_HEAD:
            head += data
        try:
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    return self._accepted(event)
                if isinstance(event, RejectConnection):
                    self._refused(event.status_code)
        except RemoteProtocolError as exc:
            self._fail()
            msg = f"the answer to the WebSocket upgrade is not valid: {exc}"
            raise RemoteWebSocketError(msg) from None
        return []

    def _accepted(self, event: AcceptConnection) -> list[WebSocketEvent]:
        head = bytes(self._head)
        self._ws = None  # from now on the frames take the short path
        self._head = bytearray()
        self._phase = _Phase.OPEN
        self._subprotocol = event.subprotocol
        opened = Opened(
            subprotocol=event.subprotocol,
            headers=tuple(
                (n.decode("latin-1"), v.decode("latin-1")) for n, v in event.extra_headers
            ),
        )
        after = head.partition(b"\r\n\r\n")[2]  # frames sent with the answer
        return [opened, *self.receive(after)] if after else [opened]

    def _fail(self) -> None:
        self._phase = _Phase.CLOSED
        self._ws = None

    def _refused(self, status: int) -> None:
        head = bytes(self._head)
        self._fail()
        line, _, rest = head.partition(b"\r\n")
        parts = line.split(b" ", 2)
        reason = parts[2].decode("latin-1").strip() if len(parts) == 3 else ""
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
        if self._phase is not _Phase.OPEN:
            return b""
        self._phase = _Phase.CLOSING
        payload = code.to_bytes(2, "big") + reason.encode()[:123]
        return encode_masked(payload, opcode=CLOSE)

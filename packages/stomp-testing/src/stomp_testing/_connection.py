"""One client connection of the test broker, sans-I/O: its frames in, its bytes out."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from stomp_frame import HEARTBEAT_BYTES, Frame, HeartBeat, ParseError, Parser, Version, serialize

if TYPE_CHECKING:
    from stomp_testing._core import BrokerCore
    from stomp_websocket import ServerCodec

__all__ = ["BrokerConnection"]

_SEND_OWN_HEADERS: Final = frozenset({"destination", "receipt", "transaction", "content-length"})
_NEED_CONNECTION: Final = frozenset(
    {"SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT", "DISCONNECT"}
)
ACK_MODES: Final = ("auto", "client", "client-individual")


def _is_topic(destination: str) -> bool:
    return destination.startswith("/topic/")


@dataclass(slots=True)
class _Stored:
    message_id: str
    destination: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    redeliveries: int = 0

    def frame(self) -> Frame:
        headers = [("destination", self.destination), ("message-id", self.message_id)]
        if self.redeliveries:
            headers.append(("redelivered", "true"))
        return Frame("MESSAGE", [*headers, *self.headers], self.body)

    def copy(self) -> _Stored:
        return _Stored(self.message_id, self.destination, self.headers, self.body)


@dataclass(slots=True, eq=False)
class _Subscription:
    connection: BrokerConnection
    id: str
    explicit_id: bool
    destination: str
    ack: str
    prefetch: int | None
    unacked: dict[str, _Delivered] = field(default_factory=dict)
    backlog: deque[_Stored] = field(default_factory=deque)
    """Topic messages waiting for room (prefetch) in this subscription."""

    def has_room(self) -> bool:
        return self.prefetch is None or self.ack == "auto" or len(self.unacked) < self.prefetch


@dataclass(slots=True)
class _Delivered:
    stored: _Stored
    token: str
    subscription: _Subscription


class _Refused(Exception):
    """A frame the broker answers with ERROR."""

    def __init__(self, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.close = close


def _heart_beat(text: str | None) -> tuple[int, int]:
    if not text:
        return (0, 0)
    try:
        cx, cy = (int(part) for part in text.split(","))
    except ValueError:
        return (0, 0)
    return (max(cx, 0), max(cy, 0))


class BrokerConnection:
    """One client connection of a :class:`BrokerCore`, sans-I/O.

    A shell feeds it what it reads (:meth:`receive_data`), writes what
    :meth:`data_to_send` returns, closes the transport when :attr:`should_close`
    (at once, discarding unsent bytes, when :attr:`should_abort`), stops reading while
    :attr:`reading` is false (and feeds ``b""`` when it turns true again, to process
    what was held), calls :meth:`handle_timer` at :meth:`next_deadline`, and reports
    the end of the transport with :meth:`connection_lost`.

    Attributes:
        number: Its number, counted from 1 per broker, in the order opened.
        version: The negotiated version, once CONNECTED was sent.
        connect_frame: The CONNECT (or STOMP) frame the client sent.
        received: Every frame received on this connection, in order.
        beats_received: How many heart-beats (EOLs between frames) it received.
        heart_beat: The negotiated ``(send, receive)`` heart-beat intervals of the
            broker, in ms.
        websocket: The WebSocket path it serves STOMP on (``"/ws"``), or ``None`` for
            plain STOMP over TCP.
        subprotocol: The WebSocket subprotocol it accepted, once upgraded.
        websocket_close: The close code of the client's WebSocket close frame, once
            received (1000 after a graceful disconnect).
    """

    def __init__(
        self, broker: BrokerCore, number: int, now: float, websocket: str | None = None
    ) -> None:
        self._broker = broker
        self.websocket = websocket
        self.subprotocol: str | None = None
        self.websocket_close: int | None = None
        self._ws: ServerCodec | None = None
        self._ws_raw: list[bytes] = []
        self._ws_close_pending = False
        self._ws_awaiting_close = False
        if websocket is not None:
            from stomp_websocket import ServerCodec  # noqa: PLC0415 - an optional extra

            self._ws = ServerCodec()
        self.number = number
        self.version: Version | None = None
        self.connect_frame: Frame | None = None
        self.received: list[Frame] = []
        self.beats_received = 0
        self.heart_beat = (0, 0)
        self._parser = Parser(Version.V1_0, handshake=True)
        self._subscriptions: dict[str, _Subscription] = {}
        self._transactions: dict[str, list[Callable[[], None]]] = {}
        self._out: list[bytes] = []
        self._closing = False
        self._aborting = False
        self._lost = False
        self._last_received = now
        self._next_beat: float | None = None

    def __repr__(self) -> str:
        state = "lost" if self._lost else "closing" if self._closing else "open"
        version = None if self.version is None else self.version.value
        return f"<BrokerConnection {self.number} version={version} {state}>"

    # -- state a shell reads -------------------------------------------------------------------

    @property
    def should_close(self) -> bool:
        """Whether the shell should close the transport once :meth:`data_to_send` is written.

        Over WebSocket, after the broker's close frame, once the client's answer came.
        """
        return self._closing and not self._ws_awaiting_close

    @property
    def should_abort(self) -> bool:
        """Whether the shell should drop the transport at once (a crash or a network failure)."""
        return self._aborting

    @property
    def reading(self) -> bool:
        """Whether the broker takes bytes (``False`` under :meth:`Faults.stop_reading`)."""
        if self._ws_awaiting_close:
            return True  # for the client's close frame
        return not self._closing and self._broker.faults._is_reading(self.number)

    @property
    def is_open(self) -> bool:
        """Whether the connection is neither closing nor lost."""
        return not self._closing and not self._lost

    @property
    def lost(self) -> bool:
        """Whether :meth:`connection_lost` was called."""
        return self._lost

    @property
    def subscriptions(self) -> dict[str, str]:
        """The subscriptions of this connection: ``{id: destination}`` (a copy)."""
        return {sub.id: sub.destination for sub in self._subscriptions.values()}

    @property
    def transactions(self) -> tuple[str, ...]:
        """The names of the transactions open on this connection."""
        return tuple(self._transactions)

    # -- inputs --------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Take bytes the client wrote, received at *now* (seconds, any monotonic clock).

        While :attr:`reading` is false the bytes are held and nothing is processed;
        feed ``b""`` once it is true again to process them.
        """
        if self._ws_awaiting_close and data and not self._lost:
            self._ws_receive(data)  # only the client's close frame matters now
            return
        if self._closing or self._lost:
            return
        if data:
            self._last_received = now
            if self._ws is not None:
                data = self._ws_receive(data)
                if not data:
                    return
        parser = self._parser
        try:
            parser.receive_data(data)
            while self.reading and (event := parser.next_event()) is not None:
                if isinstance(event, HeartBeat):
                    self.beats_received += 1
                else:
                    self._handle(event, now)
        except ParseError as exc:
            self._error(f"malformed frame: {exc}", None, close=True)
        if self._ws_close_pending:
            self._ws_close_pending = False
            self.close()

    def data_to_send(self) -> bytes:
        """The bytes to write to the client now (each byte is returned once)."""
        out = b"".join(self._out)
        self._out.clear()
        if self._ws is not None:
            return self._ws_wrap(out)
        return out

    # -- STOMP over WebSocket ------------------------------------------------------------------

    def _ws_receive(self, data: bytes) -> bytes:
        from stomp_websocket import (  # noqa: PLC0415 - an optional extra
            Closed,
            RemoteWebSocketError,
            ServerCodec,
            StompData,
            UpgradeRequested,
        )

        codec = self._ws
        assert codec is not None
        try:
            events = codec.receive(data)
        except RemoteWebSocketError:
            self.drop()
            return b""
        stomp = b""
        for event in events:
            if isinstance(event, StompData):
                stomp += event.data
            elif isinstance(event, UpgradeRequested):
                broker = self._broker
                supported = [f"v1{v.value[-1]}.stomp" for v in broker.versions]
                chosen = ServerCodec.choose(event.subprotocols, supported)
                status = broker.websocket_refusal
                if status is None and event.path != self.websocket:
                    status = 404
                if status is None and event.subprotocols and chosen is None:
                    status = 400  # as RabbitMQ: no STOMP subprotocol it speaks
                if status is not None:
                    self._ws_raw.append(codec.refuse(status, b"refused by stomp-testing"))
                    self._closing = True
                    return b""
                self.subprotocol = chosen
                self._ws_raw.append(codec.accept(chosen))
            elif isinstance(event, Closed):
                self.websocket_close = event.code
                self._ws_awaiting_close = False
                self._ws_raw.append(codec.data_to_send())
                if stomp:  # the frames before the close first; the close comes after
                    self._ws_close_pending = True
                    return stomp
                self.close()
                return b""
        answer = codec.data_to_send()
        if answer:
            self._ws_raw.append(answer)
        return stomp

    def _ws_wrap(self, out: bytes) -> bytes:
        codec = self._ws
        assert codec is not None
        raw = self._ws_raw
        if out:
            size = self._broker.websocket_message_size or len(out)
            raw.extend(codec.frame(out[at : at + size]) for at in range(0, len(out), size))
        if self._closing and not self._aborting and codec.open:
            raw.append(codec.close())
            self._ws_awaiting_close = self.websocket_close is None
        data = b"".join(raw)
        raw.clear()
        return data

    def ping(self) -> None:
        """Send a WebSocket ping (the client must answer it with a pong)."""
        if self._ws is not None and not self._closing:
            self._ws_raw.append(self._ws.ping(b"stomp-testing"))

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must be called next (a heart-beat to send or to check)."""
        if self._closing or self._lost:
            return None
        deadlines = [] if self._next_beat is None else [self._next_beat]
        if self.heart_beat[1] and self.reading:
            deadlines.append(self._watch_deadline())
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Send the heart-beat due at *now*, or drop a client silent for too long."""
        if self._closing or self._lost:
            return
        if self.heart_beat[1] and self.reading and now >= self._watch_deadline():
            self.drop()
            return
        if self._next_beat is not None and now >= self._next_beat:
            if self._broker.faults.heart_beating:
                self._out.append(HEARTBEAT_BYTES)
            self._next_beat = now + self.heart_beat[0] / 1000

    def connection_lost(self, now: float) -> None:  # noqa: ARG002 - time is part of the interface
        """The transport is closed: release the subscriptions (unacknowledged messages go back)."""
        self._lost = True
        self._out.clear()
        self._broker._release(self)

    # -- what tests can do ---------------------------------------------------------------------

    def close(self) -> None:
        """Close cleanly: the shell closes the transport once the pending bytes are written."""
        if self._closing or self._lost:
            return
        self._closing = True
        self._broker._release(self)

    def drop(self) -> None:
        """Drop the connection at once, unsent bytes discarded (as a crash would)."""
        if self._lost:
            return
        self._aborting = True
        self._ws_awaiting_close = False
        self._out.clear()
        self.close()

    def send_frame(self, frame: Frame) -> None:
        """Write *frame* to the client in the negotiated version (faults apply)."""
        if self._closing or self._lost:
            return
        faults = self._broker.faults
        garbage = faults._take_garbage(frame.command)
        if garbage is not None:
            self._out.append(garbage)
            return
        data = serialize(frame, self.version or Version.V1_0)
        if faults._take_cut(frame.command):
            self._out.append(data[: len(data) // 2])
            self.close()
            return
        self._out.append(data)

    def send_bytes(self, data: bytes) -> None:
        """Write raw *data* to the client (garbage, a half frame, heart-beats)."""
        if not self._closing and not self._lost:
            self._out.append(bytes(data))

    # -- frames --------------------------------------------------------------------------------

    def _watch_deadline(self) -> float:
        # A broker that stops reading does not judge the client (see next_deadline).
        return self._last_received + self.heart_beat[1] / 1000 * self._broker.heart_beat_grace

    def _error(self, message: str, frame: Frame | None, *, close: bool = False) -> None:
        headers = [("message", message), ("content-type", "text/plain")]
        if frame is not None and (receipt := frame.get("receipt")) is not None:
            headers.append(("receipt-id", receipt))
        data = message.encode()
        headers.append(("content-length", str(len(data))))
        self.send_frame(Frame("ERROR", headers, data))
        if close:
            self.close()

    def _handle(self, frame: Frame, now: float) -> None:
        broker = self._broker
        faults = broker.faults
        broker.received.append(frame)
        self.received.append(frame)
        command = frame.command
        if faults._should_drop(command):
            self.drop()
            return
        self._dispatch_frame(frame, now)
        faults._handled(self.number, command)

    def _dispatch_frame(self, frame: Frame, now: float) -> None:
        faults = self._broker.faults
        command = frame.command
        if command in ("CONNECT", "STOMP"):
            if self.version is not None:
                self._error("already connected", frame, close=True)
            else:
                self._connect(frame, now)
            return
        if self.version is None:
            self._error(f"{command} before CONNECT", frame, close=True)
            return
        if command not in _NEED_CONNECTION:
            self._error(f"unknown or server command {command}", frame, close=True)
            return
        fault = faults.command_error(command, frame.get("destination"))
        if fault is not None:
            self._error(fault[0], frame, close=fault[1])
            return
        try:
            self._handlers[command](self, frame)
        except _Refused as refused:
            self._error(str(refused), frame, close=refused.close)
            return
        withheld = faults.receipt_withheld(command)
        receipt = frame.get("receipt")
        if receipt is not None and not withheld:
            self.send_frame(Frame("RECEIPT", {"receipt-id": receipt}))
        if command == "DISCONNECT" and not withheld:
            self.close()

    def _connect(self, frame: Frame, now: float) -> None:
        broker = self._broker
        faults = broker.faults
        self.connect_frame = frame
        if faults.silent_on_connect:
            return
        if faults.connect_error is not None:
            self._error(faults.connect_error, frame, close=faults.connect_error_closes)
            return
        accepted = frame.get("accept-version")
        offered = {"1.0"} if accepted is None else {v.strip() for v in accepted.split(",")}
        common = [version for version in broker.versions if version.value in offered]
        if not common:
            supported = ",".join(v.value for v in broker.versions)
            message = "Supported protocol versions are " + supported
            self.send_frame(Frame("ERROR", {"message": message, "version": supported}))
            self.close()
            return
        version = max(common, key=lambda v: v.value)
        if broker.users is not None and (
            broker.users.get(frame.get("login", "")) != frame.get("passcode")
        ):
            self._error("Bad credentials", frame, close=True)
            return
        if broker.vhosts is not None and frame.get("host") not in broker.vhosts:
            self._error(f"Virtual host '{frame.get('host')}' access denied", frame, close=True)
            return
        headers = [
            ("version", version.value),
            ("server", broker.server),
            ("session", f"{broker.name}-session-{next(broker._sessions)}"),
        ]
        if version is not Version.V1_0:
            cx, cy = _heart_beat(frame.get("heart-beat"))
            sx, sy = broker.heart_beat if broker.heart_beat is not None else (cy, cx)
            headers.append(("heart-beat", f"{sx},{sy}"))
            self.heart_beat = (max(sx, cy) if sx and cy else 0, max(cx, sy) if cx and sy else 0)
        self.send_frame(Frame("CONNECTED", headers))
        self.version = version
        self._parser.version = version
        self._last_received = now
        if self.heart_beat[0]:
            self._next_beat = now + self.heart_beat[0] / 1000

    def _transaction(self, frame: Frame) -> list[Callable[[], None]] | None:
        name = frame.get("transaction")
        if name is None:
            return None
        actions = self._transactions.get(name)
        if actions is None:
            raise _Refused(f"Bad transaction: {name!r} is not open")
        return actions

    def _on_send(self, frame: Frame) -> None:
        destination = frame.get("destination")
        if destination is None:
            raise _Refused("Missing destination")
        headers = tuple(pair for pair in frame.headers if pair[0] not in _SEND_OWN_HEADERS)
        actions = self._transaction(frame)
        broker = self._broker
        body = frame.body

        def store() -> None:
            broker._store(destination, headers, body)

        if actions is None:
            store()
        else:
            actions.append(store)

    def _on_subscribe(self, frame: Frame) -> None:
        destination = frame.get("destination")
        if destination is None:
            raise _Refused("Missing destination")
        sub_id = frame.get("id")
        if sub_id is None and self.version is not Version.V1_0:
            raise _Refused("Missing id")
        if (sub_id or destination) in self._subscriptions:
            raise _Refused(f"Duplicate subscription id {sub_id or destination!r}")
        ack = frame.get("ack", "auto")
        if ack not in ACK_MODES:
            raise _Refused(f"Invalid ack mode {ack!r}")
        prefetch_text = frame.get("prefetch-count") or frame.get("activemq.prefetchSize")
        prefetch = int(prefetch_text) if prefetch_text and prefetch_text.isdigit() else None
        sub = _Subscription(
            connection=self,
            id=sub_id or destination,
            explicit_id=sub_id is not None,
            destination=destination,
            ack=ack,
            prefetch=prefetch or None,
        )
        self._subscriptions[sub.id] = sub
        self._broker._subscribed(sub)

    def _on_unsubscribe(self, frame: Frame) -> None:
        sub_id = frame.get("id") or frame.get("destination")
        sub = self._subscriptions.pop(sub_id or "", None)
        if sub is None:
            raise _Refused(f"No subscription {sub_id!r}")
        self._broker._unsubscribed(sub)

    def _on_ack(self, frame: Frame) -> None:
        self._settle(frame, nack=False)

    def _on_nack(self, frame: Frame) -> None:
        if self.version is Version.V1_0:
            raise _Refused("NACK does not exist in STOMP 1.0")
        self._settle(frame, nack=True)

    def _settle(self, frame: Frame, *, nack: bool) -> None:
        delivered = self._find(frame)
        if delivered is None:
            if not self._broker.strict_acks:
                self._transaction(frame)
                return
            what = frame.get("id") or frame.get("message-id")
            raise _Refused(f"Unexpected {frame.command} for {what!r}")
        actions = self._transaction(frame)
        broker = self._broker

        def apply() -> None:
            broker._settle(delivered, nack=nack)

        if actions is None:
            apply()
        else:
            actions.append(apply)

    def _find(self, frame: Frame) -> _Delivered | None:
        if self.version is Version.V1_2:
            token = frame.get("id")
            for sub in self._subscriptions.values():
                if token in sub.unacked:
                    return sub.unacked[token]
            return None
        message_id = frame.get("message-id")
        sub_id = frame.get("subscription")
        for sub in self._subscriptions.values():
            if sub_id is not None and sub.id != sub_id:
                continue
            for delivered in sub.unacked.values():
                if delivered.stored.message_id == message_id:
                    return delivered
        return None

    def _on_begin(self, frame: Frame) -> None:
        name = frame.get("transaction")
        if name is None:
            raise _Refused("Missing transaction")
        if name in self._transactions:
            raise _Refused(f"Transaction {name!r} is already open")
        self._transactions[name] = []

    def _on_commit(self, frame: Frame) -> None:
        name = frame.get("transaction")
        actions = self._transactions.pop(name or "", None)
        if actions is None:
            raise _Refused(f"Bad transaction: {name!r} is not open")
        for action in actions:
            action()

    def _on_abort(self, frame: Frame) -> None:
        name = frame.get("transaction")
        if self._transactions.pop(name or "", None) is None:
            raise _Refused(f"Bad transaction: {name!r} is not open")

    def _on_disconnect(self, frame: Frame) -> None:
        """Answered with its RECEIPT, then closed (see ``_dispatch_frame``)."""

    _handlers: Final[Mapping[str, Callable[[BrokerConnection, Frame], None]]] = {
        "SEND": _on_send,
        "SUBSCRIBE": _on_subscribe,
        "UNSUBSCRIBE": _on_unsubscribe,
        "ACK": _on_ack,
        "NACK": _on_nack,
        "BEGIN": _on_begin,
        "COMMIT": _on_commit,
        "ABORT": _on_abort,
        "DISCONNECT": _on_disconnect,
    }

"""The broker's core, sans-I/O: bytes and time in, bytes out, for every connection."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from stomp_commands import ALL_VERSIONS
from stomp_frame import HEARTBEAT_BYTES, Frame, HeartBeat, ParseError, Parser, Version, serialize
from stomp_testing._faults import Faults

if TYPE_CHECKING:
    from stomp_websocket import ServerCodec

__all__ = ["BrokerConnection", "BrokerCore"]

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


class BrokerCore:
    r"""A STOMP broker for tests, sans-I/O: every connection is bytes and time in, bytes out.

    It keeps queues (``/queue/...``, and any name not under ``/topic/``: one consumer
    per message, round robin) and topics (``/topic/...``: every subscriber at the
    time gets a copy); ack modes ``auto``, ``client`` (cumulative) and
    ``client-individual``, with ``prefetch-count`` / ``activemq.prefetchSize``
    bounding unacknowledged messages; unacknowledged messages go back to their queue
    with ``redelivered:true`` when their connection closes or their subscription
    ends, and NACK (1.1+) does the same at once. With :attr:`redelivery_limit`, a
    message redelivered more often than that goes to :attr:`dead_letter_queue`
    instead (with an ``original-destination`` header). Receipts, transactions (SEND,
    ACK, NACK), heart-beats and version negotiation (1.0-1.2) follow the spec; the
    scripted :attr:`faults` make it misbehave. Ids come from counters: the same
    inputs give the same bytes.

    It does no I/O and reads no clock: a shell (:class:`~stomp_testing.TestBroker`
    on sockets, ``stomp_twisted.testing.SimulatedBroker`` on Twisted) or a test
    drives it.

    >>> from stomp_testing import BrokerCore
    >>> broker = BrokerCore(name="mq")
    >>> connection = broker.open_connection(now=0.0)
    >>> connection.receive_data(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0", now=0.0)
    >>> print(connection.data_to_send().decode().replace("\0", "^@"))
    CONNECTED
    version:1.2
    server:stomp-testing/mq
    session:mq-session-1
    heart-beat:0,0
    <BLANKLINE>
    ^@
    >>> broker.publish("/queue/a", b"hello")
    'mq-1'
    >>> [frame.body for frame in broker.queued("/queue/a")]
    [b'hello']

    Args:
        name: Its name, in CONNECTED's ``server`` and in message ids.
        versions: The versions it speaks.
        heart_beat: Its CONNECTED ``heart-beat`` ``(sx, sy)`` in ms; by default it
            echoes the client's ``(cy, cx)``, as ActiveMQ does.
        users: ``{login: passcode}`` it accepts; ``None`` accepts anyone.
        vhosts: The ``host`` values it accepts; ``None`` accepts any.
        redelivery_limit: Redeliveries allowed before dead-lettering; ``None``: no limit.
        dead_letter_queue: Where messages go past the redelivery limit.
        heart_beat_grace: How many receive intervals of client silence make it drop
            the client (real brokers: about 3).
        strict_acks: ``False``: an ACK or NACK of a message it did not deliver (frames
            a test wrote to the client by hand) is ignored instead of refused.
        first_id: Where its id counters (message ids, ack ids, sessions) start.
        server: Its CONNECTED ``server`` header; ``stomp-testing/<name>`` by default.

    Over WebSocket (connections opened with a ``websocket`` path, which needs the
    stomp-websocket package), it accepts the upgrade on that path with the best STOMP
    subprotocol the client offers and it speaks; :attr:`websocket_refusal` makes it
    refuse every upgrade with an HTTP status, and :attr:`websocket_message_size` splits
    what it sends into messages of at most that many bytes (``None``: everything written
    at once is one message, several frames in it).
    """

    def __init__(
        self,
        *,
        name: str = "stomp-testing",
        versions: Iterable[Version] = ALL_VERSIONS,
        heart_beat: tuple[int, int] | None = None,
        users: Mapping[str, str] | None = None,
        vhosts: Collection[str] | None = None,
        redelivery_limit: int | None = None,
        dead_letter_queue: str = "/queue/DLQ",
        heart_beat_grace: float = 3.0,
        strict_acks: bool = True,
        first_id: int = 1,
        server: str | None = None,
    ) -> None:
        self.name = name
        self.versions: tuple[Version, ...] = tuple(versions)
        self.heart_beat = heart_beat
        self.users: dict[str, str] | None = None if users is None else dict(users)
        self.vhosts: frozenset[str] | None = None if vhosts is None else frozenset(vhosts)
        self.redelivery_limit = redelivery_limit
        self.dead_letter_queue = dead_letter_queue
        self.heart_beat_grace = heart_beat_grace
        self.strict_acks = strict_acks
        self.server = f"stomp-testing/{name}" if server is None else server
        self.faults = Faults()
        """The scripted faults (see :class:`~stomp_testing.Faults`)."""
        self.websocket_refusal: int | None = None
        """An HTTP status (401, 403, ...) to refuse every WebSocket upgrade with, or ``None``."""
        self.websocket_message_size: int | None = None
        """The most bytes in one WebSocket message it sends, or ``None`` for no limit."""
        self.received: list[Frame] = []
        """Every frame received, from every connection, in order."""
        self._connections: list[BrokerConnection] = []
        self._queues: dict[str, deque[_Stored]] = {}
        self._subscriptions: list[_Subscription] = []
        self._numbers = itertools.count(1)
        self._message_ids = itertools.count(first_id)
        self._tokens = itertools.count(first_id)
        self._sessions = itertools.count(first_id)
        self._turns: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<BrokerCore {self.name!r} connections={len(self._connections)}>"

    # -- connections ---------------------------------------------------------------------------

    def open_connection(self, now: float, *, websocket: str | None = None) -> BrokerConnection:
        """A new client connection, accepted at *now*; over WebSocket on the path *websocket*."""
        connection = BrokerConnection(self, next(self._numbers), now, websocket)
        self._connections.append(connection)
        return connection

    @property
    def connections(self) -> tuple[BrokerConnection, ...]:
        """The connections whose transport is not lost yet, in the order opened."""
        return tuple(self._connections)

    def drop_connections(self) -> None:
        """Drop every connection (as a crash would)."""
        for connection in list(self._connections):
            connection.drop()

    def next_deadline(self) -> float | None:
        """The earliest :meth:`BrokerConnection.next_deadline` of every connection."""
        deadlines = [c.next_deadline() for c in self._connections]
        return min((d for d in deadlines if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Call :meth:`BrokerConnection.handle_timer` on every connection."""
        for connection in list(self._connections):
            connection.handle_timer(now)

    # -- looking and publishing ----------------------------------------------------------------

    def frames(self, command: str) -> list[Frame]:
        """The frames received with *command*, from every connection, in order."""
        return [frame for frame in self.received if frame.command == command]

    def queued(self, destination: str) -> tuple[Frame, ...]:
        """The messages waiting in the queue *destination*, as MESSAGE frames.

        Their headers: ``destination``, ``message-id``, ``redelivered`` if redelivered,
        then the sender's (no subscription headers).
        """
        return tuple(stored.frame() for stored in self._queues.get(destination, ()))

    def unacknowledged(self) -> tuple[Frame, ...]:
        """The messages delivered and not yet acknowledged, on every connection."""
        return tuple(
            delivered.stored.frame()
            for sub in self._subscriptions
            for delivered in sub.unacked.values()
        )

    def publish(
        self,
        destination: str,
        body: bytes = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> str:
        """Put a message in *destination* as if a client had sent it; return its id."""
        pairs = tuple(headers.items() if isinstance(headers, Mapping) else headers)
        return self._store(destination, pairs, bytes(body))

    # -- the broker's insides ------------------------------------------------------------------

    def _release(self, connection: BrokerConnection) -> None:
        if connection._lost and connection in self._connections:
            self._connections.remove(connection)
        connection._transactions.clear()
        subscriptions = list(connection._subscriptions.values())
        connection._subscriptions.clear()
        for sub in subscriptions:
            self._unsubscribed(sub)

    def _store(self, destination: str, headers: tuple[tuple[str, str], ...], body: bytes) -> str:
        stored = _Stored(
            message_id=f"{self.name}-{next(self._message_ids)}",
            destination=destination,
            headers=headers,
            body=body,
        )
        if _is_topic(destination):
            for sub in self._subscriptions:
                if sub.destination == destination:
                    sub.backlog.append(stored.copy())
        else:
            self._queues.setdefault(destination, deque()).append(stored)
        self._dispatch(destination)
        return stored.message_id

    def _subscribed(self, sub: _Subscription) -> None:
        self._subscriptions.append(sub)
        self._dispatch(sub.destination)

    def _unsubscribed(self, sub: _Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
        pending = [delivered.stored for delivered in sub.unacked.values()]
        sub.unacked.clear()
        sub.backlog.clear()
        if not _is_topic(sub.destination):
            for stored in reversed(pending):
                self._requeue(stored)
        self._dispatch(sub.destination)

    def _requeue(self, stored: _Stored) -> None:
        stored.redeliveries += 1
        if self.redelivery_limit is not None and stored.redeliveries > self.redelivery_limit:
            dead = _Stored(
                message_id=stored.message_id,
                destination=self.dead_letter_queue,
                headers=(*stored.headers, ("original-destination", stored.destination)),
                body=stored.body,
            )
            self._queues.setdefault(self.dead_letter_queue, deque()).append(dead)
            self._dispatch(self.dead_letter_queue)
            return
        self._queues.setdefault(stored.destination, deque()).appendleft(stored)

    def _settle(self, delivered: _Delivered, *, nack: bool) -> None:
        sub = delivered.subscription
        if delivered.token not in sub.unacked:
            return
        if sub.ack == "client":
            tokens = list(sub.unacked)
            settled = tokens[: tokens.index(delivered.token) + 1]
        else:
            settled = [delivered.token]
        stored = [sub.unacked.pop(token).stored for token in settled]
        if nack and not _is_topic(sub.destination):
            for message in reversed(stored):
                self._requeue(message)
        self._dispatch(sub.destination)

    def _dispatch(self, destination: str) -> None:
        subs = [
            sub
            for sub in self._subscriptions
            if sub.destination == destination and sub.connection.is_open
        ]
        if _is_topic(destination):
            for sub in subs:
                while sub.backlog and sub.has_room():
                    self._deliver(sub, sub.backlog.popleft())
            return
        queue = self._queues.get(destination)
        while queue:
            ready = [sub for sub in subs if sub.has_room()]
            if not ready:
                return
            turn = self._turns.get(destination, 0)
            self._turns[destination] = turn + 1
            self._deliver(ready[turn % len(ready)], queue.popleft())

    def _deliver(self, sub: _Subscription, stored: _Stored) -> None:
        connection = sub.connection
        token = f"{self.name}-ack-{next(self._tokens)}"
        headers: list[tuple[str, str]] = []
        if sub.explicit_id:
            headers.append(("subscription", sub.id))
        headers += [("destination", stored.destination), ("message-id", stored.message_id)]
        if connection.version is Version.V1_2 and sub.ack != "auto":
            headers.append(("ack", token))
        if stored.redeliveries:
            headers.append(("redelivered", "true"))
        headers += stored.headers
        headers.append(("content-length", str(len(stored.body))))
        if sub.ack != "auto":
            sub.unacked[token] = _Delivered(stored=stored, token=token, subscription=sub)
        connection.send_frame(Frame("MESSAGE", headers, stored.body))

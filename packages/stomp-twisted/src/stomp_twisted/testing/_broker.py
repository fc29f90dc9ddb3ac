"""A simulated STOMP broker: queues, topics, acks, receipts, transactions, heart-beats, faults."""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from stomp_commands import ALL_VERSIONS
from stomp_frame import HEARTBEAT_BYTES, Frame, ParseError, Parser, Version, serialize
from stomp_twisted._model import ReactorLike
from stomp_twisted._twisted import DelayedCall, Transport, call_later, default_reactor

__all__ = ["Faults", "SimulatedBroker", "SimulatedConnection"]

logger = logging.getLogger("stomp_twisted.testing")

_SEND_OWN_HEADERS: Final = frozenset({"destination", "receipt", "transaction", "content-length"})
_NEED_CONNECTION: Final = frozenset(
    {"SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT", "DISCONNECT"}
)


class Faults:
    """The scripted misbehaviour of a :class:`SimulatedBroker`; every fault is off at first.

    Faults apply to the connections already open and to new ones, until
    :meth:`clear` (``drop_on`` fires once).
    """

    def __init__(self) -> None:
        self.silent_on_connect = False
        """CONNECT gets no answer at all (the client's CONNECTED timeout fires)."""
        self.connect_error: str | None = None
        """CONNECT gets an ERROR with this ``message`` and the connection is closed."""
        self.send_error: str | None = None
        """A SEND (to :attr:`send_error_destination`, or any) gets an ERROR with this
        ``message`` (and ``receipt-id``); the message is not stored."""
        self.send_error_destination: str | None = None
        self.send_error_closes = False
        """Close the connection after the ERROR for a SEND (as the spec says a server may)."""
        self.drop_command: str | None = None
        """When the :attr:`drop_nth` frame of this command arrives, the connection is
        dropped (aborted) before the frame is processed; then this fault clears."""
        self.drop_nth = 1
        self.heart_beating = True
        """``False``: the broker sends no heart-beats (a silent broker)."""
        self.receipts = True
        """``False``: frames are processed but no RECEIPT is sent, and DISCONNECT is
        left unanswered (the connection stays open)."""
        self._drop_seen = 0

    def never_answer(self) -> None:
        """Never answer CONNECT."""
        self.silent_on_connect = True

    def error_on_connect(self, message: str = "Bad CONNECT") -> None:
        """Answer CONNECT with an ERROR, then close."""
        self.connect_error = message

    def error_on_send(
        self,
        message: str = "Access refused",
        *,
        destination: str | None = None,
        close: bool = False,
    ) -> None:
        """Answer SEND (to *destination*, or any) with an ERROR; optionally close then."""
        self.send_error = message
        self.send_error_destination = destination
        self.send_error_closes = close

    def drop_on(self, command: str, nth: int = 1) -> None:
        """Drop the connection when the *nth* frame of *command* arrives from now on."""
        if nth < 1:
            msg = f"nth must be at least 1, got {nth}"
            raise ValueError(msg)
        self.drop_command = command
        self.drop_nth = nth
        self._drop_seen = 0

    def stop_heart_beating(self) -> None:
        """Send no more heart-beats (a silent broker)."""
        self.heart_beating = False

    def withhold_receipts(self) -> None:
        """Process frames but send no RECEIPT, nor close after DISCONNECT."""
        self.receipts = False

    def clear(self) -> None:
        """Turn every fault off."""
        self.__init__()  # type: ignore[misc]

    def _should_drop(self, command: str) -> bool:
        if self.drop_command != command:
            return False
        self._drop_seen += 1
        if self._drop_seen < self.drop_nth:
            return False
        self.drop_command = None
        return True


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


@dataclass(slots=True)
class _Subscription:
    connection: SimulatedConnection
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

    def __init__(self, message: str, *, close: bool = False, body: str = "") -> None:
        super().__init__(message)
        self.close = close
        self.body = body


class SimulatedConnection(Protocol):
    """One client connection to a :class:`SimulatedBroker` (the server's protocol).

    Attributes:
        version: The negotiated version, once CONNECTED was sent.
        connect_frame: The CONNECT (or STOMP) frame the client sent.
        received: Every frame received on this connection, in order.
        heart_beat: The negotiated ``(send, receive)`` heart-beat intervals of the
            broker, in ms.
    """

    def __init__(self, broker: SimulatedBroker, reactor: ReactorLike) -> None:
        self._broker = broker
        self._reactor = reactor
        self._parser = Parser(Version.V1_0)
        self.version: Version | None = None
        self.connect_frame: Frame | None = None
        self.received: list[Frame] = []
        self.heart_beat = (0, 0)
        self.subscriptions: dict[str, _Subscription] = {}
        self.transactions: dict[str, list[Callable[[], None]]] = {}
        self.open = False
        self._closing = False
        self._last_received = 0.0
        self._beat_timer: DelayedCall | None = None
        self._watch_timer: DelayedCall | None = None
        self._transport: Transport | None = None

    def __repr__(self) -> str:
        return f"<SimulatedConnection version={self.version} open={self.open}>"

    def closing(self) -> bool:
        """Whether the connection is closing or closed (no more frames are read)."""
        return self._closing

    # -- Twisted -------------------------------------------------------------------------------

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's name
        self._transport = cast(Transport, self.transport)
        self.open = True
        self._last_received = self._reactor.seconds()
        self._broker._opened(self)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self._closing:
            return
        self._last_received = self._reactor.seconds()
        parser = self._parser
        try:
            parser.receive_data(data)
            while (item := parser.next_event()) is not None:
                if not isinstance(item, Frame):
                    continue
                self._frame(item)
                if self.closing():
                    return
        except ParseError as exc:
            self._error(f"malformed frame: {exc}", None, close=True)

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802, ARG002
        self.open = False
        self._closing = True
        for timer in (self._beat_timer, self._watch_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._broker._closed(self)

    # -- what tests can do ---------------------------------------------------------------------

    def drop(self) -> None:
        """Drop the connection at once (as a crash or a network failure would)."""
        if self.open and self._transport is not None:
            self._closing = True
            self._transport.abortConnection()

    def close(self) -> None:
        """Close the connection cleanly (after what was written)."""
        if self.open and self._transport is not None:
            self._closing = True
            self._transport.loseConnection()

    # -- frames --------------------------------------------------------------------------------

    def write_frame(self, frame: Frame) -> None:
        """Write *frame* in the negotiated version."""
        if self._transport is not None and not self._closing:
            self._transport.write(serialize(frame, self.version or Version.V1_0))

    def _error(
        self, message: str, frame: Frame | None, *, close: bool = False, body: str = ""
    ) -> None:
        headers = [("message", message), ("content-type", "text/plain")]
        if frame is not None and (receipt := frame.get("receipt")) is not None:
            headers.append(("receipt-id", receipt))
        data = (body or message).encode()
        headers.append(("content-length", str(len(data))))
        self.write_frame(Frame("ERROR", headers, data))
        if close:
            self.close()

    def _frame(self, frame: Frame) -> None:
        broker = self._broker
        broker.received.append(frame)
        self.received.append(frame)
        command = frame.command
        if broker.faults._should_drop(command):
            logger.info("fault: dropping the connection on %s", command)
            self.drop()
            return
        if command in ("CONNECT", "STOMP"):
            if self.version is not None:
                self._error("already connected", frame, close=True)
                return
            self._connect(frame)
            return
        if self.version is None:
            self._error(f"{command} before CONNECT", frame, close=True)
            return
        if command not in _NEED_CONNECTION:
            self._error(f"unknown or server command {command}", frame, close=True)
            return
        try:
            getattr(self, f"_on_{command.lower()}")(frame)
        except _Refused as refused:
            self._error(str(refused), frame, close=refused.close, body=refused.body)
            return
        receipt = frame.get("receipt")
        if receipt is not None and broker.faults.receipts:
            self.write_frame(Frame("RECEIPT", {"receipt-id": receipt}))
        if command == "DISCONNECT" and broker.faults.receipts:
            self.close()

    def _connect(self, frame: Frame) -> None:
        broker = self._broker
        faults = broker.faults
        self.connect_frame = frame
        if faults.silent_on_connect:
            return
        if faults.connect_error is not None:
            self._error(faults.connect_error, frame, close=True)
            return
        accepted = frame.get("accept-version")
        offered = {"1.0"} if accepted is None else {v.strip() for v in accepted.split(",")}
        common = [version for version in broker.versions if version.value in offered]
        if not common:
            supported = ",".join(v.value for v in broker.versions)
            self.write_frame(
                Frame(
                    "ERROR",
                    {
                        "message": "Supported protocol versions are " + supported,
                        "version": supported,
                    },
                )
            )
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
            ("server", f"stomp-twisted-simulator/{broker.name}"),
            ("session", f"{broker.name}-session-{next(broker._sessions)}"),
        ]
        if version is not Version.V1_0:
            cx, cy = _heart_beat(frame.get("heart-beat"))
            sx, sy = broker.heart_beat if broker.heart_beat is not None else (cy, cx)
            headers.append(("heart-beat", f"{sx},{sy}"))
            self.heart_beat = (max(sx, cy) if sx and cy else 0, max(cx, sy) if cx and sy else 0)
        self.version = version
        self.write_frame(Frame("CONNECTED", headers))
        self._parser.version = version
        if self.heart_beat[0]:
            self._beat_timer = call_later(self._reactor, self.heart_beat[0] / 1000, self._beat)
        if self.heart_beat[1]:
            self._watch_timer = call_later(self._reactor, self.heart_beat[1] / 1000, self._watch)

    def _beat(self) -> None:
        if self._broker.faults.heart_beating and self._transport is not None:
            self._transport.write(HEARTBEAT_BYTES)
        self._beat_timer = call_later(self._reactor, self.heart_beat[0] / 1000, self._beat)

    def _watch(self) -> None:
        interval = self.heart_beat[1] / 1000
        silent = self._reactor.seconds() - self._last_received
        if silent >= interval * self._broker.heart_beat_grace:
            logger.info("the client has been silent for %.3f s: dropping it", silent)
            self.drop()
            return
        self._watch_timer = call_later(self._reactor, interval, self._watch)

    def _transaction(self, frame: Frame) -> list[Callable[[], None]] | None:
        name = frame.get("transaction")
        if name is None:
            return None
        actions = self.transactions.get(name)
        if actions is None:
            raise _Refused(f"Bad transaction: {name!r} is not open")
        return actions

    def _on_send(self, frame: Frame) -> None:
        faults = self._broker.faults
        destination = frame.get("destination")
        if destination is None:
            raise _Refused("Missing destination")
        if faults.send_error is not None and faults.send_error_destination in (None, destination):
            raise _Refused(faults.send_error, close=faults.send_error_closes)
        headers = tuple(pair for pair in frame.headers if pair[0] not in _SEND_OWN_HEADERS)
        actions = self._transaction(frame)

        def store() -> None:
            self._broker._store(destination, headers, frame.body)

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
        if (sub_id or destination) in self.subscriptions:
            raise _Refused(f"Duplicate subscription id {sub_id or destination!r}")
        ack = frame.get("ack", "auto")
        if ack not in ("auto", "client", "client-individual"):
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
        self.subscriptions[sub.id] = sub
        self._broker._subscribed(sub)

    def _on_unsubscribe(self, frame: Frame) -> None:
        sub_id = frame.get("id") or frame.get("destination")
        sub = self.subscriptions.pop(sub_id or "", None)
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
            what = frame.get("id") or frame.get("message-id")
            raise _Refused(f"Unexpected {frame.command} for {what!r}")
        actions = self._transaction(frame)

        def apply() -> None:
            self._broker._settle(delivered, nack=nack)

        if actions is None:
            apply()
        else:
            actions.append(apply)

    def _find(self, frame: Frame) -> _Delivered | None:
        if self.version is Version.V1_2:
            token = frame.get("id")
            for sub in self.subscriptions.values():
                if token in sub.unacked:
                    return sub.unacked[token]
            return None
        message_id = frame.get("message-id")
        sub_id = frame.get("subscription")
        for sub in self.subscriptions.values():
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
        if name in self.transactions:
            raise _Refused(f"Transaction {name!r} is already open")
        self.transactions[name] = []

    def _on_commit(self, frame: Frame) -> None:
        name = frame.get("transaction")
        actions = self.transactions.pop(name or "", None)
        if actions is None:
            raise _Refused(f"Bad transaction: {name!r} is not open")
        for action in actions:
            action()

    def _on_abort(self, frame: Frame) -> None:
        name = frame.get("transaction")
        if self.transactions.pop(name or "", None) is None:
            raise _Refused(f"Bad transaction: {name!r} is not open")

    def _on_disconnect(self, frame: Frame) -> None:
        """Answered with its RECEIPT, then closed (see ``_frame``)."""


def _heart_beat(text: str | None) -> tuple[int, int]:
    if not text:
        return (0, 0)
    try:
        cx, cy = (int(part) for part in text.split(","))
    except ValueError:
        return (0, 0)
    return (cx, cy)


class _Factory(ServerFactory):
    def __init__(self, broker: SimulatedBroker, reactor: ReactorLike) -> None:
        self._broker = broker
        self._reactor = reactor

    def buildProtocol(self, addr: IAddress | None) -> SimulatedConnection:  # noqa: N802, ARG002
        connection = SimulatedConnection(self._broker, self._reactor)
        connection.factory = self
        return connection


class SimulatedBroker:
    """A STOMP broker in memory, for tests: on the simulated network or on a real port.

    It keeps queues (``/queue/...``, and any name not under ``/topic/``: one consumer
    per message, round robin) and topics (``/topic/...``: every subscriber at the
    time gets a copy); ack modes ``auto``, ``client`` (cumulative) and
    ``client-individual``, with ``prefetch-count`` / ``activemq.prefetchSize``
    bounding unacknowledged messages; unacknowledged messages go back to their queue
    with ``redelivered:true`` when their connection closes or their subscription
    ends, and NACK (1.1+) does the same at once. With ``redelivery_limit``, a message
    redelivered more often than that goes to ``dead_letter_queue`` instead (with an
    ``original-destination`` header). Receipts, transactions (SEND, ACK, NACK),
    heart-beats and version negotiation (1.0-1.2) follow the spec; scripted
    :attr:`faults` make it misbehave.

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
    """

    def __init__(
        self,
        *,
        name: str = "sim",
        versions: Iterable[Version] = ALL_VERSIONS,
        heart_beat: tuple[int, int] | None = None,
        users: Mapping[str, str] | None = None,
        vhosts: Collection[str] | None = None,
        redelivery_limit: int | None = None,
        dead_letter_queue: str = "/queue/DLQ",
        heart_beat_grace: float = 3.0,
    ) -> None:
        self.name = name
        self.versions = tuple(versions)
        self.heart_beat = heart_beat
        self.users = None if users is None else dict(users)
        self.vhosts = None if vhosts is None else frozenset(vhosts)
        self.redelivery_limit = redelivery_limit
        self.dead_letter_queue = dead_letter_queue
        self.heart_beat_grace = heart_beat_grace
        self.faults = Faults()
        """The scripted faults (see :class:`Faults`)."""
        self.received: list[Frame] = []
        """Every frame received, from every connection, in order."""
        self._connections: list[SimulatedConnection] = []
        self._queues: dict[str, deque[_Stored]] = {}
        self._subscriptions: list[_Subscription] = []
        self._message_ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._sessions = itertools.count(1)
        self._turns: dict[str, int] = {}
        self._ports: list[Any] = []

    def __repr__(self) -> str:
        return f"<SimulatedBroker {self.name!r} connections={len(self._connections)}>"

    # -- serving -------------------------------------------------------------------------------

    def factory(self, reactor: ReactorLike | None = None) -> ServerFactory:
        """A server factory for this broker, to listen with by hand."""
        return _Factory(self, default_reactor() if reactor is None else reactor)

    def listen(
        self,
        port: int = 0,
        *,
        interface: str = "127.0.0.1",
        reactor: ReactorLike | None = None,
        tls: object | None = None,
    ) -> int:
        """Listen on *port* (0: any free one) of *interface*; return the bound port.

        With a :class:`SimulatedReactor` the port is on its in-memory network (any
        host name will do as *interface*); with a real reactor (the default, the
        global one) it is a real TCP port, which needs the reactor running to serve.

        Args:
            port: The port, or 0 for a free one.
            interface: The address (or simulated host name) to listen on.
            reactor: The reactor; the global one by default.
            tls: A server TLS context factory (such as ``CertificateOptions``, or
                ``PrivateCertificate.options()``) to speak STOMP over TLS.
        """
        chosen = default_reactor() if reactor is None else reactor
        factory: object = self.factory(chosen)
        if tls is not None:
            factory = TLSMemoryBIOFactory(tls, False, factory, clock=chosen)  # type: ignore[arg-type]
        listening = chosen.listenTCP(port, factory, interface=interface)
        self._ports.append(listening)
        bound: int = listening.getHost().port  # type: ignore[attr-defined]
        logger.info("simulated broker %r listening on %s:%d", self.name, interface, bound)
        return bound

    def stop_listening(self) -> Deferred[None]:
        """Stop listening on every port (open connections stay)."""
        ports, self._ports = self._ports, []
        stopped = [port.stopListening() for port in ports]
        done: Deferred[None] = DeferredList(stopped).addCallback(lambda _: None)
        return done

    @property
    def connections(self) -> tuple[SimulatedConnection, ...]:
        """The open connections."""
        return tuple(self._connections)

    def drop_connections(self) -> None:
        """Drop every open connection (as a crash would)."""
        for connection in list(self._connections):
            connection.drop()

    # -- looking and publishing ----------------------------------------------------------------

    def frames(self, command: str) -> list[Frame]:
        """The frames received with *command*, from every connection, in order."""
        return [frame for frame in self.received if frame.command == command]

    def queued(self, destination: str) -> tuple[Frame, ...]:
        """The messages waiting in the queue *destination*, as MESSAGE frames.

        Their headers: ``message-id``, ``destination``, ``redelivered`` if redelivered,
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
        return self._store(destination, pairs, body)

    # -- the broker's core ---------------------------------------------------------------------

    def _opened(self, connection: SimulatedConnection) -> None:
        self._connections.append(connection)

    def _closed(self, connection: SimulatedConnection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
        connection.transactions.clear()
        for sub in list(connection.subscriptions.values()):
            self._unsubscribed(sub)
        connection.subscriptions.clear()

    def _store(self, destination: str, headers: tuple[tuple[str, str], ...], body: bytes) -> str:
        stored = _Stored(
            message_id=f"{self.name}-{next(self._message_ids)}",
            destination=destination,
            headers=headers,
            body=body,
        )
        if destination.startswith("/topic/"):
            for sub in self._subscriptions:
                if sub.destination == destination:
                    sub.backlog.append(_Stored(**_fields(stored)))
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
        if not sub.destination.startswith("/topic/"):
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
        if nack and not sub.destination.startswith("/topic/"):
            for message in reversed(stored):
                self._requeue(message)
        self._dispatch(sub.destination)

    def _dispatch(self, destination: str) -> None:
        subs = [
            sub
            for sub in self._subscriptions
            if sub.destination == destination and sub.connection.open
        ]
        if destination.startswith("/topic/"):
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
        connection.write_frame(Frame("MESSAGE", headers, stored.body))


def _fields(stored: _Stored) -> dict[str, Any]:
    return {
        "message_id": stored.message_id,
        "destination": stored.destination,
        "headers": stored.headers,
        "body": stored.body,
    }

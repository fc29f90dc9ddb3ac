"""The broker's core, sans-I/O: bytes and time in, bytes out, for every connection."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Collection, Iterable, Mapping

from stomp_commands import ALL_VERSIONS
from stomp_frame import Frame, Version
from stomp_testing._connection import (
    BrokerConnection,
    _Delivered,
    _is_topic,
    _Stored,
    _Subscription,
)
from stomp_testing._faults import Faults

__all__ = ["BrokerConnection", "BrokerCore"]


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

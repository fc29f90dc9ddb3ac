"""A simulated STOMP broker: the Twisted shell of stomp-testing's sans-I/O broker core."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any, cast

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from stomp_commands import ALL_VERSIONS
from stomp_frame import Frame, Version
from stomp_testing import BrokerConnection, BrokerCore, Faults
from stomp_twisted._model import ReactorLike
from stomp_twisted._twisted import DelayedCall, Transport, call_later, default_reactor

__all__ = ["Faults", "SimulatedBroker", "SimulatedConnection"]

logger = logging.getLogger("stomp_twisted.testing")


class SimulatedConnection(Protocol):
    """One client connection to a :class:`SimulatedBroker` (the server's protocol).

    It only moves bytes and time between its transport and its
    :class:`stomp_testing.BrokerConnection` (:attr:`core`), which holds the protocol.

    Attributes:
        open: Whether the transport is connected.
    """

    def __init__(self, broker: SimulatedBroker, reactor: ReactorLike) -> None:
        self._broker = broker
        self._reactor = reactor
        self._core: BrokerConnection | None = None
        self.open = False
        self._transport: Transport | None = None
        self._timer: DelayedCall | None = None
        self._paused = False
        self._closed_by_us = False

    def __repr__(self) -> str:
        return f"<SimulatedConnection version={self.version} open={self.open}>"

    @property
    def core(self) -> BrokerConnection | None:
        """The broker core's side of this connection, once it is made."""
        return self._core

    @property
    def received(self) -> list[Frame]:
        """Every frame received on this connection, in order."""
        return [] if self._core is None else self._core.received

    @property
    def version(self) -> Version | None:
        """The negotiated version, once CONNECTED was sent."""
        return None if self._core is None else self._core.version

    @property
    def connect_frame(self) -> Frame | None:
        """The CONNECT (or STOMP) frame the client sent."""
        return None if self._core is None else self._core.connect_frame

    @property
    def heart_beat(self) -> tuple[int, int]:
        """The negotiated ``(send, receive)`` heart-beat intervals of the broker, in ms."""
        return (0, 0) if self._core is None else self._core.heart_beat

    @property
    def subscriptions(self) -> dict[str, str]:
        """The subscriptions of this connection: ``{id: destination}``."""
        return {} if self._core is None else self._core.subscriptions

    @property
    def transactions(self) -> tuple[str, ...]:
        """The names of the transactions open on this connection."""
        return () if self._core is None else self._core.transactions

    def closing(self) -> bool:
        """Whether the connection is closing or closed (no more frames are read)."""
        return not self.open or self._core is None or not self._core.is_open

    # -- Twisted -------------------------------------------------------------------------------

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's name
        self._transport = cast(Transport, self.transport)
        self.open = True
        self._core = self._broker.core.open_connection(self._reactor.seconds())
        self._broker._opened(self)
        self._broker._flush()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self._core is not None:
            self._core.receive_data(data, self._reactor.seconds())
            self._broker._flush()

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802, ARG002
        self.open = False
        self._cancel_timer()
        if self._core is not None:
            self._core.connection_lost(self._reactor.seconds())
        self._broker._closed(self)
        self._broker._flush()

    # -- what tests can do ---------------------------------------------------------------------

    def drop(self) -> None:
        """Drop the connection at once (as a crash or a network failure would)."""
        if self.open and self._core is not None:
            self._core.drop()
            self._broker._flush()

    def close(self) -> None:
        """Close the connection cleanly (after what was written)."""
        if self.open and self._core is not None:
            self._core.close()
            self._broker._flush()

    def write_frame(self, frame: Frame) -> None:
        """Write *frame* in the negotiated version."""
        if self._core is not None:
            self._core.send_frame(frame)
            self._broker._flush()

    # -- the shell -----------------------------------------------------------------------------

    def _flush(self) -> bool:
        """Move the core's output to the transport; return whether held bytes were released."""
        core, transport = self._core, self._transport
        if core is None or transport is None or not self.open or self._closed_by_us:
            return False
        if core.should_abort:
            logger.info("dropping the connection")
            self._closed_by_us = True
            self._cancel_timer()
            transport.abortConnection()
            return False
        data = core.data_to_send()
        if data:
            transport.write(data)
        if core.should_close:
            self._closed_by_us = True
            self._cancel_timer()
            transport.loseConnection()
            return False
        released = False
        if core.reading == self._paused:
            self._paused = not core.reading
            if self._paused:
                transport.pauseProducing()
            else:
                transport.resumeProducing()
                core.receive_data(b"", self._reactor.seconds())
                released = True
        self._schedule(core.next_deadline())
        return released

    def _schedule(self, deadline: float | None) -> None:
        timer = self._timer
        if timer is not None and timer.active():
            if deadline is not None and timer.getTime() == deadline:
                return
            timer.cancel()
        self._timer = None
        if deadline is not None:
            delay = max(0.0, deadline - self._reactor.seconds())
            self._timer = call_later(self._reactor, delay, self._on_timer, deadline)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _on_timer(self, deadline: float) -> None:
        self._timer = None
        if self._core is not None:
            self._core.handle_timer(max(self._reactor.seconds(), deadline))
            self._broker._flush()


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

    The broker itself is :attr:`core`, a :class:`stomp_testing.BrokerCore` (sans-I/O);
    this class only serves it on Twisted: bytes, timers and closes.

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
        self.core = BrokerCore(
            name=name,
            versions=versions,
            heart_beat=heart_beat,
            users=users,
            vhosts=vhosts,
            redelivery_limit=redelivery_limit,
            dead_letter_queue=dead_letter_queue,
            heart_beat_grace=heart_beat_grace,
            server=f"stomp-twisted-simulator/{name}",
        )
        """The broker itself (sans-I/O); this object serves it."""
        self._connections: list[SimulatedConnection] = []
        self._ports: list[Any] = []
        self._flushing = False
        self._again = False

    def __repr__(self) -> str:
        return f"<SimulatedBroker {self.name!r} connections={len(self._connections)}>"

    # -- the core's settings -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Its name, in CONNECTED's ``server`` and in message ids."""
        return self.core.name

    @property
    def versions(self) -> tuple[Version, ...]:
        """The versions it speaks (settable)."""
        return self.core.versions

    @versions.setter
    def versions(self, versions: Iterable[Version]) -> None:
        self.core.versions = tuple(versions)

    @property
    def heart_beat(self) -> tuple[int, int] | None:
        """Its CONNECTED ``heart-beat`` ``(sx, sy)``; ``None`` echoes the client's (settable)."""
        return self.core.heart_beat

    @heart_beat.setter
    def heart_beat(self, heart_beat: tuple[int, int] | None) -> None:
        self.core.heart_beat = heart_beat

    @property
    def users(self) -> dict[str, str] | None:
        """``{login: passcode}`` it accepts; ``None`` accepts anyone (settable)."""
        return self.core.users

    @users.setter
    def users(self, users: Mapping[str, str] | None) -> None:
        self.core.users = None if users is None else dict(users)

    @property
    def vhosts(self) -> frozenset[str] | None:
        """The ``host`` values it accepts; ``None`` accepts any (settable)."""
        return self.core.vhosts

    @vhosts.setter
    def vhosts(self, vhosts: Collection[str] | None) -> None:
        self.core.vhosts = None if vhosts is None else frozenset(vhosts)

    @property
    def redelivery_limit(self) -> int | None:
        """Redeliveries allowed before dead-lettering; ``None``: no limit (settable)."""
        return self.core.redelivery_limit

    @redelivery_limit.setter
    def redelivery_limit(self, limit: int | None) -> None:
        self.core.redelivery_limit = limit

    @property
    def dead_letter_queue(self) -> str:
        """Where messages go past the redelivery limit (settable)."""
        return self.core.dead_letter_queue

    @dead_letter_queue.setter
    def dead_letter_queue(self, destination: str) -> None:
        self.core.dead_letter_queue = destination

    @property
    def heart_beat_grace(self) -> float:
        """How many receive intervals of client silence make it drop the client (settable)."""
        return self.core.heart_beat_grace

    @heart_beat_grace.setter
    def heart_beat_grace(self, grace: float) -> None:
        self.core.heart_beat_grace = grace

    @property
    def faults(self) -> Faults:
        """The scripted faults (see :class:`Faults`)."""
        return self.core.faults

    @property
    def received(self) -> list[Frame]:
        """Every frame received, from every connection, in order."""
        return self.core.received

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
        self.core.drop_connections()
        self._flush()

    # -- looking and publishing ----------------------------------------------------------------

    def frames(self, command: str) -> list[Frame]:
        """The frames received with *command*, from every connection, in order."""
        return self.core.frames(command)

    def queued(self, destination: str) -> tuple[Frame, ...]:
        """The messages waiting in the queue *destination*, as MESSAGE frames.

        Their headers: ``destination``, ``message-id``, ``redelivered`` if redelivered,
        then the sender's (no subscription headers).
        """
        return self.core.queued(destination)

    def unacknowledged(self) -> tuple[Frame, ...]:
        """The messages delivered and not yet acknowledged, on every connection."""
        return self.core.unacknowledged()

    def publish(
        self,
        destination: str,
        body: bytes = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> str:
        """Put a message in *destination* as if a client had sent it; return its id."""
        message_id = self.core.publish(destination, body, headers)
        self._flush()
        return message_id

    # -- the shell -----------------------------------------------------------------------------

    def _opened(self, connection: SimulatedConnection) -> None:
        self._connections.append(connection)

    def _closed(self, connection: SimulatedConnection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)

    def _flush(self) -> None:
        """Write what every connection has to send (one input may feed several)."""
        if self._flushing:
            self._again = True
            return
        self._flushing = True
        try:
            again = True
            while again:
                self._again = False
                released = [connection._flush() for connection in list(self._connections)]
                again = self._again or any(released)
        finally:
            self._flushing = False

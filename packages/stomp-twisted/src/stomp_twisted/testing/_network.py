"""An in-memory network on a MemoryReactorClock: TCP connections as pairs of buffers."""

from __future__ import annotations

import itertools
from typing import Any, Final, TypeVar, cast

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import (
    ConnectionAborted,
    ConnectionDone,
    ConnectionRefusedError,
    UserError,
)
from twisted.internet.error import ConnectionLost as TCPConnectionLost
from twisted.internet.interfaces import (
    IConnector,
    IConsumer,
    IListeningPort,
    IPushProducer,
    ITCPTransport,
)
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped, unused-ignore]

from stomp_twisted._twisted import DelayedCall, failure_of

__all__ = ["SimulatedReactor"]

_T = TypeVar("_T")
_FLUSH_LIMIT: Final = 1_000_000


@implementer(ITCPTransport, IPushProducer, IConsumer)
class _MemoryTransport:
    """One end of an in-memory TCP connection; what it writes waits for ``flush``."""

    def __init__(self, network: SimulatedReactor, host: IPv4Address, peer: IPv4Address) -> None:
        self._network = network
        self._host = host
        self._peer_address = peer
        self.protocol: Any = None
        self.peer: _MemoryTransport | None = None
        self.connector: _MemoryConnector | None = None
        self.outgoing: list[bytes] = []
        self.paused = False
        self.disconnecting = False
        self.disconnected = False
        self.aborted = False
        self.producer: object = None

    # ITransport
    def write(self, data: bytes) -> None:
        given: object = data
        if not isinstance(given, bytes):
            msg = f"data must be bytes, not {type(data).__name__}"
            raise TypeError(msg)
        if self.disconnecting or self.disconnected or not data:
            return
        self.outgoing.append(data)

    def writeSequence(self, data: Any) -> None:  # noqa: N802 - Twisted's name
        for chunk in data:
            self.write(chunk)

    def loseConnection(self) -> None:  # noqa: N802 - Twisted's name
        self.disconnecting = True

    def abortConnection(self) -> None:  # noqa: N802 - Twisted's name
        if not self.disconnected:
            self.aborted = True
            self.disconnecting = True

    def getPeer(self) -> IPv4Address:  # noqa: N802 - Twisted's name
        return self._peer_address

    def getHost(self) -> IPv4Address:  # noqa: N802 - Twisted's name
        return self._host

    # ITCPTransport odds and ends
    def getTcpNoDelay(self) -> bool:  # noqa: N802 - Twisted's name
        return True

    def setTcpNoDelay(self, enabled: bool) -> None:  # noqa: N802, FBT001 - Twisted's name
        """No effect in memory."""

    def getTcpKeepAlive(self) -> bool:  # noqa: N802 - Twisted's name
        return False

    def setTcpKeepAlive(self, enabled: bool) -> None:  # noqa: N802, FBT001 - Twisted's name
        """No effect in memory."""

    def loseWriteConnection(self) -> None:  # noqa: N802 - Twisted's name
        self.loseConnection()

    # IPushProducer: pausing stops *reading* (what the peer wrote waits).
    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's name
        self.paused = True

    def resumeProducing(self) -> None:  # noqa: N802 - Twisted's name
        self.paused = False

    def stopProducing(self) -> None:  # noqa: N802 - Twisted's name
        self.loseConnection()

    # IConsumer
    def registerProducer(self, producer: object, streaming: bool) -> None:  # noqa: N802, FBT001, ARG002
        self.producer = producer

    def unregisterProducer(self) -> None:  # noqa: N802 - Twisted's name
        self.producer = None

    # The network's side.
    def pump(self) -> bool:
        """Move what this end wrote to its peer, or close; return whether anything moved."""
        if self.disconnected:
            return False
        peer = self.peer
        assert peer is not None
        if self.aborted:
            self.close(failure_of(ConnectionAborted()))
            peer.close(failure_of(TCPConnectionLost("connection reset by peer")))
            return True
        if self.outgoing and not peer.paused and not peer.disconnecting:
            data = b"".join(self.outgoing)
            self.outgoing.clear()
            peer.protocol.dataReceived(data)
            return True
        if self.disconnecting and not self.outgoing:
            self.close(failure_of(ConnectionDone()))
            peer.close(failure_of(ConnectionDone()))
            return True
        return False

    def close(self, reason: Failure) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self.disconnecting = True
        self.outgoing.clear()
        self._network._closed(self)
        self.protocol.connectionLost(reason)
        connector = self.connector
        if connector is not None:
            connector.state = "disconnected"
            connector.factory.clientConnectionLost(connector, reason)
            connector.factory.doStop()


@implementer(IConnector)
class _MemoryConnector:
    """A connection attempt on the simulated network."""

    def __init__(self, network: SimulatedReactor, host: str, port: int, factory: Any) -> None:
        self._network = network
        self.host = host
        self.port = port
        self.factory = factory
        self.state = "connecting"
        self.transport: _MemoryTransport | None = None

    def stopConnecting(self) -> None:  # noqa: N802 - Twisted's name
        if self.state != "connecting":
            return
        self.state = "disconnected"
        self._network._forget(self)
        self.factory.clientConnectionFailed(self, failure_of(UserError()))  # type: ignore[no-untyped-call]
        self.factory.doStop()

    def disconnect(self) -> None:
        if self.state == "connecting":
            self.stopConnecting()
        elif self.state == "connected" and self.transport is not None:
            self.transport.loseConnection()

    def connect(self) -> None:
        """Not supported: make a new connection with ``connectTCP``."""
        raise NotImplementedError

    def getDestination(self) -> IPv4Address:  # noqa: N802 - Twisted's name
        return IPv4Address("TCP", self.host, self.port)


@implementer(IListeningPort)
class _MemoryPort:
    def __init__(self, network: SimulatedReactor, interface: str, port: int, factory: Any) -> None:
        self._network = network
        self._address = IPv4Address("TCP", interface or "0.0.0.0", port)  # noqa: S104
        self.key = (interface, port)
        self.factory = factory

    def startListening(self) -> None:  # noqa: N802 - Twisted's name
        """Already listening."""

    def stopListening(self) -> Deferred[None]:  # noqa: N802 - Twisted's name
        if self._network._listeners.get(self.key) is self:
            del self._network._listeners[self.key]
            self.factory.doStop()
        return succeed(None)

    def getHost(self) -> IPv4Address:  # noqa: N802 - Twisted's name
        return self._address


class SimulatedReactor(MemoryReactorClock):
    """A ``MemoryReactorClock`` whose TCP connections run in memory, on a simulated clock.

    ``listenTCP`` registers a factory under ``(interface, port)`` (any host name
    will do as the interface; port 0 picks a free one), and ``connectTCP`` reaches
    it; a connection to an address nobody listens on is refused, and one to an
    address given to :meth:`blackhole` never completes (for connect timeouts).

    Nothing moves by itself: :meth:`flush` delivers what was written, completes
    connections and closes, and runs the calls due now, until the network is quiet;
    :meth:`advance` moves the clock, stopping at every scheduled call to flush;
    :meth:`run_until` advances until a ``Deferred`` fires and returns its result.
    A transport paused with ``pauseProducing`` receives nothing until resumed, as a
    socket that is not read.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._listeners: dict[tuple[str, int], _MemoryPort] = {}
        self._pending: list[_MemoryConnector] = []
        self._transports: list[_MemoryTransport] = []
        self._blackholes: set[tuple[str, int]] = set()
        self._ports = itertools.count(40000)

    # -- the reactor's TCP ---------------------------------------------------------------------

    def listenTCP(  # noqa: N802 - Twisted's name
        self,
        port: int,
        factory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> _MemoryPort:
        """Listen on ``(interface, port)`` of the simulated network."""
        if port == 0:
            port = next(self._ports)
        key = (interface, port)
        if key in self._listeners:
            msg = f"{interface}:{port} is already in use on the simulated network"
            raise OSError(msg)
        listening = _MemoryPort(self, interface, port, factory)
        self._listeners[key] = listening
        self.tcpServers.append((port, factory, backlog, interface))
        factory.doStart()
        return listening

    def connectTCP(  # noqa: N802 - Twisted's name
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,  # noqa: N803, ARG002 - Twisted's name
    ) -> _MemoryConnector:
        """Start connecting; the connection is made (or refused) at the next flush."""
        connector = _MemoryConnector(self, host, port, factory)
        self.tcpClients.append((host, port, factory, int(timeout), None))
        factory.doStart()
        factory.startedConnecting(connector)
        self._pending.append(connector)
        return connector

    def blackhole(self, host: str, port: int) -> None:
        """Make connections to *host*:*port* hang forever (no answer to the SYN)."""
        self._blackholes.add((host, port))

    def listening(self, host: str, port: int) -> bool:
        """Whether something listens on *host*:*port* of the simulated network."""
        return self._listener(host, port) is not None

    def _listener(self, host: str, port: int) -> _MemoryPort | None:
        return self._listeners.get((host, port)) or self._listeners.get(("", port))

    def _forget(self, connector: _MemoryConnector) -> None:
        if connector in self._pending:
            self._pending.remove(connector)

    def _closed(self, transport: _MemoryTransport) -> None:
        if transport in self._transports:
            self._transports.remove(transport)

    def _complete(self, connector: _MemoryConnector) -> bool:
        key = (connector.host, connector.port)
        if key in self._blackholes:
            return False
        self._pending.remove(connector)
        listening = self._listener(*key)
        if listening is None:
            connector.state = "disconnected"
            connector.factory.clientConnectionFailed(
                connector,
                failure_of(ConnectionRefusedError(f"{key[0]}:{key[1]}")),  # type: ignore[no-untyped-call]
            )
            connector.factory.doStop()
            return True
        client_address = IPv4Address("TCP", "10.0.0.1", next(self._ports))
        server_address = IPv4Address("TCP", connector.host, connector.port)
        server_protocol = listening.factory.buildProtocol(client_address)
        client_protocol = connector.factory.buildProtocol(server_address)
        server = _MemoryTransport(self, server_address, client_address)
        client = _MemoryTransport(self, client_address, server_address)
        server.peer, client.peer = client, server
        server.protocol, client.protocol = server_protocol, client_protocol
        client.connector = connector
        connector.transport = client
        connector.state = "connected"
        self._transports += [server, client]
        server_protocol.makeConnection(server)
        client_protocol.makeConnection(client)
        return True

    # -- moving things along -------------------------------------------------------------------

    def _calls(self) -> list[DelayedCall]:
        return cast(list[DelayedCall], list(self.getDelayedCalls()))

    def flush(self) -> None:
        """Deliver, connect, close and run what is due now, until nothing moves.

        Raises:
            RuntimeError: the network never settles (something loops without time passing).
        """
        for _ in range(_FLUSH_LIMIT):
            moved = False
            for connector in list(self._pending):
                moved = self._complete(connector) or moved
            for transport in list(self._transports):
                moved = transport.pump() or moved
            calls = self._calls()
            if calls and min(call.getTime() for call in calls) <= self.seconds():
                MemoryReactorClock.advance(self, 0)
                moved = True
            if not moved:
                return
        msg = "the simulated network does not settle: something loops without time passing"
        raise RuntimeError(msg)

    def advance(self, amount: float) -> None:
        """Move the clock *amount* seconds forward, flushing at every call due on the way."""
        target = self.seconds() + amount
        self.flush()
        while True:
            calls = self._calls()
            upcoming = min((call.getTime() for call in calls), default=None)
            if upcoming is None or upcoming > target:
                break
            self.rightNow = max(self.rightNow, upcoming)
            self.flush()
        self.rightNow = max(self.rightNow, target)
        self.flush()

    def run_until(self, waited: Deferred[_T], timeout: float = 60.0) -> _T:
        """Advance the clock until *waited* fires; return its result or raise its error.

        Args:
            waited: The Deferred to wait for (its result is consumed).
            timeout: The most simulated seconds to wait.

        Raises:
            TimeoutError: it did not fire within *timeout* simulated seconds.
            AssertionError: it cannot fire: nothing is scheduled any more.
        """
        results: list[_T | Failure] = []
        waited.addBoth(results.append)
        deadline = self.seconds() + timeout
        self.flush()
        while not results:
            calls = self._calls()
            if not calls:
                msg = "the Deferred has not fired and nothing is scheduled any more"
                raise AssertionError(msg)
            upcoming = min(call.getTime() for call in calls)
            if upcoming > deadline:
                msg = f"the Deferred did not fire within {timeout} simulated seconds"
                raise TimeoutError(msg)
            self.advance(max(0.0, upcoming - self.seconds()))
        result = results[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

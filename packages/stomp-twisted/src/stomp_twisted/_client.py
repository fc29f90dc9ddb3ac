"""The Twisted STOMP client: sockets, TLS, timers and handlers around a stomp-session Session."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final, Generic, TypeVar, cast

from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from stomp_commands import ALL_VERSIONS, AckMode, Headers
from stomp_failover import Broker, BrokersExhausted, FailoverUri, RandomSource
from stomp_frame import HEARTBEAT_BYTES, Version
from stomp_session import (
    DEFAULT_HEART_BEAT_GRACE,
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    LocalProtocolError,
    MessageReceived,
    PeerDead,
    ProtocolFailure,
    ReceiptLost,
    ReceiptReceived,
    Session,
    State,
    TransactionAborted,
)
from stomp_twisted._errors import (
    BrokerError,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    HandlerFailed,
    InvalidRequest,
    NotConnected,
    WaitTimeout,
)
from stomp_twisted._model import (
    ERROR_HEADER,
    FORWARD_EXCLUDED_HEADERS,
    ClientState,
    DisconnectResult,
    ErrorHook,
    Handler,
    ReactorLike,
    UnfinishedHandler,
)
from stomp_twisted._subscription import Delivery, Subscription
from stomp_twisted._tls import TlsOptions, check_files, connection_creator
from stomp_twisted._twisted import (
    Connector,
    DelayedCall,
    Transport,
    call_later,
    default_reactor,
    failure_of,
    sleep,
    within,
)

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "PREFETCH_HEADERS", "Client"]

logger = logging.getLogger("stomp_twisted")

_T = TypeVar("_T")

DEFAULT_MAX_IN_FLIGHT: Final = 16
"""The default per-subscription limit on messages handled at once."""

PREFETCH_HEADERS: Final = ("activemq.prefetchSize", "prefetch-count")
"""The SUBSCRIBE headers (ActiveMQ's, RabbitMQ's) that bound the unacknowledged messages a
broker sends; set to ``max_in_flight`` unless given (and not for ``auto`` subscriptions)."""

_EPSILON: Final = 1e-6
_ANSWERING: Final = (ClientState.CONNECTED, ClientState.DISCONNECTING)


class _Outcome(Generic[_T]):
    """A result fired once and observed by any number of new Deferreds (none unhandled)."""

    def __init__(self) -> None:
        self._waiters: list[Deferred[_T]] = []
        self._result: _T | Failure | None = None
        self.done = False

    def observe(self) -> Deferred[_T]:
        observer: Deferred[_T] = Deferred()
        if self.done:
            observer.callback(cast("_T | Failure", self._result))
        else:
            self._waiters.append(observer)
        return observer

    def fire(self, result: _T | Failure) -> None:
        self.done = True
        self._result = result
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(result)


class _Connection:
    """One transport to one broker, from the connection attempt until it is lost."""

    __slots__ = (
        "broker",
        "cause",
        "connected",
        "connector",
        "dead",
        "lost",
        "made",
        "session",
        "stopping",
        "transport",
    )

    def __init__(self, broker: Broker, session: Session) -> None:
        self.broker = broker
        self.session = session
        self.transport: Transport | None = None
        self.connector: Connector | None = None
        self.made: Deferred[None] = Deferred(self._stop_connecting)
        self.connected: Deferred[Connected] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.dead = False
        self.stopping = False
        self.cause: BaseException | None = None

    def _stop_connecting(self, _: Deferred[None]) -> None:
        if self.connector is not None:
            self.stopping = True
            self.connector.disconnect()

    def ended(self) -> bool:
        """Whether it is dead (a method: callbacks may end it while the caller looks)."""
        return self.dead


class _StompProtocol(Protocol):
    """The transport's end: hands everything to the client, tagged with its connection."""

    def __init__(self, client: Client, connection: _Connection) -> None:
        self._client = client
        self._connection = connection

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's name
        self._client._made(self._connection, cast(Transport, self.transport))

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        self._client._received(self._connection, data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        self._client._lost(self._connection, reason)


class _Factory(ClientFactory):
    def __init__(self, client: Client, connection: _Connection) -> None:
        self._client = client
        self._connection = connection

    def buildProtocol(self, addr: IAddress | None) -> _StompProtocol:  # noqa: N802, ARG002
        protocol = _StompProtocol(self._client, self._connection)
        protocol.factory = self
        return protocol

    def clientConnectionFailed(self, connector: object, reason: Failure) -> None:  # noqa: N802, ARG002
        connection = self._connection
        if not connection.made.called and not connection.stopping:
            connection.made.errback(reason)


def _positive(name: str, value: float) -> float:
    given: object = value
    if (
        not isinstance(given, (int, float))
        or isinstance(given, bool)
        or not math.isfinite(given)
        or given <= 0
    ):
        msg = f"{name} must be a positive number of seconds, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _versions(versions: Iterable[Version | str]) -> tuple[Version, ...]:
    known = {version.value: version for version in Version}
    result: list[Version] = []
    for version in versions:
        if isinstance(version, Version):
            result.append(version)
        elif version in known:
            result.append(known[version])
        else:
            msg = f"unknown STOMP version {version!r}: use 1.0, 1.1 or 1.2"
            raise ValueError(msg)
    if not result:
        msg = "offer at least one STOMP version"
        raise ValueError(msg)
    return tuple(result)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Client:
    """An asynchronous STOMP client on Twisted, connected through a failover URI.

    Every request returns a ``Deferred``; inside, the client is written with
    ``async def`` and the Deferreds come from ``Deferred.fromCoroutine``, so
    ``await client.send(...)`` works in coroutines. A client connects once: after
    :attr:`disconnected` has fired, make a new one.

    Args:
        uri: A failover URI (``failover:(tcp://a:61613,ssl://b:61614)?...``, or a bare
            ``tcp://host:port``), or a parsed :class:`~stomp_failover.FailoverUri`. Its
            policy decides the attempts of the first connection and of every
            reconnection, with their delays and budgets.
        login: The user name, unless a broker of the URI has its own (``user@``).
        passcode: The password, unless a broker of the URI has its own. It never
            appears in a repr, a log line or an error.
        vhost: The CONNECT ``host`` header (RabbitMQ's virtual host); a broker's
            ``vhost`` option wins; by default the broker's host name.
        versions: The STOMP versions to offer (``Version`` or ``"1.2"``).
        heart_beat: ``(cx, cy)`` in ms: send a heart-beat at least every *cx* ms, want
            one every *cy* ms (0: none).
        heart_beat_grace: How many receive intervals of silence make the broker dead.
        connect_headers: Extra CONNECT headers (``client-id``, ...).
        connect_timeout: Seconds allowed for the TCP connection of an attempt.
        connected_timeout: Seconds allowed, after that, for the TLS handshake and the
            broker's CONNECTED.
        disconnect_timeout: Seconds a shutdown waits for in-flight handlers (and the
            receipts still awaited), and then again for the RECEIPT to DISCONNECT.
        receipt_timeout: Default seconds a request waits for its receipt (and, while
            reconnecting, for the connection).
        auto_reconnect: Reconnect (and subscribe again) after a lost connection.
        tls: How ``ssl://`` brokers are secured (default: verify against the
            platform's trust store).
        reactor: The reactor (default: the global one).
        rng: The failover policy's random source (for repeatable tests).

    Raises:
        ValueError: an invalid URI (:class:`~stomp_failover.UriError`), timeout,
            version or CONNECT setting.
    """

    def __init__(
        self,
        uri: str | FailoverUri,
        *,
        login: str | None = None,
        passcode: str | None = None,
        vhost: str | None = None,
        versions: Iterable[Version | str] = ALL_VERSIONS,
        heart_beat: tuple[int, int] = (10000, 10000),
        heart_beat_grace: float = DEFAULT_HEART_BEAT_GRACE,
        connect_headers: Headers | None = None,
        connect_timeout: float = 10.0,
        connected_timeout: float = 10.0,
        disconnect_timeout: float = 10.0,
        receipt_timeout: float = 10.0,
        auto_reconnect: bool = True,
        tls: TlsOptions | None = None,
        reactor: ReactorLike | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        self._uri = uri if isinstance(uri, FailoverUri) else FailoverUri.parse(uri)
        self._policy = self._uri.policy(rng=rng)
        self._login = login
        self._passcode = passcode
        self._vhost = vhost
        self._versions = _versions(versions)
        self._heart_beat = heart_beat
        self._grace = heart_beat_grace
        self._connect_headers = (
            None
            if connect_headers is None
            else tuple(
                connect_headers.items() if isinstance(connect_headers, Mapping) else connect_headers
            )
        )
        self._connect_timeout = _positive("connect_timeout", connect_timeout)
        self._connected_timeout = _positive("connected_timeout", connected_timeout)
        self._disconnect_timeout = _positive("disconnect_timeout", disconnect_timeout)
        self._receipt_timeout = _positive("receipt_timeout", receipt_timeout)
        self._auto_reconnect = auto_reconnect
        self._tls = tls
        if tls is not None:
            check_files(tls)
        self._reactor: ReactorLike = default_reactor() if reactor is None else reactor
        # One session for the client's life: it keeps the subscriptions and replays them
        # on every connection, whichever broker (each connect() says its vhost and login).
        self._session = self._new_session(vhost or "localhost", login, passcode)
        self._state = ClientState.IDLE
        self._conn: _Connection | None = None
        self._connected: Connected | None = None
        self._subs: dict[str, Subscription] = {}
        self._receipts: dict[str, Deferred[None]] = {}
        self._receipt_ids = itertools.count(1)
        self._busy: dict[int, Delivery] = {}
        self._idle_waiters: list[Deferred[None]] = []
        self._ready_waiters: list[Deferred[_Connection]] = []
        self._connecting: Deferred[Connected] | None = None
        self._timer: DelayedCall | None = None
        self._pausers: set[Subscription] = set()
        self._reading_paused = False
        self._grace_until: float | None = None
        self._paused_beat_at = 0.0
        self._ended: _Outcome[DisconnectResult] = _Outcome()
        self._shutdown_result: _Outcome[DisconnectResult] | None = None

    def __repr__(self) -> str:
        return f"<Client {self._uri} state={self._state.value}>"

    # -- what the caller can look at -------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """Where the client is in its life."""
        return self._state

    @property
    def uri(self) -> FailoverUri:
        """The failover URI (``str()`` of it hides passwords)."""
        return self._uri

    @property
    def broker(self) -> Broker | None:
        """The broker of the current connection, or ``None`` while not connected."""
        conn = self._conn
        return conn.broker if conn is not None and not conn.dead else None

    @property
    def version(self) -> Version | None:
        """The negotiated STOMP version while connected, else ``None``."""
        return self._negotiated_version()

    @property
    def connected_frame(self) -> Connected | None:
        """The last CONNECTED the client received (``None`` before the first)."""
        return self._connected

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """The active subscriptions by id (a read-only view)."""
        return MappingProxyType(self._subs)

    @property
    def disconnected(self) -> Deferred[DisconnectResult]:
        """A new ``Deferred`` for the end of the client.

        It fires with the :class:`~stomp_twisted.DisconnectResult` after a requested
        :meth:`disconnect` (including a cancelled :meth:`connect`), and fails with
        the reason otherwise: :class:`~stomp_twisted.ConnectFailed` (the first
        connection never came), :class:`~stomp_twisted.ConnectionLost` (lost and not
        re-established), :class:`~stomp_twisted.BrokerError` (an ERROR frame that
        answered no request), :class:`~stomp_twisted.HandlerFailed` (the poison pill).
        The failure's ``unfinished`` lists handlers the shutdown gave up on.
        """
        return self._ended.observe()

    # -- connecting --------------------------------------------------------------------------

    def connect(self) -> Deferred[Connected]:
        """Connect through the failover policy; fire with the broker's CONNECTED.

        Each attempt waits the policy's delay, opens TCP (TLS for ``ssl://``) within
        ``connect_timeout``, sends CONNECT and waits ``connected_timeout`` for
        CONNECTED. A failed attempt is reported to the policy, which gives the next
        one or gives up.

        Fails with:
            ConnectFailed: every attempt allowed failed (``cause`` is the last failure).
            BrokerError: the broker answered CONNECT with ERROR (bad login, unknown
                vhost, version): not retried, as another attempt would get the same.
            CancelledError: :meth:`disconnect` was called meanwhile (or the Deferred
                was cancelled, which stops connecting).
            ClientError: ``connect()`` was already called.
        """
        if self._state is not ClientState.IDLE:
            return fail(
                ClientError(f"connect() was already called (the client is {self._state.value})")
            )
        self._state = ClientState.CONNECTING
        return self._start_connecting()

    def _start_connecting(self) -> Deferred[Connected]:
        connecting = Deferred.fromCoroutine(self._connect_loop())
        self._connecting = connecting
        connecting.addBoth(self._connecting_done)
        return connecting

    def _connecting_done(self, result: Connected | Failure) -> Connected | Failure:
        self._connecting = None
        if isinstance(result, Failure) and self._state is not ClientState.DISCONNECTING:
            error = result.value
            reason: ClientError | None
            if isinstance(error, CancelledError):
                reason = None
            elif (
                isinstance(error, ClientError) and self._state is ClientState.CONNECTING
            ) or isinstance(error, BrokerError):
                reason = error
            else:
                reason = ConnectionLost(f"gave up reconnecting: {error}", cause=error)
            self._begin_shutdown(reason, None)
        return result

    async def _connect_loop(self) -> Connected:
        policy = self._policy
        while True:
            try:
                attempt = next(policy)
            except BrokersExhausted as exhausted:
                raise ConnectFailed(exhausted) from exhausted
            if attempt.delay > 0:
                logger.info("waiting %.3f s before %s", attempt.delay, attempt)
                await sleep(self._reactor, attempt.delay)
            logger.info("connecting: %s", attempt)
            try:
                connected = await self._attempt(attempt.broker)
            except (CancelledError, BrokerError, InvalidRequest):
                raise
            except Exception as exc:  # noqa: BLE001 - every failure goes to the policy
                logger.warning("%s failed: %s", attempt, _describe(exc))
                policy.failed(exc)
                continue
            policy.connected()
            return connected

    def _new_session(self, host: str, login: str | None, passcode: str | None) -> Session:
        try:
            return Session(
                host=host,
                login=login,
                passcode=passcode,
                versions=self._versions,
                heart_beat=self._heart_beat,
                heart_beat_grace=self._grace,
                connect_headers=self._connect_headers,
            )
        except LocalProtocolError as exc:
            raise InvalidRequest(str(exc)) from exc

    def _connect_settings(self, broker: Broker) -> dict[str, str | None]:
        """The CONNECT overrides for *broker*: its vhost and its own credentials, if any."""
        settings: dict[str, str | None] = {"host": broker.virtual_host(self._vhost)}
        if broker.username is not None:
            settings["login"], settings["passcode"] = broker.credentials()
        return settings

    def _factory_for(self, broker: Broker, connection: _Connection) -> object:
        factory = _Factory(self, connection)
        if broker.scheme == "tcp":
            return factory
        options = self._tls or TlsOptions()
        hostname = broker.server_name(options.server_hostname)
        creator = connection_creator(options, hostname)
        # The clock matters: TLS aggregates small writes with callLater on it.
        return TLSMemoryBIOFactory(creator, True, factory, clock=self._reactor)  # type: ignore[arg-type]

    async def _attempt(self, broker: Broker) -> Connected:
        connection = _Connection(broker, self._session)
        self._conn = connection
        try:
            factory = self._factory_for(broker, connection)
            # The reactor's own timeout is a backstop: ours fires first, as WaitTimeout.
            connection.connector = cast(
                Connector,
                self._reactor.connectTCP(
                    broker.host, broker.port, factory, timeout=self._connect_timeout + 1
                ),
            )
            await within(
                self._reactor, connection.made, self._connect_timeout, f"TCP connection to {broker}"
            )
            return await within(
                self._reactor,
                connection.connected,
                self._connected_timeout,
                f"CONNECTED from {broker}",
            )
        except BaseException:
            self._abandon(connection)
            raise

    # -- the transport's events ----------------------------------------------------------------

    def _made(self, conn: _Connection, transport: Transport) -> None:
        if conn.dead:
            transport.abortConnection()
            return
        conn.transport = transport
        try:
            data = conn.session.connect(
                self._reactor.seconds(), **self._connect_settings(conn.broker)
            )
        except LocalProtocolError as exc:
            conn.made.errback(InvalidRequest(f"cannot connect to {conn.broker}: {exc}"))
            return
        transport.write(data)
        conn.made.callback(None)

    def _received(self, conn: _Connection, data: bytes) -> None:
        if conn.dead:
            return
        out = conn.session.receive_data(data, self._reactor.seconds())
        if out.data:
            cast(Transport, conn.transport).write(out.data)
        self._grace_until = None
        graceful = False
        for event in out.events:
            if type(event) is MessageReceived:
                self._on_message(event)
                continue
            if type(event) is Disconnected:
                graceful = True
            self._on_event(conn, event)
            if conn.ended():
                return
        if out.close:
            self._close(conn, graceful=graceful)

    def _lost(self, conn: _Connection, reason: Failure) -> None:
        self._connection_ended(conn, conn.cause or cast(BaseException, reason.value))
        if not conn.lost.called:
            conn.lost.callback(None)

    def _on_event(self, conn: _Connection, event: Event) -> None:
        if isinstance(event, Connected):
            self._on_connected(conn, event)
        elif isinstance(event, ReceiptReceived | Disconnected):
            waiter = self._pop_receipt(event.receipt_id)
            if waiter is None:
                logger.debug("RECEIPT %r is no longer awaited", event.receipt_id)
            elif not waiter.called:
                waiter.callback(None)
        elif isinstance(event, ErrorReceived):
            self._on_error_frame(conn, event)
        elif isinstance(event, PeerDead):
            conn.cause = WaitTimeout(f"data from {conn.broker}", event.limit)
        elif isinstance(event, ProtocolFailure):
            conn.cause = event.error
        else:  # ReceiptLost, TransactionAborted: only from connection_lost
            logger.debug("unexpected event %r", event)

    def _on_connected(self, conn: _Connection, event: Connected) -> None:
        self._connected = event
        for lost in event.not_replayed:
            sub = self._subs.pop(lost.id, None)
            if sub is not None:
                sub._stop()
            logger.error(
                "subscription %r to %r cannot be made in STOMP %s: its handler is removed",
                lost.id,
                lost.destination,
                event.version,
            )
        if self._state in (ClientState.CONNECTING, ClientState.RECONNECTING):
            self._state = ClientState.CONNECTED
        logger.info(
            "connected to %s: STOMP %s, server %s, heart-beat %s, %d subscription(s)",
            conn.broker,
            event.version,
            event.server,
            event.heart_beat,
            len(self._subs),
        )
        if self._pausers and not self._reading_paused:
            self._pause(conn)
        self._schedule_timer()
        waiters, self._ready_waiters = self._ready_waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(conn)
        if not conn.connected.called:
            conn.connected.callback(event)

    def _on_error_frame(self, conn: _Connection, event: ErrorReceived) -> None:
        error = BrokerError(event.error, command=event.command)
        if not conn.connected.called:
            logger.error("%s refused the connection: %s", conn.broker, event.message)
            conn.connected.errback(error)
            return
        receipt_id = event.receipt_id
        if receipt_id is not None:
            waiter = self._pop_receipt(receipt_id)
            if waiter is not None and not waiter.called:
                logger.warning("%s", error)
                waiter.errback(error)
                return
            if event.command is not None:
                logger.warning("%s (receipt %r no longer awaited)", error, receipt_id)
                return
        logger.error("ERROR from %s, which answers no request: %s", conn.broker, event.message)
        # The connection ends with it; the requests still waiting fail with it too (some
        # brokers, like RabbitMQ, leave the receipt-id out even when a frame with one caused it).
        receipts, self._receipts = self._receipts, {}
        for waiter in receipts.values():
            if not waiter.called:
                waiter.errback(error)
        self._maybe_quiet()
        self._begin_shutdown(error, None)

    def _on_message(self, event: MessageReceived) -> None:
        if self._state is not ClientState.CONNECTED:
            logger.debug(
                "message %r not handled: the client is %s",
                event.message.message_id,
                self._state.value,
            )
            return
        sub_id = event.message.subscription
        sub = self._subs.get(sub_id) if sub_id is not None else self._by_destination(event)
        if sub is None:
            logger.warning(
                "message %r to %r is for subscription %r, which the client does not know: "
                "not handled and not acknowledged",
                event.message.message_id,
                event.destination,
                sub_id,
            )
            return
        sub._deliver(event)

    def _by_destination(self, event: MessageReceived) -> Subscription | None:
        # STOMP 1.0 brokers may leave the subscription header out.
        found = [sub for sub in self._subs.values() if sub.destination == event.destination]
        return found[0] if len(found) == 1 else None

    def _close(self, conn: _Connection, *, graceful: bool) -> None:
        transport = cast(Transport, conn.transport)
        if graceful:
            transport.loseConnection()
            return
        transport.abortConnection()
        self._connection_ended(conn, conn.cause or ConnectionDone("closed by the client"))

    def _abandon(self, conn: _Connection) -> None:
        """Drop a failed attempt's connection now (its late events are ignored)."""
        if conn.dead:
            return
        conn.dead = True
        if conn.transport is not None:
            conn.transport.abortConnection()
        elif conn.connector is not None:
            conn.connector.disconnect()
        self._session_lost(conn, None)

    def _connection_ended(self, conn: _Connection, cause: BaseException) -> None:
        if conn.dead:
            return
        conn.dead = True
        self._session_lost(conn, cause)
        if not conn.connected.called:
            conn.connected.errback(cause)
        elif conn is self._conn and self._state is ClientState.CONNECTED:
            self._dropped(conn, cause)

    def _session_lost(self, conn: _Connection, cause: BaseException | None) -> None:
        out = conn.session.connection_lost(self._reactor.seconds())
        for event in out.events:
            if isinstance(event, ReceiptLost):
                waiter = self._pop_receipt(event.receipt_id)
                if waiter is not None and not waiter.called:
                    message = (
                        f"the connection to {conn.broker} was lost before the RECEIPT "
                        f"{event.receipt_id} for {event.command}"
                    )
                    waiter.errback(ConnectionLost(message, cause=cause))
            elif isinstance(event, TransactionAborted):
                logger.warning(
                    "transaction %r was rolled back with the connection", event.transaction
                )
        if conn is self._conn:
            self._cancel_timer()
            self._reading_paused = False
            self._grace_until = None

    def _dropped(self, conn: _Connection, cause: BaseException) -> None:
        logger.warning("lost the connection to %s: %s", conn.broker, _describe(cause))
        if not self._auto_reconnect:
            message = f"lost the connection to {conn.broker}: {_describe(cause)}"
            self._begin_shutdown(ConnectionLost(message, cause=cause), None)
            return
        self._policy.failed(cause)
        self._state = ClientState.RECONNECTING
        # Failures end the client in _connecting_done; nobody else awaits this.
        self._start_connecting().addErrback(lambda _: None)

    # -- timers: heart-beats, dead broker, reading paused --------------------------------------

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _set_timer(self, at: float) -> None:
        timer = self._timer
        if timer is not None and timer.active():
            if timer.getTime() <= at + _EPSILON:
                return  # it fires sooner and looks again
            timer.cancel()
        delay = max(0.0, at - self._reactor.seconds())
        self._timer = call_later(self._reactor, delay, self._on_timer)

    def _schedule_timer(self) -> None:
        conn = self._conn
        if conn is None or conn.dead:
            return
        if self._reading_paused or self._grace_until is not None:
            self._set_timer(self._paused_deadline(conn))
            return
        deadline = conn.session.next_deadline()
        if deadline is not None:
            self._set_timer(deadline)

    def _paused_deadline(self, conn: _Connection) -> float:
        negotiated = conn.session.heart_beat or (0, 0)
        at = self._paused_beat_at if negotiated[0] else math.inf
        if self._grace_until is not None:
            at = min(at, self._grace_until)
        return at

    def _on_timer(self) -> None:
        self._timer = None
        conn = self._conn
        if conn is None or conn.dead:
            return
        now = self._reactor.seconds()
        if self._grace_until is not None and now + _EPSILON >= self._grace_until:
            self._grace_until = None
        if self._reading_paused or self._grace_until is not None:
            self._paused_tick(conn, now)
            return
        deadline = conn.session.next_deadline()
        if deadline is None:
            return
        if deadline - now > _EPSILON:
            self._set_timer(deadline)
            return
        out = conn.session.handle_timer(max(now, deadline))
        if out.data:
            cast(Transport, conn.transport).write(out.data)
        for event in out.events:
            self._on_event(conn, event)
        if out.close:
            self._close(conn, graceful=False)
            return
        self._schedule_timer()

    def _paused_tick(self, conn: _Connection, now: float) -> None:
        # While reading is paused the broker's heart-beats wait in the socket: its
        # silence proves nothing, so the session's dead-peer check is not run. Our own
        # heart-beats still go out, at the negotiated rate.
        negotiated = conn.session.heart_beat or (0, 0)
        if negotiated[0] and now + _EPSILON >= self._paused_beat_at:
            cast(Transport, conn.transport).write(HEARTBEAT_BYTES)
            self._paused_beat_at = now + negotiated[0] / 1000
        at = self._paused_deadline(conn)
        if at != math.inf:
            self._set_timer(at)

    def _pause(self, conn: _Connection) -> None:
        self._reading_paused = True
        cast(Transport, conn.transport).pauseProducing()
        self._paused_beat_at = self._reactor.seconds()
        logger.info("reading from %s paused: handlers are behind", conn.broker)
        self._cancel_timer()
        self._schedule_timer()

    def _resume(self, conn: _Connection) -> None:
        self._reading_paused = False
        cast(Transport, conn.transport).resumeProducing()
        negotiated = conn.session.heart_beat or (0, 0)
        if negotiated[1]:
            # Give the broker a full allowance of silence from now before judging it.
            self._grace_until = self._reactor.seconds() + negotiated[1] / 1000 * self._grace
        logger.info("reading from %s resumed", conn.broker)
        self._cancel_timer()
        self._schedule_timer()

    def _pause_reading(self, sub: Subscription) -> None:
        self._pausers.add(sub)
        conn = self._live()
        if conn is not None and not self._reading_paused:
            self._pause(conn)

    def _resume_reading(self, sub: Subscription) -> None:
        self._pausers.discard(sub)
        conn = self._live()
        if not self._pausers and conn is not None and self._reading_paused:
            self._resume(conn)

    # -- requests ------------------------------------------------------------------------------

    def _live(self) -> _Connection | None:
        conn = self._conn
        if conn is None or conn.dead or conn.transport is None:
            return None
        return conn

    def _negotiated_version(self) -> Version | None:
        conn = self._conn
        return conn.session.version if conn is not None and not conn.dead else None

    def _ready(self, timeout: float) -> Deferred[_Connection]:
        conn = self._conn
        if (
            conn is not None
            and not conn.dead
            and self._state in _ANSWERING
            and conn.session.state is State.CONNECTED
        ):
            return succeed(conn)
        if self._state in (ClientState.CONNECTING, ClientState.RECONNECTING):

            def forget(waiter: Deferred[_Connection]) -> None:
                if waiter in self._ready_waiters:
                    self._ready_waiters.remove(waiter)

            waiter: Deferred[_Connection] = Deferred(forget)
            self._ready_waiters.append(waiter)
            return within(self._reactor, waiter, timeout, "connection to the broker")
        if self._state is ClientState.IDLE:
            return fail(NotConnected("not connected: call connect() first"))
        return fail(NotConnected(f"not connected: the client is {self._state.value}"))

    def _new_receipt(self) -> str:
        return f"r-{next(self._receipt_ids)}"

    async def _request(
        self,
        build: Callable[[Session, str | None], bytes],
        *,
        receipt: bool,
        timeout: float | None,
        what: str,
    ) -> None:
        wait = self._receipt_timeout if timeout is None else _positive("timeout", timeout)
        conn = await self._ready(wait)
        receipt_id = self._new_receipt() if receipt else None
        try:
            data = build(conn.session, receipt_id)
        except LocalProtocolError as exc:
            raise InvalidRequest(str(exc)) from exc
        if receipt_id is None:
            cast(Transport, conn.transport).write(data)
            return
        waiter: Deferred[None] = Deferred()
        self._receipts[receipt_id] = waiter
        cast(Transport, conn.transport).write(data)
        try:
            await within(self._reactor, waiter, wait, f"RECEIPT {receipt_id} for {what}")
        finally:
            self._pop_receipt(receipt_id)

    def _fast(self, build: Callable[[Session], bytes]) -> Deferred[None] | None:
        """Write a request at once when connected and no receipt is asked (the hot path)."""
        if self._state is not ClientState.CONNECTED:
            return None
        conn = self._conn
        if conn is None or conn.dead:
            return None
        try:
            data = build(conn.session)
        except LocalProtocolError as exc:
            failure: Deferred[None] = fail(InvalidRequest(str(exc)))
            return failure
        cast(Transport, conn.transport).write(data)
        return succeed(None)

    def send(
        self,
        destination: str,
        body: bytes = b"",
        *,
        headers: Headers | None = None,
        content_length: bool = True,
        receipt: bool = False,
        transaction: str | None = None,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """Send a message to *destination*.

        Args:
            destination: Where to send it.
            body: The body.
            headers: Extra headers (``persistent``, ``content-type``, ...).
            content_length: Write ``content-length`` (``False`` makes ActiveMQ deliver
                a text message).
            receipt: Ask for a RECEIPT and fire only when it comes (the broker has
                the message); otherwise fire once written.
            transaction: Send inside this transaction.
            timeout: Seconds to wait for the receipt (and for the connection while
                reconnecting); default ``receipt_timeout``.

        Fails with:
            WaitTimeout: no receipt (or connection) in time.
            BrokerError: the broker answered with ERROR.
            ConnectionLost: the connection was lost before the receipt: the message
                may or may not have been stored.
            NotConnected, InvalidRequest.
        """
        if not receipt:
            fast = self._fast(
                lambda session: session.send(
                    destination,
                    body,
                    headers=headers,
                    content_length=content_length,
                    transaction=transaction,
                )
            )
            if fast is not None:
                return fast
        return Deferred.fromCoroutine(
            self._request(
                lambda session, receipt_id: session.send(
                    destination,
                    body,
                    headers=headers,
                    content_length=content_length,
                    transaction=transaction,
                    receipt=receipt_id,
                ),
                receipt=receipt,
                timeout=timeout,
                what=f"SEND to {destination}",
            )
        )

    def subscribe(
        self,
        destination: str,
        handler: Handler,
        *,
        ack: AckMode | None = None,
        headers: Headers | None = None,
        id: str | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        error_destination: str | None = None,
        on_error: ErrorHook | None = None,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> Deferred[Subscription]:
        """Subscribe to *destination*, handing every message to *handler*.

        Handlers run concurrently, at most *max_in_flight* at once for this
        subscription; further messages wait in a queue of at most *max_in_flight*,
        and beyond that the client stops reading the connection until the queue is
        half empty. Unless *headers* set them, ``activemq.prefetchSize`` and
        ``prefetch-count`` are sent as *max_in_flight*, so that ActiveMQ and RabbitMQ
        do not send more unacknowledged messages than that (not for ``auto``).

        When the handler succeeds the message is acknowledged (unless the handler
        called :meth:`ack` or :meth:`nack` itself). In ``client`` mode, whose acks are
        cumulative, acknowledgements go out in the order the messages came.

        When the handler raises, *on_error* (if given) chooses an
        :class:`~stomp_twisted.ErrorAction`; the default is:

        * with *error_destination*: send a persistent copy there (headers copied but
          for :data:`~stomp_twisted.FORWARD_EXCLUDED_HEADERS`, with
          :data:`~stomp_twisted.ERROR_HEADER` describing the failure), wait for its
          receipt, then acknowledge the message; if the copy fails, as without one;
        * without one: NACK the message (STOMP 1.1+); on STOMP 1.0, which has no
          NACK, leave it unacknowledged and disconnect gracefully, so the broker
          delivers it again (:attr:`disconnected` fails with
          :class:`~stomp_twisted.HandlerFailed`);
        * on an ``auto`` subscription (already acknowledged): forward if there is an
          error destination, else only log.

        Args:
            destination: What to subscribe to.
            handler: A plain or ``async`` callable taking the message.
            ack: ``client-individual`` by default (``client`` on STOMP 1.0).
            headers: Extra SUBSCRIBE headers (selector, prefetch, ...).
            id: The subscription id (generated if not given).
            max_in_flight: The most messages handled at once (at least 1).
            error_destination: Where to forward messages whose handler failed.
            on_error: A hook deciding what to do when the handler fails.
            receipt: Wait for the broker to confirm the subscription.
            timeout: Seconds to wait for the receipt (and the connection).
        """
        given: object = max_in_flight
        if not isinstance(given, int) or isinstance(given, bool) or given < 1:
            return fail(InvalidRequest(f"max_in_flight must be an int >= 1, got {given!r}"))
        return Deferred.fromCoroutine(
            self._subscribe(
                destination,
                handler,
                ack=ack,
                headers=headers,
                id=id,
                max_in_flight=max_in_flight,
                error_destination=error_destination,
                on_error=on_error,
                receipt=receipt,
                timeout=timeout,
            )
        )

    async def _subscribe(
        self,
        destination: str,
        handler: Handler,
        *,
        ack: AckMode | None,
        headers: Headers | None,
        id: str | None,
        max_in_flight: int,
        error_destination: str | None,
        on_error: ErrorHook | None,
        receipt: bool,
        timeout: float | None,
    ) -> Subscription:
        extra = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        made: list[Subscription] = []

        def build(session: Session, receipt_id: str | None) -> bytes:
            mode: AckMode = ack or (
                "client" if session.version is Version.V1_0 else "client-individual"
            )
            pairs = list(extra)
            if mode != "auto" and not any(name in PREFETCH_HEADERS for name, _ in pairs):
                pairs += [(name, str(max_in_flight)) for name in PREFETCH_HEADERS]
            record, data = session.subscribe(
                destination, id=id, ack=mode, headers=pairs, receipt=receipt_id
            )
            sub = Subscription(
                self,
                id=record.id,
                destination=destination,
                ack=mode,
                handler=handler,
                max_in_flight=max_in_flight,
                error_destination=error_destination,
                on_error=on_error,
                headers=tuple(pairs),
            )
            self._subs[record.id] = sub
            made.append(sub)
            return data

        try:
            await self._request(
                build, receipt=receipt, timeout=timeout, what=f"SUBSCRIBE to {destination}"
            )
        except ClientError:
            if made:
                self._forget(made[0])
            raise
        return made[0]

    def _forget(self, sub: Subscription) -> None:
        self._subs.pop(sub.id, None)
        sub._stop()
        conn = self._conn
        if conn is None or sub.id not in conn.session.subscriptions:
            return
        try:
            data = conn.session.unsubscribe(sub.id)
        except LocalProtocolError:
            return
        if data and not conn.dead:
            cast(Transport, conn.transport).write(data)

    def unsubscribe(
        self,
        subscription: Subscription | str,
        *,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """Unsubscribe: its handler takes no more messages.

        Messages already queued for it are dropped unacknowledged, and handlers still
        running are not acknowledged either: the broker delivers those messages again.
        Without a connection the subscription is only forgotten (not made again).
        """
        sub_id = subscription.id if isinstance(subscription, Subscription) else subscription
        sub = self._subs.get(sub_id)
        if sub is None:
            return fail(InvalidRequest(f"no active subscription {sub_id!r}"))
        conn = self._live()
        if conn is None or conn.session.state is not State.CONNECTED:
            self._forget(sub)
            return succeed(None)
        del self._subs[sub_id]
        sub._stop()
        return Deferred.fromCoroutine(
            self._request(
                lambda session, receipt_id: session.unsubscribe(sub_id, receipt=receipt_id),
                receipt=receipt,
                timeout=timeout,
                what=f"UNSUBSCRIBE {sub_id}",
            )
        )

    def ack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """Acknowledge *message* (for instance inside a transaction).

        Called by a handler before it returns, it takes the place of the automatic
        acknowledgement. A message of an earlier connection cannot be acknowledged
        (:class:`~stomp_twisted.InvalidRequest`): the broker delivers it again.
        """
        return self._settle_request(
            "ack", message, transaction=transaction, receipt=receipt, timeout=timeout
        )

    def nack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """NACK *message* (STOMP 1.1+); as :meth:`ack`, it replaces the automatic ack."""
        return self._settle_request(
            "nack", message, transaction=transaction, receipt=receipt, timeout=timeout
        )

    def _settle_request(
        self,
        command: str,
        message: MessageReceived,
        *,
        transaction: str | None,
        receipt: bool,
        timeout: float | None,
    ) -> Deferred[None]:
        delivery = self._busy.get(id(message))
        if delivery is not None and delivery.event is message:
            delivery.manual = True

        def build(session: Session, receipt_id: str | None = None) -> bytes:
            settle = session.ack if command == "ack" else session.nack
            return settle(message, transaction=transaction, receipt=receipt_id)

        if not receipt:
            fast = self._fast(build)
            if fast is not None:
                return fast
        return Deferred.fromCoroutine(
            self._request(
                build,
                receipt=receipt,
                timeout=timeout,
                what=f"{command.upper()} of {message.message.message_id}",
            )
        )

    def begin(self, *, receipt: bool = False, timeout: float | None = None) -> Deferred[str]:
        """Begin a transaction; fire with its id (pass it as ``transaction=``)."""
        return Deferred.fromCoroutine(self._begin(receipt=receipt, timeout=timeout))

    async def _begin(self, *, receipt: bool, timeout: float | None) -> str:
        began: list[str] = []

        def build(session: Session, receipt_id: str | None) -> bytes:
            transaction, data = session.begin(receipt=receipt_id)
            began.append(transaction)
            return data

        await self._request(build, receipt=receipt, timeout=timeout, what="BEGIN")
        return began[0]

    def commit(
        self, transaction: str, *, receipt: bool = False, timeout: float | None = None
    ) -> Deferred[None]:
        """Commit a transaction: its sends and acks take effect."""
        return Deferred.fromCoroutine(
            self._request(
                lambda session, receipt_id: session.commit(transaction, receipt=receipt_id),
                receipt=receipt,
                timeout=timeout,
                what=f"COMMIT {transaction}",
            )
        )

    def abort(
        self, transaction: str, *, receipt: bool = False, timeout: float | None = None
    ) -> Deferred[None]:
        """Abort a transaction: its sends and acks are discarded."""
        return Deferred.fromCoroutine(
            self._request(
                lambda session, receipt_id: session.abort(transaction, receipt=receipt_id),
                receipt=receipt,
                timeout=timeout,
                what=f"ABORT {transaction}",
            )
        )

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, receipt: bool = True, timeout: float | None = None
    ) -> AsyncIterator[str]:
        """An ``async with`` block in a transaction: committed at the end, aborted on error.

        >>> async def transfer(client: Client) -> None:  # doctest: +SKIP
        ...     async with client.transaction() as tx:
        ...         await client.send("/queue/a", b"1", transaction=tx)
        ...         await client.send("/queue/b", b"2", transaction=tx)

        If the connection is lost meanwhile the broker has rolled it back: the
        commit fails (:class:`~stomp_twisted.InvalidRequest`, unknown transaction).
        """
        transaction = await self.begin(receipt=receipt, timeout=timeout)
        try:
            yield transaction
        except BaseException:
            with contextlib.suppress(ClientError):
                await self.abort(transaction, receipt=receipt, timeout=timeout)
            raise
        await self.commit(transaction, receipt=receipt, timeout=timeout)

    async def __aenter__(self) -> Client:
        """``async with Client(...) as client``: connect."""
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Disconnect gracefully."""
        await self.disconnect()

    # -- handlers' outcomes --------------------------------------------------------------------

    def _write_settlement(self, event: MessageReceived, outcome: str | None) -> None:
        if outcome not in ("ack", "nack"):
            return
        conn = self._conn
        if conn is None or conn.dead:
            logger.debug("%s of %r not sent: no connection", outcome, event.message.message_id)
            return
        try:
            settle = conn.session.ack if outcome == "ack" else conn.session.nack
            data = settle(event)
        except LocalProtocolError as exc:
            logger.debug("%s of %r not sent: %s", outcome, event.message.message_id, exc)
            return
        cast(Transport, conn.transport).write(data)

    async def _forward(self, event: MessageReceived, destination: str, description: str) -> None:
        frame = event.frame
        seen: set[str] = set()
        headers: list[tuple[str, str]] = []
        for name, value in frame.headers:
            if name not in FORWARD_EXCLUDED_HEADERS and name not in seen:
                seen.add(name)
                headers.append((name, value))
        headers += [("persistent", "true"), (ERROR_HEADER, description)]
        body = frame.body
        await self._request(
            lambda session, receipt_id: session.send(
                destination,
                body,
                headers=headers,
                content_length=frame.has("content-length") or b"\0" in body,
                receipt=receipt_id,
            ),
            receipt=True,
            timeout=None,
            what=f"SEND to {destination}",
        )

    def _not_busy(self, delivery: Delivery) -> None:
        if not delivery.busy:
            return
        delivery.busy = False
        self._busy.pop(id(delivery.event), None)
        self._maybe_quiet()

    def _pop_receipt(self, receipt_id: str) -> Deferred[None] | None:
        waiter = self._receipts.pop(receipt_id, None)
        self._maybe_quiet()
        return waiter

    def _maybe_quiet(self) -> None:
        """Fire the shutdown's wait once no handler runs and no receipt is awaited."""
        if self._idle_waiters and not self._busy and not self._receipts:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                if not waiter.called:
                    waiter.callback(None)

    def _poison(self, delivery: Delivery, error: BaseException) -> None:
        failed = HandlerFailed(delivery.event, subscription=delivery.subscription.id, cause=error)
        logger.error("%s: disconnecting so that the broker delivers it again", failed)
        self._begin_shutdown(failed, None)

    # -- shutting down -------------------------------------------------------------------------

    def disconnect(self, timeout: float | None = None) -> Deferred[DisconnectResult]:
        """Shut down gracefully; fire with how it went.

        The client stops taking messages (those queued are dropped unacknowledged),
        stops connecting if it was, unsubscribes its ``auto`` subscriptions, waits up
        to *timeout* (default ``disconnect_timeout``) for the handlers in flight and
        the receipts still awaited, cancels and reports the handlers still running
        (:attr:`DisconnectResult.unfinished <stomp_twisted.DisconnectResult.unfinished>`,
        also logged), then sends DISCONNECT with a receipt, waits for it up to
        *timeout*, and closes. Calling it again returns the same result.
        """
        wait = None if timeout is None else _positive("timeout", timeout)
        if self._state is ClientState.IDLE:
            self._state = ClientState.DISCONNECTED
            result = DisconnectResult(receipt=False)
            self._ended.fire(result)
            self._shutdown_result = _Outcome()
            self._shutdown_result.fire(result)
        return self._begin_shutdown(None, wait)

    def _begin_shutdown(
        self, reason: ClientError | None, timeout: float | None
    ) -> Deferred[DisconnectResult]:
        outcome = self._shutdown_result
        if outcome is None:
            outcome = self._shutdown_result = _Outcome()
            wait = self._disconnect_timeout if timeout is None else timeout
            Deferred.fromCoroutine(self._shutdown(reason, wait)).addBoth(outcome.fire)
        elif reason is not None:
            logger.info("already shutting down; also: %s", reason)
        return outcome.observe()

    async def _shutdown(self, reason: ClientError | None, timeout: float) -> DisconnectResult:
        unfinished: tuple[UnfinishedHandler, ...] = ()
        receipt = False
        try:
            self._state = ClientState.DISCONNECTING
            if reason is None:
                logger.info("disconnecting")
            else:
                logger.warning("shutting down: %s", reason)
            dropped = sum(sub._stop() for sub in self._subs.values())
            if dropped:
                logger.info("%d queued message(s) left unhandled and unacknowledged", dropped)
            ready, self._ready_waiters = self._ready_waiters, []
            for waiting in ready:
                if not waiting.called:
                    waiting.errback(NotConnected("the client is disconnecting"))
            if self._connecting is not None:
                self._connecting.cancel()
            conn = self._live()
            if conn is not None and conn.session.state is State.CONNECTED:
                if self._reading_paused:
                    self._resume(conn)
                for sub in self._subs.values():
                    if sub.ack == "auto":
                        cast(Transport, conn.transport).write(conn.session.unsubscribe(sub.id))
            unfinished = await self._drain(timeout)
            conn = self._live()
            if conn is not None:
                receipt = await self._say_goodbye(conn, timeout)
        finally:
            self._state = ClientState.DISCONNECTED
            self._cancel_timer()
            receipts, self._receipts = self._receipts, {}
            for waiter in receipts.values():
                if not waiter.called:
                    waiter.errback(NotConnected("the client disconnected"))
        result = DisconnectResult(receipt=receipt, unfinished=unfinished)
        if reason is None:
            logger.info("disconnected (receipt: %s)", receipt)
            self._ended.fire(result)
        else:
            reason.unfinished = unfinished
            self._ended.fire(failure_of(reason))
        return result

    async def _drain(self, timeout: float) -> tuple[UnfinishedHandler, ...]:
        # Wait for the handlers, and for the receipts still awaited: a broker may answer
        # DISCONNECT before an earlier SEND's receipt (RabbitMQ does), which is then lost.
        if not self._busy and not self._receipts:
            return ()
        idle: Deferred[None] = Deferred()
        self._idle_waiters.append(idle)
        try:
            await within(self._reactor, idle, timeout, "end of the handlers in flight")
        except WaitTimeout:
            if self._receipts:
                logger.warning(
                    "%d receipt(s) still awaited after %.3f s: disconnecting anyway",
                    len(self._receipts),
                    timeout,
                )
        else:
            return ()
        now = self._reactor.seconds()
        unfinished: list[UnfinishedHandler] = []
        for delivery in list(self._busy.values()):
            event = delivery.event
            item = UnfinishedHandler(
                subscription=delivery.subscription.id,
                destination=event.destination,
                message_id=event.message.message_id,
                running_for=now - delivery.started,
            )
            unfinished.append(item)
            logger.warning(
                "the handler of subscription %r still works on message %r after %.3f s: "
                "cancelled, the message is left unacknowledged",
                item.subscription,
                item.message_id,
                item.running_for,
            )
            delivery.abandoned = True
            if delivery.deferred is not None and not delivery.deferred.called:
                delivery.deferred.cancel()
            self._not_busy(delivery)
        return tuple(unfinished)

    async def _say_goodbye(self, conn: _Connection, timeout: float) -> bool:
        confirmed = False
        if conn.session.state is State.CONNECTED:
            receipt_id = self._new_receipt()
            waiter: Deferred[None] = Deferred()
            self._receipts[receipt_id] = waiter
            cast(Transport, conn.transport).write(conn.session.disconnect(receipt=receipt_id))
            try:
                await within(
                    self._reactor, waiter, timeout, f"RECEIPT for DISCONNECT from {conn.broker}"
                )
                confirmed = True
            except ClientError as exc:
                logger.warning("%s; closing anyway", exc)
            finally:
                self._pop_receipt(receipt_id)
        if not conn.dead:
            cast(Transport, conn.transport).loseConnection()
            try:
                await within(self._reactor, conn.lost, timeout, f"close of {conn.broker}")
            except WaitTimeout:
                cast(Transport, conn.transport).abortConnection()
            self._connection_ended(conn, ConnectionDone("disconnected"))
        return confirmed

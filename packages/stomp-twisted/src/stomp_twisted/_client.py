"""The Twisted client: a reactor, a transport and subscription handlers around the client core."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Literal, TypeVar

from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.python.failure import Failure

from stomp_commands import ALL_VERSIONS, AckMode, Headers
from stomp_core import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_OUTGOING,
    DEFAULT_TIMEOUT,
    PREFETCH_HEADERS,
    ClientCore,
    ClientEnded,
    ClientError,
    ClientSettings,
    ClientState,
    ClientView,
    ConnectionMade,
    DisconnectResult,
    InvalidRequest,
    Reconnected,
    TlsOptions,
    UnfinishedHandler,
    check_timeout,
    default_ack,
    prefetch_headers,
)
from stomp_failover import FailoverUri, RandomSource
from stomp_frame import Limits, Version
from stomp_session import DEFAULT_HEART_BEAT_GRACE, Connected, MessageReceived
from stomp_twisted._driver import Driver, Outcome
from stomp_twisted._handlers import Handlers
from stomp_twisted._model import (
    ErrorHook,
    Handler,
    ReactorLike,
)
from stomp_twisted._subscription import Subscription
from stomp_twisted._tls import check_files
from stomp_twisted._twisted import default_reactor, failure_of

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "PREFETCH_HEADERS", "Client"]

logger = logging.getLogger("stomp_twisted")

_T = TypeVar("_T")


class Client(ClientView):
    """An asynchronous STOMP client on Twisted, connected through a failover URI.

    A thin adapter over :class:`stomp_core.ClientCore`, which decides everything
    (failover, reconnection, receipts, transactions, heart-beats, the outbound buffer
    and what a lost connection does to messages); this class adds the reactor, the
    transport and TLS, and per-subscription handlers with their concurrency. Every
    request returns a typed ``Deferred``; ``await client.send(...)`` works in
    coroutines. A client connects once: after :attr:`disconnected` has fired, make a
    new one.

    Args:
        uri: A failover URI or a bare ``tcp://host:port``; its policy decides the
            attempts of the first connection and of every reconnection.
        login: The user name, unless a broker of the URI has its own (``user@``).
        passcode: The password, unless a broker of the URI has its own; never in a
            repr, a log line or an error.
        vhost: The CONNECT ``host`` header (RabbitMQ's virtual host); a broker's
            ``vhost`` option wins; by default the broker's host name.
        versions: The STOMP versions to offer (``Version`` or ``"1.2"``).
        heart_beat: ``(cx, cy)`` in ms; ``(0, 0)`` (the default of every client) for none.
        heart_beat_grace: How many receive intervals of silence make the broker dead.
        connect_headers: Extra CONNECT headers (``client-id``, ...).
        websocket_headers: Extra HTTP headers of the WebSocket upgrade (``ws://`` and
            ``wss://`` brokers): ``Origin``, ``Authorization``, ``Cookie``.
        tls: How ``ssl://`` brokers are secured (:class:`~stomp_core.TlsOptions`;
            default: verify against the platform's trust store).
        connect_timeout: Seconds for the TCP connection and TLS of an attempt.
        connected_timeout: Seconds for the broker's CONNECTED after that.
        receipt_timeout: Default seconds a request waits for its receipt (and, while
            reconnecting, for the connection).
        write_timeout: Seconds the outbound buffer may make no progress (a broker that
            stops reading) before the connection is closed.
        disconnect_timeout: Seconds a shutdown waits for in-flight handlers and
            receipts, and then again for the RECEIPT to DISCONNECT.
        auto_reconnect: Reconnect (and subscribe again) after a lost connection.
        on_reconnect: Called with a :class:`~stomp_core.Reconnected` after each reconnection.
        coalesce_acks: Write the ACKs of one read together.
        max_outgoing: Bytes buffered for the broker before requests wait for room.
        limits: Bounds on the frames received and sent.
        reactor: The reactor (default: the global one).
        rng: The failover policy's random source (for repeatable tests).

    Raises:
        InvalidRequest: an invalid timeout, version, or a setting CONNECT cannot carry.
        stomp_failover.UriError: a URI that does not parse.
    """

    def __init__(
        self,
        uri: str | FailoverUri,
        *,
        login: str | None = None,
        passcode: str | None = None,
        vhost: str | None = None,
        versions: Iterable[Version | str] = ALL_VERSIONS,
        heart_beat: tuple[int, int] = (0, 0),
        heart_beat_grace: float = DEFAULT_HEART_BEAT_GRACE,
        connect_headers: Headers | None = None,
        websocket_headers: Headers | None = None,
        tls: TlsOptions | None = None,
        connect_timeout: float = DEFAULT_TIMEOUT,
        connected_timeout: float = DEFAULT_TIMEOUT,
        receipt_timeout: float = DEFAULT_TIMEOUT,
        write_timeout: float = DEFAULT_TIMEOUT,
        disconnect_timeout: float = DEFAULT_TIMEOUT,
        auto_reconnect: bool = True,
        on_reconnect: Callable[[Reconnected], object] | None = None,
        coalesce_acks: bool = True,
        max_outgoing: int = DEFAULT_MAX_OUTGOING,
        limits: Limits | None = None,
        reactor: ReactorLike | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        settings = ClientSettings.make(
            login=login,
            passcode=passcode,
            vhost=vhost,
            versions=versions,
            heart_beat=heart_beat,
            heart_beat_grace=heart_beat_grace,
            connect_headers=connect_headers,
            websocket_headers=websocket_headers,
            connect_timeout=connect_timeout,
            connected_timeout=connected_timeout,
            receipt_timeout=receipt_timeout,
            write_timeout=write_timeout,
            disconnect_timeout=disconnect_timeout,
            auto_reconnect=auto_reconnect,
            coalesce_acks=coalesce_acks,
            max_outgoing=max_outgoing,
            limits=limits,
        )
        self._core = ClientCore(uri, settings, rng=rng, logger=logger)
        if tls is not None:
            check_files(tls)
        self._reactor: ReactorLike = default_reactor() if reactor is None else reactor
        self._on_reconnect = on_reconnect
        self._driver = Driver(self._core, self._reactor, _Events(self), tls)
        self._connecting: Deferred[Connected] | None = None
        self._subs: dict[str, Subscription] = {}
        self._handlers = Handlers(self._driver, lambda failed: self._begin_shutdown(failed, None))
        self._ended: Outcome[DisconnectResult] = Outcome()
        self._shutdown: Outcome[DisconnectResult] | None = None
        self._goodbye: Deferred[bool] | None = None

    def __repr__(self) -> str:
        return f"<stomp_twisted.Client {self._core.uri} state={self.state.value}>"

    # -- what the caller can look at -------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """Where the client is in its life (``disconnecting`` from the start of a shutdown)."""
        state = self._core.state
        if self._shutdown is not None and state is not ClientState.CLOSED:
            return ClientState.DISCONNECTING
        return state

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """The active subscriptions by id (a read-only view)."""
        return MappingProxyType(self._subs)

    @property
    def disconnected(self) -> Deferred[DisconnectResult]:
        """A new ``Deferred`` for the end of the client.

        It fires with the :class:`~stomp_core.DisconnectResult` after a requested
        :meth:`disconnect` (including a cancelled :meth:`connect`), and fails with the
        reason otherwise: :class:`~stomp_core.ConnectFailed`,
        :class:`~stomp_core.BrokerError` (a refused connection),
        :class:`~stomp_core.ConnectionLost` (lost with auto-reconnect off), or
        :class:`~stomp_core.HandlerFailed` (the poison pill).
        """
        return self._ended.observe()

    # -- connecting ------------------------------------------------------------------------

    def connect(self) -> Deferred[Connected]:
        """Connect through the failover policy; fire with the broker's CONNECTED.

        Fails with:
            ConnectFailed: every attempt allowed failed (``cause`` is the last failure).
            BrokerError: the broker answered CONNECT with ERROR (not retried).
            ClientError: ``connect()`` was already called.
        """
        if self._core.state is not ClientState.IDLE:
            state = self.state.value
            return fail(ClientError(f"connect() was already called (the client is {state})"))

        def cancel(_: Deferred[Connected]) -> None:
            self._begin_shutdown(None, None)

        self._connecting = Deferred(cancel)
        connecting = self._connecting
        self._driver.feed(lambda core, now: core.start(now))
        return connecting

    # -- what the driver tells ---------------------------------------------------------------

    def _made(self, event: ConnectionMade) -> None:
        for lost in event.connected.not_replayed:
            sub = self._subs.pop(lost.id, None)
            if sub is not None:
                self._handlers.remove(sub)
        if self._handlers.paused:
            self._handlers.apply_pause()
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.called:
            connecting.callback(event.connected)
        report = event.reconnected
        if report is None:
            return
        if self._on_reconnect is not None:
            self._on_reconnect(report)
        else:
            logger.warning("%s", report)

    def _dropped(self) -> None:
        dropped = self._handlers.purge(self._core.drop_stale)
        if dropped:
            logger.info("%d queued message(s) of the lost connection dropped", dropped)

    def _client_ended(self, event: ClientEnded) -> None:
        if self._goodbye is not None and not self._goodbye.called:
            self._goodbye.callback(event.confirmed)
        error = event.error
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.called:
            connecting.errback(error or CancelledError("disconnect() was called while connecting"))
        if self._shutdown is not None:
            return
        if error is not None:
            # Not asked for: the handlers still get their time, then the end says why.
            self._begin_shutdown(error, None).addErrback(lambda _: None)
        else:  # close(): at once
            self._handlers.stop_all()
            result = DisconnectResult(receipt=False)
            self._shutdown = Outcome()
            self._shutdown.fire(result)
            self._ended.fire(result)

    def _take_messages(self) -> None:
        core = self._core
        if self._shutdown is not None:
            return
        deliver = self._handlers.deliver
        while (message := core.next_message()) is not None:
            if not deliver(message):
                logger.debug("message %r has no active handler: dropped", message.message_id)

    # -- requests ------------------------------------------------------------------------------

    def send(
        self,
        destination: str,
        body: bytes = b"",
        *,
        headers: Headers | None = None,
        content_length: bool = True,
        receipt: bool | str = False,
        transaction: str | None = None,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """Send a message to *destination*; with *receipt*, fire when the broker has it.

        Fails with:
            WaitTimeout: no receipt (or connection) in time.
            BrokerError: the broker answered with ERROR.
            ConnectionLost: the connection was lost before the receipt: the message
                may or may not have been stored.
            NotConnected, InvalidRequest.
        """
        driver = self._driver
        if receipt is False and timeout is None and driver.writable:
            # The hot path: no closure and no waiting (a closure's cells cost the GC).
            try:
                self._core.send(
                    destination,
                    body,
                    headers=headers,
                    content_length=content_length,
                    transaction=transaction,
                    now=driver.now(),
                )
            except ClientError as error:
                return fail(error)
            driver.written()
            return succeed(None)
        # One object, not a closure: a producer that does not await its sends may queue
        # thousands while the buffer is full, and a closure's cells cost the GC.
        act = _SendAct(
            self._core,
            destination,
            body,
            headers=headers,
            content_length=content_length,
            transaction=transaction,
            receipt=receipt,
        )
        return driver.request(act, timeout)

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
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> Deferred[Subscription]:
        """Subscribe to *destination*, handing every message to *handler*.

        At most *max_in_flight* handlers run at once; as many messages more wait, and
        beyond that reading pauses until the queue is half empty (heart-beats go on).
        ``activemq.prefetchSize`` and ``prefetch-count`` default to *max_in_flight*.

        A handler's success acknowledges its message (unless it called :meth:`ack` or
        :meth:`nack`; in ``client`` mode in arrival order). When it raises, *on_error*
        chooses an :class:`~stomp_twisted.ErrorAction`; by default: forward a copy to
        *error_destination* and acknowledge; else NACK (1.1+), or on STOMP 1.0 leave it
        unacknowledged and disconnect (:class:`~stomp_core.HandlerFailed`).

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
        extra = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        made: list[Subscription] = []

        def act(now: float, left: float) -> str | None:
            mode: AckMode = ack or default_ack(self._core.version)
            pairs = prefetch_headers(self.connected, mode, max_in_flight, extra)
            record, receipt_id = self._core.subscribe(
                destination, ack=mode, id=id, headers=pairs, receipt=receipt, timeout=left, now=now
            )
            sub = self._handlers.add(
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
            return receipt_id

        def done(result: object) -> Subscription | Failure:
            if isinstance(result, Failure):
                if made:
                    self._forget(made[0])
                return result
            return made[0]

        return self._driver.request(act, timeout).addBoth(done)

    def _forget(self, sub: Subscription) -> None:
        self._subs.pop(sub.id, None)
        self._handlers.remove(sub)
        with contextlib.suppress(ClientError):
            self._core.unsubscribe(sub.id, now=self._reactor.seconds())
        self._driver.pump()

    def unsubscribe(
        self,
        subscription: Subscription | str,
        *,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """Unsubscribe: its handler takes no more messages.

        Queued messages are dropped unacknowledged, and handlers still running are
        not acknowledged either: the broker delivers those messages again. Without a
        connection the subscription is only forgotten.
        """
        sub_id = subscription.id if isinstance(subscription, Subscription) else subscription
        sub = self._subs.pop(sub_id, None)
        if sub is None:
            return fail(InvalidRequest(f"no active subscription {sub_id!r}"))
        self._handlers.remove(sub)
        if not self._core.ready:
            self._forget(sub)
            return succeed(None)
        return self._driver.request(
            lambda now, left: self._core.unsubscribe(
                sub_id, receipt=receipt, timeout=left, now=now
            ),
            timeout,
        )

    def ack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """Acknowledge *message*; called by a handler, it replaces the automatic ack.

        A message of an earlier connection is refused at once
        (:class:`~stomp_core.MessageStale`): the broker delivers it again.
        """
        return self._settle(
            message, "ack", transaction=transaction, receipt=receipt, timeout=timeout
        )

    def nack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """NACK *message* (STOMP 1.1+); as :meth:`ack`, it replaces the automatic ack."""
        return self._settle(
            message, "nack", transaction=transaction, receipt=receipt, timeout=timeout
        )

    def _settle(
        self,
        message: MessageReceived,
        command: Literal["ack", "nack"],
        *,
        transaction: str | None,
        receipt: bool | str,
        timeout: float | None,
    ) -> Deferred[None]:
        self._handlers.manual(message)
        settle = self._core.ack if command == "ack" else self._core.nack
        try:
            self._core.refuse_stale(message, command.upper())
        except ClientError as error:
            return fail(error)
        return self._driver.request(
            lambda now, left: settle(
                message, transaction=transaction, receipt=receipt, timeout=left, now=now
            ),
            timeout,
        )

    def begin(
        self,
        transaction: str | None = None,
        *,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> Deferred[str]:
        """Begin a transaction (its id generated unless given); fire with its id."""
        began: list[str] = []

        def act(now: float, left: float) -> str | None:
            name, receipt_id = self._core.begin(transaction, receipt=receipt, timeout=left, now=now)
            began.append(name)
            return receipt_id

        return self._driver.request(act, timeout).addCallback(lambda _: began[0])

    def commit(
        self, transaction: str, *, receipt: bool | str = False, timeout: float | None = None
    ) -> Deferred[None]:
        """Commit a transaction: its sends and acks take effect.

        Fails with :class:`~stomp_core.ConnectionLost` when the connection (and the
        transaction with it) was lost.
        """
        return self._driver.request(
            lambda now, left: self._core.commit(
                transaction, receipt=receipt, timeout=left, now=now
            ),
            timeout,
        )

    def abort(
        self, transaction: str, *, receipt: bool | str = False, timeout: float | None = None
    ) -> Deferred[None]:
        """Abort a transaction; one rolled back with a lost connection ends quietly."""
        return self._driver.request(
            lambda now, left: self._core.abort(transaction, receipt=receipt, timeout=left, now=now),
            timeout,
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

    # -- shutting down -------------------------------------------------------------------------

    def disconnect(self, timeout: float | None = None) -> Deferred[DisconnectResult]:
        """Shut down gracefully; fire with how it went.

        The client stops taking messages (those queued are dropped unacknowledged),
        stops connecting if it was, unsubscribes its ``auto`` subscriptions, waits up
        to *timeout* (default ``disconnect_timeout``) for the handlers in flight and
        the receipts still awaited, cancels and reports the handlers still running,
        then sends DISCONNECT with a receipt, waits for it up to *timeout*, and
        closes. Calling it again returns the same result.
        """
        wait = check_timeout("timeout", timeout, optional=True)
        return self._begin_shutdown(None, wait)

    def close(self) -> None:
        """Close at once, without DISCONNECT; every waiting request fails.

        Queued messages are dropped, running handlers are left to finish (their acks
        are not written); the broker delivers every unacknowledged message again.
        Prefer :meth:`disconnect`.
        """
        self._driver.feed(lambda core, now: core.close(now))

    def _begin_shutdown(
        self, reason: ClientError | None, timeout: float | None
    ) -> Deferred[DisconnectResult]:
        outcome = self._shutdown
        if outcome is None:
            outcome = self._shutdown = Outcome()
            wait = self._core.settings.disconnect_timeout if timeout is None else timeout
            Deferred.fromCoroutine(self._shut_down(reason, wait)).addBoth(outcome.fire)
        elif reason is not None:
            logger.info("already shutting down; also: %s", reason)
        return outcome.observe()

    async def _shut_down(self, reason: ClientError | None, timeout: float) -> DisconnectResult:
        core = self._core
        if reason is None:
            logger.info("disconnecting")
        else:
            logger.warning("shutting down: %s", reason)
        dropped = self._handlers.stop_all()
        if dropped:
            logger.info("%d queued message(s) left unhandled and unacknowledged", dropped)
        if not core.ready:
            self._driver.wake_waiters()  # nobody waits for a connection any more
        receipt = False
        if core.ready:
            self._handlers.resume_all()
            now = self._reactor.seconds()
            for sub in self._subs.values():
                if sub.ack == "auto":
                    with contextlib.suppress(ClientError):
                        core.unsubscribe(sub.id, now=now)
            self._driver.pump()
        unfinished = await self._handlers.drain(timeout, lambda: bool(self._driver.receipts))
        if core.state is not ClientState.CLOSED:
            goodbye: Deferred[bool] = Deferred()
            self._goodbye = goodbye
            core.disconnect(self._reactor.seconds(), timeout=timeout)
            self._driver.pump()
            receipt = await goodbye
        result = DisconnectResult(receipt=receipt, unfinished=unfinished)
        if reason is None:
            logger.info("disconnected (receipt: %s)", receipt)
            self._ended.fire(result)
        else:
            self._ended.fire(failure_of(_with_unfinished(reason, unfinished)))
        return result


def _with_unfinished(reason: ClientError, unfinished: tuple[UnfinishedHandler, ...]) -> ClientError:
    reason.unfinished = unfinished
    return reason


class _Events:
    """What the driver tells the client (the driver's :class:`~stomp_twisted._driver.Owner`)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def deliver_messages(self) -> None:
        self._client._take_messages()

    def connection_made(self, event: ConnectionMade) -> None:
        self._client._made(event)

    def connection_dropped(self) -> None:
        self._client._dropped()

    def client_ended(self, event: ClientEnded) -> None:
        self._client._client_ended(event)

    def receipt_settled(self) -> None:
        self._client._handlers.quiet()

    def shutting_down(self) -> bool:
        return self._client._shutdown is not None


class _SendAct:
    """A waiting send's act (see :meth:`Client.send`): one object, not a closure's cells."""

    __slots__ = (
        "body",
        "content_length",
        "core",
        "destination",
        "headers",
        "receipt",
        "transaction",
    )

    def __init__(
        self,
        core: ClientCore,
        destination: str,
        body: bytes,
        *,
        headers: Headers | None,
        content_length: bool,
        transaction: str | None,
        receipt: bool | str,
    ) -> None:
        self.core = core
        self.destination = destination
        self.body = body
        self.headers = headers
        self.content_length = content_length
        self.transaction = transaction
        self.receipt = receipt

    def __call__(self, now: float, left: float) -> str | None:
        """Put the SEND in the outbound buffer; return its receipt id."""
        return self.core.send(
            self.destination,
            self.body,
            headers=self.headers,
            content_length=self.content_length,
            transaction=self.transaction,
            receipt=self.receipt,
            timeout=left,
            now=now,
        )

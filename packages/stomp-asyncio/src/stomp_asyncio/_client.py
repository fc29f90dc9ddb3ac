"""The asyncio client: the client core on an event loop, with awaitable calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from types import MappingProxyType, TracebackType

from stomp_asyncio._handlers import FailureHook, Handlers, MessageHandler
from stomp_asyncio._link import Link, ReconnectHook
from stomp_asyncio._receiving import receive_from, settle, wait_message
from stomp_asyncio._shutdown import Shutdown
from stomp_commands import ALL_VERSIONS, AckMode, Headers
from stomp_core import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_OUTGOING,
    DEFAULT_TIMEOUT,
    ClientCore,
    ClientError,
    ClientSettings,
    ClientState,
    ClientView,
    DisconnectResult,
    HandlerState,
    InvalidRequest,
    NotConnected,
    TlsOptions,
    WaitTimeout,
    default_ack,
    prefetch_headers,
)
from stomp_core._model import positive
from stomp_failover import FailoverUri
from stomp_frame import Limits, Version
from stomp_session import DEFAULT_HEART_BEAT_GRACE, Connected, MessageReceived, Subscription

logger = logging.getLogger("stomp_asyncio")

DEFAULT_MAX_WAITING = 4096
"""Received messages the client holds before it stops reading from the broker."""


class Client(ClientView):
    """An asyncio STOMP client over TCP or TLS, for STOMP 1.0, 1.1 and 1.2.

    A thin adapter over :class:`stomp_core.ClientCore`, which decides everything
    (failover, reconnection, receipts, transactions, heart-beats, what a lost
    connection does to received messages): this class moves bytes through an
    asyncio transport, keeps the core's timer on the loop, and lets tasks wait.
    Every wait has a deadline, which covers a reconnection too:

    * :meth:`connect` follows the failover policy of *uri* up to its ``timeout``;
      each attempt allows *connect_timeout* for TCP and TLS together and
      *connected_timeout* for the broker's CONNECTED;
    * a call made while the client reconnects waits for the connection, and then its
      receipt, within its ``timeout`` (default *receipt_timeout*);
    * :meth:`receive` waits as long as its ``timeout`` says and returns ``None`` when
      nothing came.

    Heart-beats, reads and reconnections go on in the background on the loop, whatever
    the caller does between calls (as long as it does not block the loop). Cancelling a
    task that waits in any call leaves the client consistent: a receipt it awaited is
    forgotten, a message it waited for stays for the next :meth:`receive`.

    Flow control: when more than *max_waiting* received messages wait to be taken, the
    client stops reading from the broker (the core still sends heart-beats, and does not
    take the broker's silence meanwhile for death) and reads again once half of them
    were taken. Writes the broker does not take stay in the core (up to *max_outgoing*
    bytes, then calls wait for room; after *write_timeout* without progress the
    connection is closed).

    The client is bound to the event loop it is first used on. Errors are the ones of
    every stomp-suite client (:mod:`stomp_core`).

    Args:
        uri: A failover URI or a plain ``tcp://host:port`` / ``ssl://host:port``.
        login: The user name; a broker in the URI with its own ``user:password@``
            uses those instead.
        passcode: The password; never logged, never in a repr or an error message.
        vhost: The CONNECT ``host`` header (RabbitMQ's virtual host).
        versions: The STOMP versions to offer (``Version`` or ``"1.2"``).
        heart_beat: ``(cx, cy)`` in milliseconds; ``(0, 0)`` (the default) for none.
        heart_beat_grace: How many receive intervals of silence make the broker dead.
        connect_headers: Extra CONNECT headers (``client-id`` and the like).
        websocket_headers: Extra HTTP headers of the WebSocket upgrade (``ws://`` and
            ``wss://`` brokers): ``Origin``, ``Authorization``, ``Cookie``.
        tls: How ``ssl://`` brokers are secured: :class:`~stomp_core.TlsOptions` or an
            :class:`ssl.SSLContext`; by default the system's trust store with
            certificate and host-name verification.
        connect_timeout: Seconds for the TCP connection and TLS handshake of an attempt.
        connected_timeout: Seconds for the broker's CONNECTED.
        receipt_timeout: Default seconds a call waits (connection and receipt).
        write_timeout: Seconds a write may make no progress before the connection is closed.
        disconnect_timeout: Seconds to wait for DISCONNECT's receipt.
        auto_reconnect: Reconnect through the failover policy after a lost connection.
        on_reconnect: Called with a :class:`~stomp_core.Reconnected` after each
            reconnection (a plain function, or an ``async def`` run as a task).
        coalesce_acks: Let an ACK without receipt wait (10 ms at most) while more
            received messages wait, to leave with the next ones in one write.
        max_outgoing: Bytes buffered for the broker before writes wait for room.
        max_waiting: Received messages held before reading from the broker pauses.
        limits: Bounds on the frames received and sent.
        rng: The random source of the failover policy (shuffling, jitter).

    Raises:
        stomp_core.InvalidRequest: a setting out of range, or one CONNECT cannot carry.
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
        tls: TlsOptions | ssl.SSLContext | None = None,
        connect_timeout: float = DEFAULT_TIMEOUT,
        connected_timeout: float = DEFAULT_TIMEOUT,
        receipt_timeout: float = DEFAULT_TIMEOUT,
        write_timeout: float = DEFAULT_TIMEOUT,
        disconnect_timeout: float = DEFAULT_TIMEOUT,
        auto_reconnect: bool = True,
        on_reconnect: ReconnectHook | None = None,
        coalesce_acks: bool = True,
        max_outgoing: int = DEFAULT_MAX_OUTGOING,
        max_waiting: int = DEFAULT_MAX_WAITING,
        limits: Limits | None = None,
        rng: random.Random | None = None,
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
        bound: object = max_waiting
        if not isinstance(bound, int) or isinstance(bound, bool) or bound < 2:
            msg = f"max_waiting must be an integer >= 2, got {max_waiting!r}"
            raise InvalidRequest(msg)
        given: object = tls
        if given is not None and not isinstance(given, (TlsOptions, ssl.SSLContext)):
            msg = f"tls must be TlsOptions or an ssl.SSLContext, got {type(given).__name__}"
            raise InvalidRequest(msg)
        self._core = ClientCore(uri, settings, rng=rng, logger=logger)
        self._handlers = Handlers(
            self._core,
            forward=self._forward,
            end=lambda failure: self._shutdown.begin(failure, None),
            ended=lambda event: self._shutdown.client_ended(event),  # noqa: PLW0108 (made below)
        )
        self._link = Link(
            self._core,
            tls=tls,
            on_reconnect=on_reconnect,
            max_waiting=max_waiting,
            owner=self._handlers,
        )
        self._handlers.link = self._link
        self._shutdown = Shutdown(self._core, self._link, self._handlers)

    def __repr__(self) -> str:
        where = self._core.broker or "not connected"
        return f"<stomp_asyncio.Client {self._core.uri} ({where})>"

    # -- what the caller can see ---------------------------------------------------------------

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """The subscriptions, by id, that are replayed after a reconnection."""
        return self._core.subscriptions

    @property
    def handlers(self) -> Mapping[str, HandlerState]:
        """The subscriptions with a handler, by id: ``in_flight``, ``queued``, ``active``, ..."""
        return MappingProxyType(self._handlers.dispatcher.states)

    @property
    def messages_waiting(self) -> int:
        """How many received messages wait in the client for :meth:`receive`."""
        return self._link.waiting()

    @property
    def reading_paused(self) -> bool:
        """Whether reading from the broker is paused.

        Too many messages wait for :meth:`receive`, or a handler queue is full.
        """
        link = self._link
        return link.read_paused or link.handlers_paused

    @property
    def disconnected(self) -> asyncio.Future[DisconnectResult]:
        """A new future of the end of the client.

        It resolves to the :class:`~stomp_core.DisconnectResult` after a requested
        :meth:`disconnect` or :meth:`close`, and fails with the reason otherwise:
        :class:`~stomp_core.HandlerFailed` (the poison pill of STOMP 1.0),
        :class:`~stomp_core.ConnectFailed`, :class:`~stomp_core.ConnectionLost`
        (auto-reconnect off) or :class:`~stomp_core.BrokerError`.
        """
        return self._shutdown.observe()

    # -- connecting and ending -------------------------------------------------------------------

    async def connect(self, *, timeout: float | None = None) -> Connected:
        """Connect through the failover policy; return the broker's CONNECTED.

        Cancelling it closes the client (it stops connecting).

        Args:
            timeout: Seconds for all of it; ``None`` leaves it to the policy's budget.

        Raises:
            ConnectFailed: the policy gave up (its cause names the brokers tried).
            WaitTimeout: *timeout* passed first; the client stops connecting.
            BrokerError: a broker refused the connection with ERROR: not retried.
            InvalidRequest: already connected or connecting.
        """
        wait = positive("timeout", timeout, optional=True)
        link, core = self._link, self._core
        link.bind()
        core.start(link.now())
        link.process()
        deadline = None if wait is None else link.now() + wait
        try:
            reached = await link.wait(lambda: core.state is not ClientState.CONNECTING, deadline)
        except BaseException:
            self.close()
            raise
        if not reached:
            self.close()
            raise WaitTimeout(f"connection through {core.uri}", wait or 0.0)
        if core.state is ClientState.CLOSED:
            raise core.end_cause or NotConnected("the client was closed while connecting")
        connected = core.connected
        assert connected is not None
        return connected

    async def disconnect(self, *, timeout: float | None = None) -> DisconnectResult:
        """Disconnect gracefully; return how it went.

        The client stops taking messages for its handlers (those queued are dropped
        unacknowledged), unsubscribes its ``auto`` handler subscriptions, waits up to
        *timeout* (default *disconnect_timeout*) for the handlers in flight and the
        receipts awaited, cancels and reports the handlers still running (their
        messages stay unacknowledged), then sends DISCONNECT with a receipt (deferred
        ACKs first), waits for it up to *timeout*, and closes. Once the receipt is in,
        the broker has processed every frame sent before. Without a connection it
        stops connecting. Calling it again returns the same result; cancelling the
        call does not stop the shutdown.

        Returns:
            Whether the broker confirmed it (``receipt``), and the handlers left
            ``unfinished``.
        """
        wait = positive("timeout", timeout, optional=True)
        self._link.bind()
        return await asyncio.shield(self._shutdown.begin(None, wait))

    def close(self) -> None:
        """Close at once, without DISCONNECT; every waiting call ends.

        Frames written but not yet processed by the broker may be lost; unacknowledged
        messages are delivered again by the broker. Prefer :meth:`disconnect`.
        """
        core = self._core
        if core.state is ClientState.CLOSED or core.state is ClientState.IDLE:
            return
        link = self._link
        core.close(link.now())
        link.process()

    async def __aenter__(self) -> Client:
        """Connect (unless connected) and return the client."""
        if not self._core.ready:
            await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Disconnect gracefully; when the block raised, a failing disconnect is only logged."""
        try:
            await self.disconnect()
        except ClientError as failure:
            if exc is None:
                raise
            logger.warning("disconnect after an error in the async with block failed: %s", failure)

    # -- requests --------------------------------------------------------------------------------

    async def send(
        self,
        destination: str,
        body: bytes = b"",
        *,
        headers: Headers | None = None,
        content_length: bool = True,
        transaction: str | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> None:
        """Send a message to *destination*.

        Without a receipt it returns as soon as the frame is buffered (the bytes leave
        at the loop's next turn); with one, once the broker confirmed it.

        Args:
            destination: Where to send (``/queue/a``, ``/topic/b``, ...).
            body: The body, any bytes (NUL included when *content_length* is on).
            headers: Extra headers (``persistent``, ``content-type``, ...).
            content_length: Write ``content-length`` (default); ``False`` makes
                ActiveMQ deliver a JMS TextMessage.
            transaction: Send inside this open transaction.
            receipt: Wait until the broker confirms it has the message (``True``, or the
                receipt id to use).
            timeout: Seconds for it all (default *receipt_timeout*).

        Raises:
            WaitTimeout: no connection or no receipt in time.
            ConnectionLost: the connection dropped before the receipt (the message may
                or may not be stored), or *transaction* was rolled back with it.
            BrokerError: the broker answered with ERROR.
            InvalidRequest: a frame the version cannot carry, an unknown transaction.
        """
        core = self._core
        if receipt is False and timeout is None and core.ready and core.has_room:
            # The hot path: buffer it; the loop's next turn writes it.
            core.send(
                destination,
                body,
                headers=headers,
                content_length=content_length,
                transaction=transaction,
                now=self._link.now(),
            )
            self._link.schedule()
            return
        await self._link.request(
            lambda now, left: core.send(
                destination,
                body,
                headers=headers,
                content_length=content_length,
                transaction=transaction,
                receipt=receipt,
                timeout=left,
                now=now,
            ),
            timeout,
        )

    async def _forward(
        self,
        destination: str,
        body: bytes,
        headers: list[tuple[str, str]],
        *,
        content_length: bool,
    ) -> None:
        """Send a failed message's copy to an error destination, awaiting its receipt."""
        await self.send(
            destination, body, headers=headers, content_length=content_length, receipt=True
        )

    async def subscribe(
        self,
        destination: str,
        handler: MessageHandler | None = None,
        *,
        ack: AckMode | None = None,
        id: str | None = None,
        headers: Headers | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        error_destination: str | None = None,
        on_error: FailureHook | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe to *destination*; the subscription is replayed after every reconnection.

        Without *handler* its messages are taken with :meth:`receive` or
        :meth:`messages`. With one (a plain function or an ``async def``), each message
        is handed to it, as in the Twisted client, decided by the client core
        (:class:`stomp_core.Dispatcher`): at most *max_in_flight* handlers run at once;
        as many messages more wait, and beyond that reading pauses until the queue is
        half empty (heart-beats go on); ``activemq.prefetchSize`` and ``prefetch-count``
        default to *max_in_flight*. A handler's success acknowledges its message
        (unless it called :meth:`ack` or :meth:`nack`; in ``client`` mode in arrival
        order). When it raises, *on_error* chooses an :class:`~stomp_core.ErrorAction`;
        by default: forward a copy to *error_destination* and acknowledge; else NACK
        (1.1+), or on STOMP 1.0 leave it unacknowledged and end the client
        (:class:`~stomp_core.HandlerFailed`, in :attr:`disconnected`).

        Args:
            destination: What to subscribe to.
            handler: The callable taking each message (none: pull with :meth:`receive`).
            ack: ``"auto"``, ``"client"`` or ``"client-individual"``; by default
                ``"auto"`` without a handler, ``"client-individual"`` with one
                (``"client"`` on STOMP 1.0).
            id: The subscription id (generated when not given).
            headers: Extra headers (``selector``, ``activemq.prefetchSize``, ...).
            max_in_flight: The most messages handled at once (at least 1).
            error_destination: Where to forward messages whose handler failed.
            on_error: A hook deciding what to do when the handler fails.
            receipt: Wait until the broker confirms the subscription.
            timeout: Seconds for it all (default *receipt_timeout*).

        Raises:
            InvalidRequest: handler settings without a handler, *max_in_flight* below 1.
        """
        if handler is None:
            if error_destination is not None or on_error is not None:
                msg = "error_destination and on_error need a handler"
                raise InvalidRequest(msg)
        else:
            given: object = max_in_flight
            if not isinstance(given, int) or isinstance(given, bool) or given < 1:
                msg = f"max_in_flight must be an int >= 1, got {given!r}"
                raise InvalidRequest(msg)
        made: list[Subscription] = []

        def act(now: float, left: float) -> str | None:
            core = self._core
            if handler is None:
                mode: AckMode = ack or "auto"
                pairs: Headers | None = headers
            else:
                mode = ack or default_ack(core.version)
                extra = list(headers.items() if isinstance(headers, Mapping) else headers or ())
                pairs = prefetch_headers(core.connected, mode, max_in_flight, extra)
            subscription, receipt_id = core.subscribe(
                destination, ack=mode, id=id, headers=pairs, receipt=receipt, timeout=left, now=now
            )
            made.append(subscription)
            if handler is not None:
                self._handlers.add(
                    id=subscription.id,
                    destination=destination,
                    ack=mode,
                    handler=handler,
                    max_in_flight=max_in_flight,
                    error_destination=error_destination,
                    on_error=on_error,
                )
            return receipt_id

        try:
            await self._link.request(act, timeout)
        except BaseException:
            if made and handler is not None:
                self._handlers.remove(made[0].id)
                with contextlib.suppress(ClientError):
                    self._core.unsubscribe(made[0].id, now=self._link.now())
                self._link.process()
            raise
        return made[0]

    async def unsubscribe(
        self,
        subscription: Subscription | str,
        *,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> None:
        """End a subscription (by record or id); it is no longer replayed.

        Without a connection it is only forgotten (the broker dropped it with the
        connection).
        """
        core = self._core
        self._handlers.remove(
            subscription.id if isinstance(subscription, Subscription) else subscription
        )
        if not core.ready:
            core.unsubscribe(subscription, receipt=receipt, now=self._link.now())
            return
        await self._link.request(
            lambda now, left: core.unsubscribe(
                subscription, receipt=receipt, timeout=left, now=now
            ),
            timeout,
        )

    async def ack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> None:
        """Acknowledge *message* (the version's headers are the core's job).

        Raises:
            MessageStale: the message came on an earlier connection (refused at once;
                the broker delivers it again on the current one).
            InvalidRequest: its subscription is ``auto``, or an unknown transaction.
        """
        await settle(
            self._core,
            self._link,
            self._handlers,
            message,
            transaction=transaction,
            receipt=receipt,
            timeout=timeout,
            nack=False,
        )

    async def nack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> None:
        """Refuse *message* (STOMP 1.1 and later); what follows is the broker's policy.

        RabbitMQ delivers it again at once; ActiveMQ sends a persistent message to its
        dead-letter queue. Raises as :meth:`ack` (and on STOMP 1.0, which has no NACK).
        """
        await settle(
            self._core,
            self._link,
            self._handlers,
            message,
            transaction=transaction,
            receipt=receipt,
            timeout=timeout,
            nack=True,
        )

    async def begin(self, transaction: str | None = None) -> str:
        """Begin a transaction and return its id (generated when not given).

        SENDs, ACKs and NACKs that name it take effect together at :meth:`commit`,
        or never at :meth:`abort`. A lost connection rolls it back.
        """
        began: list[str] = []

        def act(now: float, left: float) -> str | None:
            began.append(self._core.begin(transaction, timeout=left, now=now)[0])
            return None

        await self._link.request(act, None)
        return began[0]

    async def commit(
        self, transaction: str, *, receipt: bool | str = True, timeout: float | None = None
    ) -> None:
        """Commit *transaction*; by default wait for the broker's receipt, which proves it.

        Raises:
            ConnectionLost: the connection (and the transaction with it) was lost.
            WaitTimeout: no receipt in time.
            BrokerError: the broker refused it.
        """
        await self._link.request(
            lambda now, left: self._core.commit(
                transaction, receipt=receipt, timeout=left, now=now
            ),
            timeout,
        )

    async def abort(
        self, transaction: str, *, receipt: bool | str = False, timeout: float | None = None
    ) -> None:
        """Roll *transaction* back; one rolled back with a lost connection ends quietly."""
        await self._link.request(
            lambda now, left: self._core.abort(transaction, receipt=receipt, timeout=left, now=now),
            timeout,
        )

    @contextlib.asynccontextmanager
    async def transaction(self, *, timeout: float | None = None) -> AsyncIterator[str]:
        """Run a block in a transaction: committed if it ends (receipt awaited), else aborted.

        >>> async with client.transaction() as tx:  # doctest: +SKIP
        ...     await client.send("/queue/a", b"1", transaction=tx)
        ...     await client.ack(message, transaction=tx)
        """
        transaction = await self.begin()
        try:
            yield transaction
        except BaseException:
            try:
                await self.abort(transaction)
            except ClientError as failure:
                logger.warning("could not abort %s: %s", transaction, failure)
            raise
        await self.commit(transaction, timeout=timeout)

    async def receive(
        self, timeout: float | None = None, *, subscription: Subscription | str | None = None
    ) -> MessageReceived | None:
        """Return the next message, waiting up to *timeout* seconds (``None``: until one comes).

        Returns ``None`` when none came in time. Cancelling it takes no message: one
        that arrives meanwhile waits for the next call.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message comes.
            subscription: Only a message of this subscription (record or id); the
                others wait for their own calls. They count towards *max_waiting*: a
                subscription nobody takes from can pause reading for all.

        Raises:
            BrokerError: the broker sent an ERROR that answered no request.
            NotConnected: not connected, or the client ended (its cause is in the text:
                the policy gave up, or auto-reconnect is off).
        """
        core, link = self._core, self._link
        if subscription is not None:
            wanted = subscription.id if isinstance(subscription, Subscription) else subscription
            return await receive_from(core, link, self._handlers, wanted, timeout)
        inbox = link.inbox
        message = inbox.popleft() if inbox else core.next_message()
        if message is not None:
            if link.read_paused:
                link.taken()
            return message
        return await wait_message(core, link, timeout)

    async def messages(
        self,
        subscription: Subscription | str | None = None,
        *,
        idle_timeout: float | None = None,
    ) -> AsyncIterator[MessageReceived]:
        """Yield messages as they arrive; stop after *idle_timeout* seconds without one.

        With *subscription* (a record or an id), only that subscription's messages: an
        iterator per subscription (``async for message in client.messages(orders)``).
        With ``idle_timeout=None`` it never stops by itself: break out of the loop.
        """
        while (message := await self.receive(idle_timeout, subscription=subscription)) is not None:
            yield message


__all__ = ["DEFAULT_MAX_WAITING", "Client"]

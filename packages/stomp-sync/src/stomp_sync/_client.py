"""The blocking client: a socket, a clock and a condition variable around the client core."""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Final

from stomp_commands import ALL_VERSIONS, AckMode, Headers
from stomp_core import (
    DEFAULT_MAX_OUTGOING,
    DEFAULT_TIMEOUT,
    ClientCore,
    ClientError,
    ClientSettings,
    ClientState,
    ClientView,
    DisconnectResult,
    NotConnected,
    Reconnected,
    TlsOptions,
    WaitTimeout,
    check_timeout,
)
from stomp_failover import FailoverUri
from stomp_frame import Limits, Version
from stomp_session import DEFAULT_HEART_BEAT_GRACE, Connected, MessageReceived, Subscription
from stomp_sync._io import SocketPump

logger = logging.getLogger("stomp_sync")

_BEATER_IDLE: Final = 0.5
"""Seconds the heart-beat thread sleeps at most between two looks at the timers."""


class Client(ClientView):
    """A blocking STOMP client over TCP or TLS, for STOMP 1.0, 1.1 and 1.2.

    A thin adapter over :class:`stomp_core.ClientCore`, which decides everything
    (failover, reconnection, receipts, transactions, heart-beats, what a lost
    connection does to received messages): this class only moves bytes and waits.
    Every call that waits has a deadline, which covers a reconnection too:

    * :meth:`connect` follows the failover policy of *uri* (delays, budgets) up to its
      ``timeout``; each attempt allows *connect_timeout* for TCP and TLS together and
      *connected_timeout* for the broker's CONNECTED;
    * a call made while the client reconnects waits for the connection, and then its
      receipt, within its ``timeout`` (default *receipt_timeout*); a write the broker
      does not take stalls for at most *write_timeout*, then the connection is closed;
    * :meth:`receive` waits as long as its ``timeout`` says and returns ``None`` when
      nothing came.

    Calls may come from several threads at once: one of them does the I/O while the
    others wait on a condition variable, and every one is woken as soon as what it
    waits for arrives. :meth:`close` from any thread ends every waiting call at once
    with :class:`~stomp_core.NotConnected`.

    The client starts no thread unless ``heart_beat_thread=True``: then a daemon
    thread services heart-beats (and reads) while no call is in progress, so that a
    caller busy for longer than the negotiated interval keeps its connection.

    Errors are the ones of every stomp-suite client (:mod:`stomp_core`): misuse is an
    :class:`~stomp_core.InvalidRequest` (a ``ValueError``); an ERROR frame that answers
    no request is raised as :class:`~stomp_core.BrokerError` by the next call.

    Args:
        uri: A failover URI or a plain ``tcp://host:port`` / ``ssl://host:port``.
        login: The user name; a broker in the URI with its own ``user:password@``
            uses those instead.
        passcode: The password; never logged, never in a repr or an error message.
        vhost: The CONNECT ``host`` header (RabbitMQ's virtual host); a broker's
            ``vhost`` option wins; without either, the broker's host name.
        versions: The STOMP versions to offer (``Version`` or ``"1.2"``).
        heart_beat: ``(cx, cy)`` in milliseconds; ``(0, 0)`` (the default) for none.
        heart_beat_grace: How many receive intervals of silence make the broker dead.
        heart_beat_thread: Start a daemon thread that services heart-beats while the
            caller is busy outside the client.
        connect_headers: Extra CONNECT headers (``client-id`` and the like).
        websocket_headers: Extra HTTP headers of the WebSocket upgrade (``ws://`` and
            ``wss://`` brokers): ``Origin``, ``Authorization``, ``Cookie``.
        tls: How ``ssl://`` brokers are secured: :class:`~stomp_core.TlsOptions` (the
            same options as every client) or an :class:`ssl.SSLContext`; by default the
            system's trust store with certificate and host-name verification.
        ssl_context: The same as *tls* with a context (kept for compatibility).
        connect_timeout: Seconds for the TCP connection and TLS handshake of an attempt.
        connected_timeout: Seconds for the broker's CONNECTED.
        receipt_timeout: Default seconds a call waits (connection and receipt).
        write_timeout: Seconds a write may make no progress before the connection is closed.
        disconnect_timeout: Seconds to wait for DISCONNECT's receipt.
        auto_reconnect: Reconnect through the failover policy after a lost connection.
        on_reconnect: Called (outside the client's lock) with a
            :class:`~stomp_core.Reconnected` after each reconnection.
        coalesce_acks: Let an ACK without receipt wait (10 ms at most) while more
            received messages wait, to leave with the next ones in one write.
        max_outgoing: Bytes buffered for the broker before writes wait for room.
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
        heart_beat_thread: bool = False,
        connect_headers: Headers | None = None,
        websocket_headers: Headers | None = None,
        tls: TlsOptions | ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
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
        self._core = ClientCore(uri, settings, rng=rng, logger=logger)
        self._lock = threading.Lock()
        self._pump = SocketPump(
            self._core,
            threading.Condition(self._lock),
            tls=ssl_context if tls is None else tls,
            on_reconnect=on_reconnect,
        )
        self._beat_thread = heart_beat_thread
        self._beater: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self._core.broker or "not connected"
        return f"<stomp_sync.Client {self._core.uri} ({where})>"

    # -- what the caller can see ---------------------------------------------------------------

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """The subscriptions, by id, that are replayed after a reconnection."""
        return self._core.subscriptions

    @property
    def messages_waiting(self) -> int:
        """How many received messages wait in the client for :meth:`receive`."""
        return self._core.messages_waiting

    # -- connecting and ending -------------------------------------------------------------------

    def connect(self, *, timeout: float | None = None) -> Connected:
        """Connect through the failover policy; return the broker's CONNECTED.

        Every ``connect()`` is a fresh startup phase of the policy, with its budget.

        Args:
            timeout: Seconds for all of it; ``None`` leaves it to the policy's budget
                (the default of a failover URI tries for ever, logging each failure).

        Raises:
            ConnectFailed: the policy gave up (its cause names the brokers tried).
            WaitTimeout: *timeout* passed first; the client stops connecting.
            BrokerError: a broker refused the connection with ERROR (bad credentials,
                unknown virtual host, no common version): not retried.
            InvalidRequest: already connected or connecting.
        """
        wait = check_timeout("timeout", timeout, optional=True)
        with self._lock:
            core, pump = self._core, self._pump
            core.start(time.monotonic())
            pump.handle_events()
            deadline = None if wait is None else time.monotonic() + wait
            if not pump.wait(lambda: core.state is not ClientState.CONNECTING, deadline):
                core.close(time.monotonic())
                pump.handle_events()
                raise WaitTimeout(f"connection through {core.uri}", wait or 0.0)
            if core.state is ClientState.CLOSED:
                raise core.end_cause or NotConnected("the client was closed while connecting")
            connected = core.connected
            assert connected is not None
        if self._beat_thread and self._beater is None:
            self._start_beater()
        return connected

    def disconnect(self, *, timeout: float | None = None) -> DisconnectResult:
        """Disconnect gracefully: DISCONNECT with a receipt, wait for it, close.

        Deferred ACKs are written first. Once the receipt is in, the broker has
        processed every frame sent before. Without a connection it stops connecting.
        After *timeout* (default *disconnect_timeout*) the connection is closed anyway.

        Returns:
            Whether the broker confirmed it (``receipt``).
        """
        wait = check_timeout("timeout", timeout, optional=True)
        with self._lock:
            self._core.disconnect(time.monotonic(), timeout=wait)
            self._pump.handle_events()
            self._pump.wait(lambda: self._core.state is ClientState.CLOSED, None)
            ended = self._pump.ended
        self._stop_beater()
        return DisconnectResult(receipt=ended is not None and ended.confirmed)

    def close(self) -> None:
        """Close at once, without DISCONNECT, from any thread; every waiting call ends.

        Frames written but not yet processed by the broker may be lost; unacknowledged
        messages are delivered again by the broker. Prefer :meth:`disconnect`.
        """
        self._pump.interrupt()
        with self._lock:
            self._core.close(time.monotonic())
            self._pump.handle_events()
        self._stop_beater()

    def __enter__(self) -> Client:
        """Connect (unless connected) and return the client."""
        if not self._core.ready:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Disconnect gracefully; when the block raised, a failing disconnect is only logged."""
        try:
            self.disconnect()
        except ClientError as failure:
            if exc is None:
                raise
            logger.warning("disconnect after an error in the with-block failed: %s", failure)

    # -- requests --------------------------------------------------------------------------------

    def _request(
        self, act: Callable[[float, float], str | None], timeout: float | None
    ) -> str | None:
        """Wait for the connection and room, act, then wait for the receipt it asked for.

        *act* is given the time and the seconds left; one deadline covers it all.
        """
        core, pump = self._core, self._pump
        wait = core.settings.receipt_timeout
        if timeout is not None:
            wait = check_timeout("timeout", timeout) or wait
        with self._lock:
            now = time.monotonic()
            deadline = now + wait
            if not (core.ready and core.has_room):
                pump.wait_ready(deadline, wait)
                now = time.monotonic()
            receipt_id = act(now, max(deadline - now, 1e-3))
            pump.write()
            if receipt_id is not None:
                pump.await_receipt(receipt_id)
            elif core.output_size and not core.has_room:
                pump.wait_room(deadline, wait)
            return receipt_id

    def send(
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
        if receipt is False and timeout is None:
            with self._lock:  # the hot path: connected, room to write, nothing to await
                if core.ready and core.has_room:
                    core.send(
                        destination,
                        body,
                        headers=headers,
                        content_length=content_length,
                        transaction=transaction,
                        now=time.monotonic(),
                    )
                    self._pump.write_or_wait()
                    return
        self._request(
            lambda now, left: self._core.send(
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

    def subscribe(
        self,
        destination: str,
        *,
        ack: AckMode = "auto",
        id: str | None = None,
        headers: Headers | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe to *destination*; the subscription is replayed after every reconnection.

        Args:
            destination: What to subscribe to.
            ack: ``"auto"``, ``"client"`` or ``"client-individual"``.
            id: The subscription id (generated when not given).
            headers: Extra headers (``selector``, ``activemq.prefetchSize``, ...).
            receipt: Wait until the broker confirms the subscription.
            timeout: Seconds for it all (default *receipt_timeout*).
        """
        made: list[Subscription] = []

        def act(now: float, left: float) -> str | None:
            subscription, receipt_id = self._core.subscribe(
                destination, ack=ack, id=id, headers=headers, receipt=receipt, timeout=left, now=now
            )
            made.append(subscription)
            return receipt_id

        self._request(act, timeout)
        return made[0]

    def unsubscribe(
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
        with self._lock:
            if not self._core.ready:
                self._core.unsubscribe(subscription, now=time.monotonic())
                return
        self._request(
            lambda now, left: self._core.unsubscribe(
                subscription, receipt=receipt, timeout=left, now=now
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
    ) -> None:
        """Acknowledge *message* (the version's headers are the core's job).

        Raises:
            MessageStale: the message came on an earlier connection (refused at once;
                the broker delivers it again on the current one).
            InvalidRequest: its subscription is ``auto``, or an unknown transaction.
        """
        self._settle(message, transaction=transaction, receipt=receipt, timeout=timeout, nack=False)

    def nack(
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
        self._settle(message, transaction=transaction, receipt=receipt, timeout=timeout, nack=True)

    def _settle(
        self,
        message: MessageReceived,
        *,
        transaction: str | None,
        receipt: bool | str,
        timeout: float | None,
        nack: bool,
    ) -> None:
        core = self._core
        settle = core.nack if nack else core.ack
        if receipt is False:
            with self._lock:  # the hot path: no waiting unless the buffer is full
                now = time.monotonic()
                settle(message, transaction=transaction, defer=core.messages_waiting > 0, now=now)
                if core.output_size:
                    self._pump.write_or_wait()
            return
        core.refuse_stale(message, "NACK" if nack else "ACK")
        self._request(
            lambda now, left: settle(
                message, transaction=transaction, receipt=receipt, timeout=left, now=now
            ),
            timeout,
        )

    def begin(self, transaction: str | None = None) -> str:
        """Begin a transaction and return its id (generated when not given).

        SENDs, ACKs and NACKs that name it take effect together at :meth:`commit`,
        or never at :meth:`abort`. A lost connection rolls it back.
        """
        began: list[str] = []

        def act(now: float, left: float) -> str | None:
            began.append(self._core.begin(transaction, timeout=left, now=now)[0])
            return None

        self._request(act, None)
        return began[0]

    def commit(
        self, transaction: str, *, receipt: bool | str = True, timeout: float | None = None
    ) -> None:
        """Commit *transaction*; by default wait for the broker's receipt, which proves it.

        Raises:
            ConnectionLost: the connection (and the transaction with it) was lost.
            WaitTimeout: no receipt in time.
            BrokerError: the broker refused it.
        """
        self._request(
            lambda now, left: self._core.commit(
                transaction, receipt=receipt, timeout=left, now=now
            ),
            timeout,
        )

    def abort(
        self, transaction: str, *, receipt: bool | str = False, timeout: float | None = None
    ) -> None:
        """Roll *transaction* back; one rolled back with a lost connection ends quietly."""
        self._request(
            lambda now, left: self._core.abort(transaction, receipt=receipt, timeout=left, now=now),
            timeout,
        )

    @contextlib.contextmanager
    def transaction(self, *, timeout: float | None = None) -> Iterator[str]:
        """Run a block in a transaction: committed if it ends (receipt awaited), else aborted.

        >>> with client.transaction() as tx:  # doctest: +SKIP
        ...     client.send("/queue/a", b"1", transaction=tx)
        ...     client.ack(message, transaction=tx)
        """
        transaction = self.begin()
        try:
            yield transaction
        except BaseException:
            try:
                self.abort(transaction)
            except ClientError as failure:
                logger.warning("could not abort %s: %s", transaction, failure)
            raise
        self.commit(transaction, timeout=timeout)

    def receive(self, timeout: float | None = None) -> MessageReceived | None:
        """Return the next message, waiting up to *timeout* seconds (``None``: until one comes).

        Returns ``None`` when none came in time. Heart-beats are serviced and a lost
        connection is reconnected (auto-reconnect) while it waits.

        Raises:
            BrokerError: the broker sent an ERROR that answered no request.
            NotConnected: not connected, or the client ended (its cause is in the text:
                the policy gave up, or auto-reconnect is off).
        """
        core = self._core
        with self._lock:
            message = core.next_message()
            if message is not None:
                self._pump.service_soon()
                return message
            wait = check_timeout("timeout", timeout, optional=True)
            core.check_usable()
            deadline = None if wait is None else time.monotonic() + wait
            self._pump.wait(lambda: core.messages_waiting > 0, deadline, check=True)
            return core.next_message()

    def messages(self, *, idle_timeout: float | None = None) -> Iterator[MessageReceived]:
        """Yield messages as they arrive; stop after *idle_timeout* seconds without one.

        With ``idle_timeout=None`` it never stops by itself: break out of the loop.
        """
        while (message := self.receive(idle_timeout)) is not None:
            yield message

    # -- the heart-beat thread -------------------------------------------------------------------

    def _start_beater(self) -> None:
        self._beater = threading.Thread(
            target=self._beat, name="stomp-sync-heart-beat", daemon=True
        )
        self._beater.start()

    def _stop_beater(self) -> None:
        beater, self._beater = self._beater, None
        if beater is not None and beater is not threading.current_thread():
            self._pump.interrupt()
            beater.join(timeout=5.0)

    def _beat(self) -> None:
        """Service timers and reads while no call is in progress, until the client ends."""
        core = self._core
        while self._beater is not None:
            with self._lock:
                if core.state is ClientState.CLOSED:
                    return
                self._pump.idle_round(_BEATER_IDLE)


__all__ = ["DEFAULT_TIMEOUT", "Client", "NotConnected", "Reconnected"]

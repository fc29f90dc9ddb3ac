"""The blocking client: a socket and a clock around a stomp-session, every wait under a deadline."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import random
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from stomp_commands import ALL_VERSIONS, AckMode, Headers
from stomp_failover import Attempt, Broker, BrokersExhausted, FailoverUri, ReconnectPolicy
from stomp_frame import Limits, Version
from stomp_session import (
    DEFAULT_HEART_BEAT_GRACE,
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    MessageReceived,
    Output,
    PeerDead,
    ProtocolFailure,
    ReceiptLost,
    ReceiptReceived,
    Session,
    State,
    Subscription,
    TransactionAborted,
)
from stomp_sync._errors import BrokerError, ClientError, ConnectFailed, ConnectionLost, WaitTimeout
from stomp_sync._transport import open_socket, warn_if_unverified

logger = logging.getLogger("stomp_sync")

_READ_SIZE: Final = 256 * 1024
_WOULD_BLOCK: Final = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
_ACK_DELAY: Final = 0.01
"""Seconds a deferred ACK may wait for company before the next call writes it."""
_ACK_BATCH: Final = 512
"""Deferred ACKs written together at most."""
_BEATER_IDLE: Final = 0.5
"""Seconds the heart-beat thread sleeps when there is no timer to watch."""

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds allowed by default for each network step, CONNECTED, a receipt and DISCONNECT."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected:
    """The client lost its connection and made a new one; given to ``on_reconnect``.

    Attributes:
        broker: The broker now connected.
        connected: The new connection's CONNECTED (negotiated version, heart-beats,
            the subscriptions replayed in ``resubscribed``).
        cause: Why the previous connection ended.
        aborted_transactions: Transactions open on the lost connection: the broker
            rolled them back and they are not replayed.
        lost_receipts: Receipts that never came: a SEND among them may or may not be
            stored (send it again for at-least-once delivery).
        discarded: Messages received on the lost connection but not yet returned by
            :meth:`Client.receive`, dropped when it was lost because they could no
            longer be acknowledged; the broker redelivers them (messages of ``auto``
            subscriptions are kept, as the broker counts them delivered).
    """

    broker: Broker
    connected: Connected
    cause: BaseException
    aborted_transactions: tuple[str, ...]
    lost_receipts: tuple[str, ...]
    discarded: int


def _check_timeout(name: str, value: float | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        allowed = "a positive number of seconds" + (" or None" if optional else "")
        msg = f"{name} must be {allowed}, got {value!r}"
        raise ValueError(msg)


class Client:
    """A blocking STOMP client over TCP or TLS, for STOMP 1.0, 1.1 and 1.2.

    It starts no thread unless ``heart_beat_thread=True`` and assumes nothing about
    the caller's threads. Every call that waits has a deadline:

    * :meth:`connect` follows the failover policy of *uri* (delays, budgets); each
      attempt allows *connect_timeout* for TCP, again for the TLS handshake, and
      *connected_timeout* for the broker's CONNECTED;
    * a receipt is awaited *receipt_timeout* (or the call's ``timeout``), DISCONNECT's
      receipt *disconnect_timeout*, a write the broker does not take *write_timeout*;
      these raise :class:`WaitTimeout` and close the connection;
    * :meth:`receive` waits as long as its ``timeout`` says and returns ``None`` when
      nothing came: that is not a failure.

    While it waits inside any call it sends the heart-beats due and watches the
    broker's. While the caller's own code runs, nothing is serviced: a caller busier
    than the negotiated interval should ask for ``heart_beat_thread=True`` (a daemon
    thread that beats while no call is in progress), or the broker drops the
    connection (ActiveMQ and RabbitMQ after about 3 intervals). Data that arrived
    meanwhile is read before the broker's silence is judged, so a busy caller never
    mistakes a live broker for a dead one.

    Auto-reconnect is on by default. When the connection is lost the next call (or
    the one waiting) reconnects through the failover policy, the session replays
    every subscription, and ``on_reconnect`` receives a :class:`Reconnected` (without
    one, a warning is logged). Messages of the lost connection cannot be acknowledged
    any more (the session refuses it: the broker redelivers them, marked
    ``redelivered``); a receipt or a transaction that was open is reported by
    :class:`ConnectionLost` from the call that depends on it. Nothing is dropped
    silently. With ``auto_reconnect=False`` a lost connection raises
    :class:`ConnectionLost` from the next call.

    An ERROR frame raises :class:`BrokerError` from the call waiting for what caused
    it (a receipt), or else from the next call that reads or writes.

    Calls may come from several threads: a lock serialises them, and is released
    while a call sleeps waiting for the network.

    Args:
        uri: A failover URI or a plain ``tcp://host:port`` / ``ssl://host:port``
            (IPv6 in brackets); parsed with :meth:`stomp_failover.FailoverUri.parse`.
        login: The user name; a broker in the URI with its own ``user:password@``
            uses those instead.
        passcode: The password; never logged, never in a repr or an error message.
        vhost: The ``host`` header of CONNECT (RabbitMQ's virtual host), set apart
            from the network address; a broker's ``vhost`` option in the URI wins;
            without either, the broker's host name.
        versions: The STOMP versions to offer.
        heart_beat: ``(cx, cy)`` in milliseconds: send a beat at least every *cx* ms,
            want one from the broker every *cy* ms; ``(0, 0)`` (the default) for none.
        heart_beat_grace: How many receive intervals of silence make the broker dead.
        heart_beat_thread: Start a daemon thread that sends heart-beats while the
            caller is busy outside the client.
        connect_headers: Extra CONNECT headers (``client-id`` and the like).
        ssl_context: The TLS context for ``ssl://`` brokers; by default the system's
            trust store with certificate and host-name verification. A context that
            does not verify is accepted and logged as a warning at every connection.
        connect_timeout: Seconds for the TCP connection, and again for the TLS handshake.
        connected_timeout: Seconds for the broker's CONNECTED.
        receipt_timeout: Default seconds to wait for a receipt.
        write_timeout: Seconds a write may wait for the broker to take the bytes.
        disconnect_timeout: Seconds to wait for DISCONNECT's receipt.
        auto_reconnect: Reconnect through the failover policy after a lost connection.
        on_reconnect: Called (from the thread that noticed, outside the client's lock)
            after each reconnection.
        coalesce_acks: While more received messages wait in the client, write an
            ACK or NACK (without receipt) together with the next write, wait or read,
            at most 10 ms later at the caller's next call (like the raw batching of a
            hand-written consumer: one system call for many ACKs). An ACK with nothing
            else waiting is written at once, and so is every ACK when this is off.
            :meth:`disconnect` writes the deferred ones first; :meth:`close` drops
            them (the broker redelivers those messages).
        limits: Bounds on the frames received (size, header count, header line).
        rng: The random source of the failover policy (shuffling, jitter).

    Raises:
        ValueError: a timeout that is not a positive number.
        stomp_failover.UriError: a URI that does not parse.
        stomp_session.LocalProtocolError: settings CONNECT cannot carry.
    """

    def __init__(
        self,
        uri: str | FailoverUri,
        *,
        login: str | None = None,
        passcode: str | None = None,
        vhost: str | None = None,
        versions: Iterable[Version] = ALL_VERSIONS,
        heart_beat: tuple[int, int] = (0, 0),
        heart_beat_grace: float = DEFAULT_HEART_BEAT_GRACE,
        heart_beat_thread: bool = False,
        connect_headers: Headers | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = DEFAULT_TIMEOUT,
        connected_timeout: float = DEFAULT_TIMEOUT,
        receipt_timeout: float = DEFAULT_TIMEOUT,
        write_timeout: float = DEFAULT_TIMEOUT,
        disconnect_timeout: float = DEFAULT_TIMEOUT,
        auto_reconnect: bool = True,
        on_reconnect: Callable[[Reconnected], object] | None = None,
        coalesce_acks: bool = True,
        limits: Limits | None = None,
        rng: random.Random | None = None,
    ) -> None:
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("connected_timeout", connected_timeout),
            ("receipt_timeout", receipt_timeout),
            ("write_timeout", write_timeout),
            ("disconnect_timeout", disconnect_timeout),
        ):
            _check_timeout(name, value)
        self._uri = uri if isinstance(uri, FailoverUri) else FailoverUri.parse(uri)
        self._rng = rng
        self._policy = ReconnectPolicy(self._uri, rng=rng)
        self._login = login
        self._passcode = passcode
        self._vhost = vhost
        self._session = Session(
            host=vhost if vhost is not None else self._uri.brokers[0].host,
            login=login,
            passcode=passcode,
            versions=versions,
            heart_beat=heart_beat,
            heart_beat_grace=heart_beat_grace,
            connect_headers=connect_headers,
            limits=limits,
        )
        self._ssl_context = ssl_context
        self._connect_timeout = float(connect_timeout)
        self._connected_timeout = float(connected_timeout)
        self._receipt_timeout = float(receipt_timeout)
        self._write_timeout = float(write_timeout)
        self._disconnect_timeout = float(disconnect_timeout)
        self._auto_reconnect = auto_reconnect
        self._on_reconnect = on_reconnect
        self._heart_beat_thread = heart_beat_thread

        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._broker: Broker | None = None
        self._readable = selectors.DefaultSelector()
        self._writable = selectors.DefaultSelector()
        self._inbox: deque[MessageReceived] = deque()
        self._errors: deque[ErrorReceived] = deque()
        self._receipts: set[str] = set()
        self._receipt_errors: dict[str, ErrorReceived] = {}
        self._lost_receipts: set[str] = set()
        self._aborted: set[str] = set()
        self._receipt_ids = itertools.count(1)
        self._connected: Connected | None = None
        self._disconnect_confirmed = False
        self._loss: BaseException | None = None
        self._user_closed = True
        self._pending_attempt: tuple[Attempt, float] | None = None
        self._discarded = 0
        self._coalesce_acks = coalesce_acks
        self._outbox: list[bytes] = []
        self._outbox_since = 0.0
        self._waiting = 0
        self._beater: threading.Thread | None = None
        self._stop_beating = threading.Event()

    def __repr__(self) -> str:
        where = "not connected" if self._broker is None or self._sock is None else self._broker
        return f"<stomp_sync.Client {self._uri} ({where})>"

    # -- what the caller can see ---------------------------------------------------------------

    @property
    def uri(self) -> FailoverUri:
        """The failover URI the client follows."""
        return self._uri

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up (CONNECTED received, socket open)."""
        return self._sock is not None and self._session.state is State.CONNECTED

    @property
    def broker(self) -> Broker | None:
        """The broker of the current connection, or ``None``."""
        return self._broker if self._sock is not None else None

    @property
    def connected(self) -> Connected | None:
        """The CONNECTED of the current connection (version, server, heart-beats), or ``None``."""
        return self._connected if self._sock is not None else None

    @property
    def version(self) -> Version | None:
        """The negotiated STOMP version of the current connection, or ``None``."""
        return self._session.version

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """The subscriptions, by id, that are replayed after a reconnection."""
        return self._session.subscriptions

    @property
    def session(self) -> Session:
        """The underlying sans-I/O session (read its state; do not drive it)."""
        return self._session

    # -- connecting and disconnecting ----------------------------------------------------------

    def connect(self, *, timeout: float | None = None) -> Connected:
        """Connect through the failover policy and return the broker's CONNECTED.

        Each call starts a fresh startup phase of the policy. When it fails, the client
        stays disconnected (later calls raise :class:`ClientError` until the next
        ``connect``); it never reconnects behind the caller's back.

        Args:
            timeout: Seconds allowed in all, over every attempt and delay; ``None`` lets
                the policy decide (its ``startupMaxReconnectAttempts``; ActiveMQ's
                default, kept here, is to try for ever, logging each failure as a
                warning). An attempt under way finishes first (each is bounded by
                *connect_timeout* and *connected_timeout*).

        Raises:
            ConnectFailed: the policy gave up (its cause names the brokers tried).
            WaitTimeout: *timeout* passed first.
            BrokerError: a broker refused the connection with ERROR (bad
                credentials, unknown virtual host, no common version): not retried.
            ClientError: already connected.
        """
        _check_timeout("timeout", timeout, optional=True)
        with self._lock:
            if self._sock is not None:
                msg = f"already connected to {self._broker}"
                raise ClientError(msg)
            self._user_closed = False
            self._errors.clear()
            # Every connect() is a fresh startup phase of the policy, with its own budget.
            self._pending_attempt = None
            self._policy = ReconnectPolicy(self._uri, rng=self._rng)
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                connected = self._establish(deadline)
            except BaseException:
                self._user_closed = True  # no reconnecting behind the caller's back
                self._pending_attempt = None
                raise
            if connected is None:
                assert timeout is not None
                self._user_closed = True
                raise WaitTimeout(f"connection through {self._uri}", timeout)
            if self._heart_beat_thread and self._beater is None:
                self._start_beater()
            return connected

    def disconnect(self, *, timeout: float | None = None) -> None:
        """Disconnect gracefully: DISCONNECT with a receipt, wait for it, close.

        Once the receipt is in, the broker has processed every frame sent before.
        Without a connection it only stops reconnecting. Messages received but not
        yet returned by :meth:`receive` stay readable if their subscription is
        ``auto``; the others could no longer be acknowledged and are dropped (the
        broker redelivers them).

        Args:
            timeout: Seconds to wait for the receipt (default *disconnect_timeout*).

        Raises:
            WaitTimeout: no receipt in time (the connection is closed all the same).
            ConnectionLost: the connection dropped before the receipt came.
            BrokerError: an ERROR arrived first (the connection is closed all the same).
        """
        _check_timeout("timeout", timeout, optional=True)
        with self._lock:
            self._user_closed = True
            self._pending_attempt = None
            try:
                if self._sock is None or self._session.state is not State.CONNECTED:
                    return
                wait = self._disconnect_timeout if timeout is None else timeout
                receipt = self._new_receipt()
                self._disconnect_confirmed = False
                self._write_action(self._session.disconnect(receipt=receipt), "DISCONNECT")
                deadline = time.monotonic() + wait
                done = self._wait(
                    lambda: self._disconnect_confirmed or self._sock is None, deadline
                )
                if not done:
                    raise WaitTimeout(f"RECEIPT for DISCONNECT from {self._broker}", wait)
                if not self._disconnect_confirmed:
                    msg = f"the connection to {self._broker} was lost before DISCONNECT's receipt"
                    raise ConnectionLost(msg) from self._loss
            finally:
                self._close_socket(ConnectionLost("disconnected by the client"))
                self._stop_beater()

    def close(self) -> None:
        """Close the connection at once, without DISCONNECT, and stop reconnecting.

        Frames written but not yet processed by the broker may be lost; unacknowledged
        messages are redelivered by the broker. Prefer :meth:`disconnect`.
        """
        with self._lock:
            self._user_closed = True
            self._pending_attempt = None
            self._close_socket(ConnectionLost("closed by the client"))
            self._stop_beater()

    def __enter__(self) -> Client:
        """Connect (unless connected) and return the client."""
        if self._sock is None:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Disconnect gracefully; when the block raised, a failing disconnect is only logged."""
        if exc is None:
            self.disconnect()
            return
        try:
            self.disconnect()
        except ClientError as failure:
            logger.warning("disconnect after an error in the with-block failed: %s", failure)

    # -- the protocol ----------------------------------------------------------------------------

    def send(
        self,
        destination: str,
        body: bytes = b"",
        *,
        headers: Headers | None = None,
        content_length: bool = True,
        transaction: str | None = None,
        receipt: bool = False,
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
            receipt: Wait until the broker confirms it has the message.
            timeout: Seconds to wait for the receipt (default *receipt_timeout*).

        Raises:
            WaitTimeout: no receipt in time.
            ConnectionLost: the write failed, or the connection dropped before the
                receipt (the message may or may not be stored), or *transaction* was
                rolled back by a lost connection.
            BrokerError: the broker answered with ERROR.
            stomp_session.LocalProtocolError: a frame the version cannot carry.
        """
        with self._lock:
            self._ready()
            self._check_transaction(transaction)
            receipt_id = self._new_receipt() if receipt else None
            data = self._session.send(
                destination,
                body,
                headers=headers,
                content_length=content_length,
                transaction=transaction,
                receipt=receipt_id,
            )
            self._write_action(data, f"SEND to {destination}")
            if receipt_id is not None:
                self._await_receipt(receipt_id, timeout, f"SEND to {destination}")

    def subscribe(
        self,
        destination: str,
        *,
        ack: AckMode = "auto",
        id: str | None = None,
        headers: Headers | None = None,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe to *destination*; the subscription is replayed after every reconnection.

        Args:
            destination: What to subscribe to.
            ack: ``"auto"``, ``"client"`` or ``"client-individual"``.
            id: The subscription id (generated when not given).
            headers: Extra headers (``selector``, ``activemq.prefetchSize``, ``prefetch-count``...).
            receipt: Wait until the broker confirms the subscription.
            timeout: Seconds to wait for the receipt (default *receipt_timeout*).
        """
        with self._lock:
            self._ready()
            receipt_id = self._new_receipt() if receipt else None
            subscription, data = self._session.subscribe(
                destination, id=id, ack=ack, headers=headers, receipt=receipt_id
            )
            self._write_action(data, f"SUBSCRIBE to {destination}")
            if receipt_id is not None:
                self._await_receipt(receipt_id, timeout, f"SUBSCRIBE to {destination}")
            return subscription

    def unsubscribe(
        self,
        subscription: Subscription | str,
        *,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> None:
        """End a subscription (by record or id); it is no longer replayed.

        Without a connection it is only forgotten (the broker dropped it with the
        connection).
        """
        with self._lock:
            self._raise_errors()
            if self._sock is None or self._session.state is not State.CONNECTED:
                self._session.unsubscribe(subscription)
                return
            receipt_id = self._new_receipt() if receipt else None
            data = self._session.unsubscribe(subscription, receipt=receipt_id)
            self._write_action(data, "UNSUBSCRIBE")
            if receipt_id is not None:
                self._await_receipt(receipt_id, timeout, "UNSUBSCRIBE")

    def ack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Acknowledge *message* (the headers the negotiated version needs are the session's job).

        Raises:
            stomp_session.LocalProtocolError: the message came on an earlier connection
                (the broker redelivers it on this one), or its subscription is ``auto``.
        """
        self._acknowledge(
            message, transaction=transaction, receipt=receipt, timeout=timeout, nack=False
        )

    def nack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Refuse *message* (STOMP 1.1 and later); what follows is the broker's policy.

        RabbitMQ redelivers it at once; ActiveMQ sends a persistent message to its
        dead-letter queue.

        Raises:
            stomp_session.LocalProtocolError: on STOMP 1.0, or as for :meth:`ack`.
        """
        self._acknowledge(
            message, transaction=transaction, receipt=receipt, timeout=timeout, nack=True
        )

    def _acknowledge(
        self,
        message: MessageReceived,
        *,
        transaction: str | None,
        receipt: bool,
        timeout: float | None,
        nack: bool,
    ) -> None:
        with self._lock:
            self._ready()
            self._check_transaction(transaction)
            receipt_id = self._new_receipt() if receipt else None
            act = self._session.nack if nack else self._session.ack
            data = act(message, transaction=transaction, receipt=receipt_id)
            what = "NACK" if nack else "ACK"
            if receipt_id is None and self._inbox and self._coalesce_acks:
                # More messages wait in the client: the caller comes back soon; write
                # this ACK with the next write, wait or read (at most _ACK_DELAY later).
                outbox = self._outbox
                if not outbox:
                    self._outbox_since = time.monotonic()
                outbox.append(data)
                if len(outbox) >= _ACK_BATCH:
                    self._flush()
                return
            self._write_action(data, what)
            if receipt_id is not None:
                self._await_receipt(receipt_id, timeout, what)

    def begin(self, transaction: str | None = None) -> str:
        """Begin a transaction and return its id (generated when not given).

        SENDs, ACKs and NACKs that name it take effect together at :meth:`commit`,
        or never at :meth:`abort`. A lost connection rolls it back.
        """
        with self._lock:
            self._ready()
            transaction, data = self._session.begin(transaction)
            self._aborted.discard(transaction)
            self._write_action(data, f"BEGIN {transaction}")
            return transaction

    def commit(
        self, transaction: str, *, receipt: bool = True, timeout: float | None = None
    ) -> None:
        """Commit *transaction*; by default wait for the broker's receipt, which proves it.

        Raises:
            ConnectionLost: the connection (and the transaction with it) was lost.
            WaitTimeout: no receipt in time.
            BrokerError: the broker refused it.
        """
        self._end(transaction, receipt=receipt, timeout=timeout, commit=True)

    def abort(
        self, transaction: str, *, receipt: bool = False, timeout: float | None = None
    ) -> None:
        """Roll *transaction* back.

        When the connection was lost the broker already rolled it back, and this
        returns quietly.
        """
        self._end(transaction, receipt=receipt, timeout=timeout, commit=False)

    def _end(self, transaction: str, *, receipt: bool, timeout: float | None, commit: bool) -> None:
        command = "COMMIT" if commit else "ABORT"
        with self._lock:
            if transaction in self._aborted:
                if not commit:
                    self._aborted.discard(transaction)
                    return
                msg = (
                    f"cannot commit {transaction!r}: the connection was lost and the broker "
                    "rolled it back"
                )
                raise ConnectionLost(msg) from self._loss
            self._ready()
            receipt_id = self._new_receipt() if receipt else None
            end = self._session.commit if commit else self._session.abort
            data = end(transaction, receipt=receipt_id)
            self._write_action(data, f"{command} {transaction}")
            if receipt_id is not None:
                self._await_receipt(receipt_id, timeout, f"{command} {transaction}")

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

        Returns ``None`` when none came in time; the connection stays up. Heart-beats
        are serviced and a lost connection is reconnected (auto-reconnect) while it
        waits.

        Raises:
            BrokerError: the broker sent an ERROR.
            ConnectionLost: the connection was lost and auto-reconnect is off.
            ConnectFailed: reconnecting failed for good.
        """
        inbox = self._inbox
        with self._lock:
            if inbox and not self._errors:
                if self._outbox and time.monotonic() - self._outbox_since >= _ACK_DELAY:
                    self._flush()
                return inbox.popleft()
            _check_timeout("timeout", timeout, optional=True)
            self._raise_errors()
            self._require_open()
            deadline = None if timeout is None else time.monotonic() + timeout
            self._wait(lambda: bool(inbox), deadline, reconnect=True)
            return inbox.popleft() if inbox else None

    def messages(self, *, idle_timeout: float | None = None) -> Iterator[MessageReceived]:
        """Yield messages as they arrive; stop after *idle_timeout* seconds without one.

        With ``idle_timeout=None`` it never stops by itself: break out of the loop.
        """
        while (message := self.receive(idle_timeout)) is not None:
            yield message

    # -- internals: readiness ----------------------------------------------------------------

    def _require_open(self) -> None:
        if self._user_closed:
            msg = "the client is not connected: call connect()"
            raise ClientError(msg)

    def _ready(self) -> None:
        """Before an action: raise a pending ERROR, reconnect if needed, service due timers."""
        self._raise_errors()
        if self._sock is None:
            self._require_open()
            self._wait(lambda: self._sock is not None, None, reconnect=True)
        deadline = self._session.next_deadline()
        if deadline is not None and time.monotonic() >= deadline:
            self._service()
            if self._sock is None:
                self._ready()

    def _raise_errors(self) -> None:
        if self._errors:
            raise self._broker_error(self._errors.popleft())

    def _broker_error(self, event: ErrorReceived, context: str | None = None) -> BrokerError:
        return BrokerError(event.error, context=context)

    def _check_transaction(self, transaction: str | None) -> None:
        if transaction is not None and transaction in self._aborted:
            msg = (
                f"the transaction {transaction!r} was rolled back by the broker when the "
                "connection was lost"
            )
            raise ConnectionLost(msg) from self._loss

    def _new_receipt(self) -> str:
        return f"receipt-{next(self._receipt_ids)}"

    # -- internals: waiting ------------------------------------------------------------------

    def _wait(
        self, done: Callable[[], bool], deadline: float | None, *, reconnect: bool = False
    ) -> bool:
        """Do I/O until *done*, the deadline, or (without *reconnect*) a lost connection."""
        while not done():
            self._raise_errors()
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if self._sock is None:
                if not reconnect:
                    return done()
                self._reconnect(deadline)
                continue
            self._io_once(deadline)
        return True

    def _io_once(self, deadline: float | None) -> None:
        """Wait for data (lock released) until the deadline or the next timer; act on both."""
        sock = self._sock
        assert sock is not None
        wake = self._session.next_deadline()
        if deadline is not None and (wake is None or deadline < wake):
            wake = deadline
        if self._outbox:
            self._flush()
            if self._sock is not sock:
                return
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not pending:
            timeout = None if wake is None else max(0.0, wake - time.monotonic())
            self._waiting += 1
            self._lock.release()
            try:
                ready = self._readable.select(timeout)
            finally:
                self._lock.acquire()
                self._waiting -= 1
            pending = bool(ready)
        if pending and self._sock is sock:
            self._read(sock)
        self._check_timer()

    def _service(self) -> None:
        """Write deferred ACKs, read whatever is waiting (without blocking), act on a due timer."""
        if self._outbox:
            self._flush()
        sock = self._sock
        if sock is not None:
            while self._sock is sock and self._read(sock):
                pass
        self._check_timer()

    def _check_timer(self) -> None:
        wake = self._session.next_deadline()
        if wake is not None and self._sock is not None:
            now = time.monotonic()
            if now >= wake:
                self._apply(self._session.handle_timer(now))

    def _read(self, sock: socket.socket) -> bool:
        """Read once without blocking; return whether bytes came."""
        try:
            data = sock.recv(_READ_SIZE)
        except _WOULD_BLOCK:
            return False
        except OSError as exc:
            self._drop(ConnectionLost(f"reading from {self._broker} failed: {exc}"), exc)
            return False
        if not data:
            self._drop(ConnectionLost(f"{self._broker} closed the connection"))
            return False
        self._apply(self._session.receive_data(data, time.monotonic()))
        return True

    def _apply(self, out: Output) -> None:
        """Act on what the session said: write, keep the events, close."""
        cause: BaseException | None = None
        for event in out.events:
            if type(event) is MessageReceived:
                self._inbox.append(event)
            else:
                cause = self._dispatch(event) or cause
        if out.data and self._sock is not None:
            try:
                self._write(out.data)
            except (OSError, WaitTimeout) as exc:
                self._drop(ConnectionLost(f"writing to {self._broker} failed: {exc}"), exc)
        if out.close:
            self._drop(cause or ConnectionLost(f"the conversation with {self._broker} ended"))

    def _dispatch(self, event: Event) -> BaseException | None:
        match event:
            case MessageReceived():
                self._inbox.append(event)
                return None
            case Connected():
                self._connected = event
                return None
            case ReceiptReceived(receipt_id=receipt_id):
                self._receipts.add(receipt_id)
                return None
            case ErrorReceived(command=command):
                logger.warning("ERROR from %s: %s", self._broker, event.message)
                if command is not None and event.receipt_id is not None:
                    self._receipt_errors[event.receipt_id] = event
                else:
                    self._errors.append(event)
                return ConnectionLost(f"{self._broker} sent ERROR and closed: {event.message}")
            case Disconnected():
                self._disconnect_confirmed = True
                return ConnectionLost("disconnected by the client")
            case PeerDead(silent_for=silent, limit=limit):
                return ConnectionLost(
                    f"{self._broker} was silent for {silent:.1f} s "
                    f"(the heart-beat limit is {limit:.1f} s)"
                )
            case ProtocolFailure(error=error):
                return ConnectionLost(f"{self._broker} broke the protocol: {error}")
            case ReceiptLost(receipt_id=receipt_id):
                self._lost_receipts.add(receipt_id)
                return None
            case TransactionAborted(transaction=transaction):
                self._aborted.add(transaction)
                return None

    def _await_receipt(self, receipt: str, timeout: float | None, what: str) -> None:
        _check_timeout("timeout", timeout, optional=True)
        wait = self._receipt_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait

        def arrived() -> bool:
            return (
                receipt in self._receipts
                or receipt in self._receipt_errors
                or receipt in self._lost_receipts
            )

        if not self._wait(arrived, deadline):
            self._close_socket(ConnectionLost(f"no RECEIPT for {what} within {wait:g} s"))
            raise WaitTimeout(f"RECEIPT for {what} from {self._broker}", wait)
        self._receipts.discard(receipt)
        if (error := self._receipt_errors.pop(receipt, None)) is not None:
            raise self._broker_error(error, what)
        if receipt in self._lost_receipts:
            self._lost_receipts.discard(receipt)
            msg = f"the connection was lost before the RECEIPT for {what}"
            raise ConnectionLost(msg) from self._loss

    # -- internals: writing ------------------------------------------------------------------

    def _flush(self) -> None:
        """Write the deferred ACKs; a failure ends the connection (the broker redelivers)."""
        outbox = self._outbox
        data = b"".join(outbox)
        outbox.clear()
        try:
            self._write(data)
        except (OSError, WaitTimeout) as exc:
            self._drop(ConnectionLost(f"writing ACKs to {self._broker} failed: {exc}"), exc)

    def _write_action(self, data: bytes, what: str) -> None:
        if self._outbox:  # deferred ACKs go first, in order
            self._outbox.append(data)
            data = b"".join(self._outbox)
            self._outbox.clear()
        try:
            self._write(data)
        except WaitTimeout as exc:
            self._drop(ConnectionLost(f"writing {what} to {self._broker} timed out"), exc)
            raise
        except OSError as exc:
            self._drop(ConnectionLost(f"writing {what} to {self._broker} failed: {exc}"), exc)
            msg = f"{what} was not (fully) written: {exc}"
            raise ConnectionLost(msg) from exc

    def _write(self, data: bytes) -> None:
        sock = self._sock
        assert sock is not None
        try:
            sent = sock.send(data)
        except _WOULD_BLOCK:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        deadline = time.monotonic() + self._write_timeout
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(
                    f"progress writing {len(data)} bytes to {self._broker}", self._write_timeout
                )
            if not self._writable.select(remaining):
                continue
            try:
                view = view[sock.send(view) :]
            except _WOULD_BLOCK:
                continue

    # -- internals: connections ----------------------------------------------------------------

    def _drop(self, cause: BaseException, origin: BaseException | None = None) -> None:
        """The connection is over: close the socket, tell the session, remember why."""
        if self._sock is None:
            return
        if origin is not None:
            cause.__cause__ = origin
        if not self._user_closed:
            logger.warning("connection to %s lost: %s", self._broker, cause)
        self._close_socket(cause)

    def _close_socket(self, cause: BaseException) -> None:
        sock, self._sock = self._sock, None
        self._outbox.clear()  # ACKs for this connection mean nothing on the next
        if sock is None:
            return
        self._loss = cause
        with contextlib.suppress(KeyError, ValueError):
            self._readable.unregister(sock)
        with contextlib.suppress(KeyError, ValueError):
            self._writable.unregister(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        for event in self._session.connection_lost(time.monotonic()).events:
            self._dispatch(event)
        discarded = self._discard_unackable()
        if discarded:
            self._discarded += discarded
            logger.info(
                "dropped %d received messages that can no longer be acknowledged; "
                "the broker redelivers them",
                discarded,
            )

    def _establish(self, deadline: float | None) -> Connected | None:
        """Take attempts from the policy until one connects; ``None`` when the deadline passes."""
        while True:
            if self._pending_attempt is None:
                try:
                    attempt = next(self._policy)
                except BrokersExhausted as exc:
                    raise ConnectFailed(str(exc)) from exc
                self._pending_attempt = (attempt, time.monotonic() + attempt.delay)
            attempt, due = self._pending_attempt
            now = time.monotonic()
            if deadline is not None and due > deadline:
                self._sleep(deadline - now)
                return None
            self._sleep(due - now)
            self._pending_attempt = None
            connected = self._attempt(attempt)
            if connected is not None:
                return connected
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self._lock.release()
        try:
            time.sleep(seconds)
        finally:
            self._lock.acquire()

    def _attempt(self, attempt: Attempt) -> Connected | None:
        broker = attempt.broker
        logger.debug("%s", attempt)
        if broker.scheme == "ssl" and self._ssl_context is not None:
            warn_if_unverified(self._ssl_context)
        try:
            sock = open_socket(broker, timeout=self._connect_timeout, ssl_context=self._ssl_context)
        except (OSError, WaitTimeout) as exc:
            logger.warning("cannot connect to %s (%s): %s", broker, attempt, exc)
            self._policy.failed(exc)
            return None
        self._sock = sock
        self._broker = broker
        self._readable.register(sock, selectors.EVENT_READ)
        self._writable.register(sock, selectors.EVENT_WRITE)
        self._connected = None
        self._receipts.clear()
        self._receipt_errors.clear()
        self._disconnect_confirmed = False
        login, passcode = broker.credentials(self._login, self._passcode)
        data = self._session.connect(
            time.monotonic(),
            host=broker.virtual_host(self._vhost),
            login=login,
            passcode=passcode,
        )
        try:
            self._write(data)
            done = self._wait(
                lambda: self._connected is not None or self._sock is None,
                time.monotonic() + self._connected_timeout,
            )
        except BrokerError:
            self._close_socket(ConnectionLost(f"{broker} refused the connection"))
            raise
        except (OSError, WaitTimeout) as exc:
            self._close_socket(ConnectionLost(f"connecting to {broker} failed: {exc}"))
            self._policy.failed(exc)
            return None
        if self._errors:  # an ERROR that also closed the conversation: a refusal, not retried
            self._close_socket(ConnectionLost(f"{broker} refused the connection"))
            raise self._broker_error(self._errors.popleft(), f"CONNECT to {broker}")
        connected = self._latest_connected()
        if connected is None or self._sock is None:
            failure: BaseException = (
                WaitTimeout(f"CONNECTED from {broker}", self._connected_timeout)
                if not done
                else self._loss or ConnectionLost(f"{broker} closed the connection")
            )
            logger.warning("no connection to %s (%s): %s", broker, attempt, failure)
            self._close_socket(ConnectionLost(str(failure)))
            self._policy.failed(failure)
            return None
        self._policy.connected()
        logger.info(
            "connected to %s: STOMP %s, server %s, heart-beat %s",
            broker,
            connected.version.value,
            connected.server,
            connected.heart_beat,
        )
        return connected

    def _latest_connected(self) -> Connected | None:
        """The CONNECTED received since the attempt began (read after I/O that may set it)."""
        return self._connected

    def _reconnect(self, deadline: float | None) -> None:
        """Reconnect after a loss (auto-reconnect), or raise ConnectionLost."""
        cause = self._loss or ConnectionLost("the connection was lost")
        if self._user_closed:
            self._require_open()
        if not self._auto_reconnect:
            msg = f"the connection was lost: {cause}"
            raise ConnectionLost(msg) from cause
        discarded, self._discarded = self._discarded, 0
        aborted = tuple(sorted(self._aborted))
        lost = tuple(sorted(self._lost_receipts))
        connected = self._establish(deadline)
        if connected is None:
            return
        assert self._broker is not None
        info = Reconnected(
            broker=self._broker,
            connected=connected,
            cause=cause,
            aborted_transactions=aborted,
            lost_receipts=lost,
            discarded=discarded,
        )
        if self._on_reconnect is None:
            logger.warning(
                "reconnected to %s after: %s (resubscribed %d, discarded %d unacked messages "
                "for redelivery, %d transactions rolled back, %d receipts lost)",
                info.broker,
                cause,
                len(connected.resubscribed),
                discarded,
                len(aborted),
                len(lost),
            )
            return
        self._lock.release()
        try:
            self._on_reconnect(info)
        finally:
            self._lock.acquire()

    def _discard_unackable(self) -> int:
        """Drop queued messages the broker redelivers (those of acknowledging subscriptions)."""
        inbox = self._inbox
        kept = [m for m in inbox if m.subscription is not None and m.subscription.ack == "auto"]
        discarded = len(inbox) - len(kept)
        if discarded:
            inbox.clear()
            inbox.extend(kept)
        return discarded

    # -- internals: the heart-beat thread ----------------------------------------------------

    def _start_beater(self) -> None:
        self._stop_beating.clear()
        self._beater = threading.Thread(
            target=self._beat, name="stomp-sync-heart-beat", daemon=True
        )
        self._beater.start()

    def _stop_beater(self) -> None:
        beater, self._beater = self._beater, None
        if beater is None:
            return
        self._stop_beating.set()
        if beater is not threading.current_thread():
            self._lock.release()
            try:
                beater.join(timeout=5.0)
            finally:
                self._lock.acquire()

    def _beat(self) -> None:
        """The heart-beat thread: while no call is in progress, do what the timers ask."""
        while not self._stop_beating.is_set():
            with self._lock:
                if self._sock is not None and not self._waiting:
                    self._service()
                wake = self._session.next_deadline()
            pause = (
                _BEATER_IDLE
                if wake is None
                else min(_BEATER_IDLE, max(0.0, wake - time.monotonic()))
            )
            self._stop_beating.wait(pause)


__all__ = ["DEFAULT_TIMEOUT", "Client", "Reconnected"]

"""The life of the client's connections: attempts, CONNECTED, failures, losses, the end."""

from __future__ import annotations

import enum
from typing import Final

from stomp_core._errors import (
    BrokerError,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    InvalidRequest,
    NotConnected,
)
from stomp_core._events import (
    ClientEnded,
    CloseTransport,
    ConnectionDropped,
    ConnectionMade,
    OpenTransport,
    RequestDone,
)
from stomp_core._model import Reconnected
from stomp_core._requests import Requests
from stomp_core._state import CLIENT_TRANSITIONS, ClientInput, ClientState
from stomp_core._websocket import new_codec
from stomp_failover import (
    Attempt,
    Broker,
    BrokersExhausted,
    FailoverUri,
    RandomSource,
    ReconnectPolicy,
)
from stomp_session import Connected, ReceiptLost, State, TransactionAborted

__all__ = ["Connection", "Phase"]


class Phase(enum.Enum):
    """Where the current connection attempt is."""

    WAITING = "waiting"  # the policy's delay
    OPENING = "opening"  # the adapter opens the transport
    UPGRADE = "upgrade"  # the WebSocket upgrade request written, its answer awaited
    HANDSHAKE = "handshake"  # CONNECT written, CONNECTED awaited
    UP = "up"  # CONNECTED: the connection serves


# Module constants: an enum member read from its class costs about five global lookups.
_UP: Final = Phase.UP
_HANDSHAKE: Final = Phase.HANDSHAKE


class Connection(Requests):
    """The part of :class:`~stomp_core.ClientCore` that leads its connections' life.

    It makes the attempts the failover policy says (after its delay: open the
    transport, upgrade to WebSocket for a ``ws://`` broker, write CONNECT, await
    CONNECTED, each under its timeout), takes the transport's reports, and settles what
    a failed attempt, a lost connection or the end of the client leaves behind: the
    session's pending receipts and open transactions, the unwritten output, the
    messages that can no longer be acknowledged, and the report of the next
    :class:`~stomp_core.Reconnected`.
    """

    # Set by ClientCore.__init__.
    _uri: FailoverUri
    _rng: RandomSource | None
    _policy: ReconnectPolicy
    _phase: Phase | None
    _attempt: Attempt | None
    _attempt_deadline: float
    _broker: Broker | None
    _connected: Connected | None
    _refused: BrokerError | None
    _loss: ClientError | None
    _last_loss: ClientError | None
    _aborted_report: list[str]
    _lost_report: list[str]
    _goodbye: str | None
    _goodbye_deadline: float | None

    def _step(self, given: ClientInput) -> None:
        try:
            state = CLIENT_TRANSITIONS[self._state, given]
        except KeyError:
            msg = f"{given.value} is not allowed while the client is {self._state.value}"
            raise InvalidRequest(msg) from None
        if state is not self._state:
            self._log.debug("client %s -> %s on %s", self._state.value, state.value, given.value)
            self._state = state

    def start(self, now: float) -> None:
        """Begin connecting (from :attr:`ClientState.IDLE`, or anew after CLOSED).

        Raises:
            InvalidRequest: the client is already connecting or connected.
        """
        if self._state is ClientState.CLOSED:
            self._policy = ReconnectPolicy(self._uri, rng=self._rng)
        elif self._state is not ClientState.IDLE:
            msg = f"connect() was already called: the client is {self._state.value}"
            raise InvalidRequest(msg)
        self._step(ClientInput.START)
        self._cause = None
        self._errors.clear()
        self._aborted.clear()
        self._next_attempt(now)

    def _next_attempt(self, now: float) -> None:
        try:
            attempt = next(self._policy)
        except BrokersExhausted as exhausted:
            self._end(ConnectFailed(exhausted), ClientInput.GIVE_UP)
            return
        self._attempt = attempt
        self._phase = Phase.WAITING
        self._attempt_deadline = now + attempt.delay
        if attempt.delay > 0:
            self._log.info("waiting %.3f s before %s", attempt.delay, attempt)
            return
        self._open(now)

    def _open(self, now: float) -> None:
        attempt = self._attempt
        assert attempt is not None
        self._phase = Phase.OPENING
        self._broker = attempt.broker
        self._ws_in = self._ws_out = None
        timeout = self._settings.connect_timeout
        self._attempt_deadline = now + timeout
        self._log.info("connecting: %s", attempt)
        self._events.append(OpenTransport(broker=attempt.broker, attempt=attempt, timeout=timeout))

    def transport_opened(self, now: float) -> None:
        """The transport asked for by :class:`OpenTransport` is open: CONNECT goes out.

        For a WebSocket broker the upgrade request goes out first, and CONNECT once the
        upgrade is accepted (within the attempt's ``connect_timeout``).
        """
        if self._phase is not Phase.OPENING:
            return
        broker = self._broker
        assert broker is not None
        if broker.websocket:
            settings = self._settings
            codec = new_codec(broker, settings.versions, settings.websocket_headers)
            self._ws_in = self._ws_out = codec
            self._phase = Phase.UPGRADE
            self._append_raw(codec.handshake(), now)
            return
        self._send_connect(now)

    def _send_connect(self, now: float) -> None:
        broker = self._broker
        assert broker is not None
        login, passcode = broker.credentials(self._settings.login, self._settings.passcode)
        data = self._session.connect(
            now,
            host=broker.virtual_host(self._settings.vhost),
            login=login,
            passcode=passcode,
        )
        self._phase = _HANDSHAKE
        self._attempt_deadline = now + self._settings.connected_timeout
        self._write(data, now)

    def transport_failed(self, error: BaseException, now: float) -> None:
        """The transport could not be opened (refused, name unknown, TLS failed, ...)."""
        if self._phase is not Phase.OPENING:
            return
        self._attempt_failed(error, now)

    def _attempt_failed(self, cause: BaseException, now: float) -> None:
        self._log.warning(
            "cannot connect to %s (%s): %s", self._broker, self._attempt, _describe(cause)
        )
        self._reset_transport(now)
        if self._refused is not None:
            refused, self._refused = self._refused, None
            self._log.error("%s refused the connection: %s", self._broker, refused)
            self._end(refused, ClientInput.GIVE_UP)
            return
        self._policy.failed(cause)
        self._step(ClientInput.LOST)
        self._next_attempt(now)

    def _on_connected(self, event: Connected) -> None:
        broker = self._broker
        assert broker is not None
        self._phase = _UP
        self._connected = event
        self._attempt = None
        self._policy.connected()
        self._step(ClientInput.CONNECTED)
        self.counters.connections += 1
        for lost in event.not_replayed:
            self._log.error(
                "subscription %r to %r cannot be made in STOMP %s: it is removed",
                lost.id,
                lost.destination,
                event.version.value,
            )
        self._log.info(
            "connected to %s: STOMP %s, server %s, heart-beat %s, %d subscription(s) replayed",
            broker,
            event.version.value,
            event.server,
            event.heart_beat,
            len(event.resubscribed),
        )
        report: Reconnected | None = None
        if self._loss is not None:
            self.counters.reconnects += 1
            report = Reconnected(
                broker=broker,
                connected=event,
                cause=self._loss,
                aborted_transactions=tuple(sorted(self._aborted_report)),
                lost_receipts=tuple(self._lost_report),
                discarded=self._discarded,
            )
        self._loss = None
        self._aborted_report = []
        self._lost_report = []
        self._discarded = 0
        self._events.append(ConnectionMade(broker=broker, connected=event, reconnected=report))

    def transport_closed(self, now: float, error: BaseException | None = None) -> None:
        """The transport ended (for any reason). Harmless when the core closed it itself."""
        phase = self._phase
        if phase is not None and phase is not Phase.WAITING:
            self._events.append(CloseTransport(abort=True))
        if phase in (Phase.OPENING, Phase.UPGRADE, _HANDSHAKE):
            # What ended the attempt (a TLS verification error, say) is its cause as is.
            cause = error or ConnectionLost(f"{self._broker} closed the connection")
            self._attempt_failed(cause, now)
        elif phase is _UP:
            reason = f"{self._broker} closed the connection" + (f": {error}" if error else "")
            self._lost(ConnectionLost(reason, cause=error), now)

    def _reset_transport(self, now: float) -> None:
        """Forget the transport: the session learns it is gone; its output is dropped."""
        self._phase = None
        self._clear_output()
        if self._session.state is not State.DISCONNECTED:
            self._settle_session_loss(now, None)

    def _drop(self, cause: ClientError, now: float) -> None:
        """The core ends the connection: close it at once, then handle the loss."""
        self._events.append(CloseTransport(abort=True))
        if self._phase is _UP:
            self._lost(cause, now)
        elif self._phase in (Phase.OPENING, Phase.UPGRADE, _HANDSHAKE):
            self._attempt_failed(cause, now)

    def _lost(self, cause: ClientError, now: float) -> None:
        """The connection that served is gone: settle what depended on it, then reconnect."""
        broker = self._broker
        assert broker is not None
        self._phase = None
        self._last_loss = cause
        self._clear_output()
        self._remember_acks()
        self._settle_session_loss(now, cause)
        discarded = self._discard_unackable()
        self._events.append(ConnectionDropped(broker=broker, cause=cause))
        if self._state is ClientState.DISCONNECTING:
            self._log.warning("the connection to %s ended before DISCONNECT's receipt", broker)
            self._end(None, ClientInput.LOST)
            return
        if self._state is not ClientState.CONNECTED:
            return
        self._log.warning("connection to %s lost: %s", broker, cause)
        if discarded:
            self._log.info(
                "dropped %d received messages that can no longer be acknowledged; "
                "the broker delivers them again",
                discarded,
            )
        if not self._settings.auto_reconnect:
            self._end(ConnectionLost(f"the connection was lost: {cause}", cause=cause))
            return
        self._loss = cause
        self._policy.failed(cause)
        self._step(ClientInput.LOST)
        self._next_attempt(now)

    def _settle_session_loss(self, now: float, cause: ClientError | None) -> None:
        for event in self._session.connection_lost(now).events:
            if type(event) is ReceiptLost:
                receipt_id = event.receipt_id
                self._lost_report.append(receipt_id)
                waiting = self._waiting.pop(receipt_id, None)
                if waiting is not None:
                    self.counters.receipts_lost += 1
                    reason = (
                        f"the connection to {self._broker} was lost before the RECEIPT "
                        f"for {waiting.what}"
                    )
                    error = ConnectionLost(reason, cause=cause)
                    self._events.append(RequestDone(receipt_id=receipt_id, error=error))
            elif type(event) is TransactionAborted:
                self._aborted.add(event.transaction)
                self._aborted_report.append(event.transaction)
                self._log.warning(
                    "transaction %r was rolled back with the connection", event.transaction
                )

    def _end(self, error: ClientError | None, given: ClientInput = ClientInput.GIVE_UP) -> None:
        self._step(given)
        self._cause = error
        self._attempt = None
        if self._phase is not None:
            self._events.append(CloseTransport(abort=True))
            self._phase = None
        self._clear_output()
        self._goodbye = None
        self._goodbye_deadline = None
        self._end_waiting(error or NotConnected("the client is closed"))
        if error is not None:
            self._log.error("the client ended: %s", error)
        self._events.append(ClientEnded(error=error))


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

"""The sans-I/O client core: every decision a client makes, with time as an input."""

from __future__ import annotations

import dataclasses
import heapq
import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from stomp_core._connection import Connection, Phase
from stomp_core._errors import BrokerError, ClientError, ConnectionLost, NotConnected, WaitTimeout
from stomp_core._events import ClientEnded, CloseTransport, CoreEvent
from stomp_core._model import ClientSettings, Counters
from stomp_core._requests import session_error
from stomp_core._state import ClientInput, ClientState
from stomp_core._trace import trace_in
from stomp_core._websocket import check_websocket_support
from stomp_failover import Attempt, Broker, FailoverUri, RandomSource, ReconnectPolicy
from stomp_frame import Version
from stomp_session import (
    Connected,
    Disconnected,
    ErrorReceived,
    LocalProtocolError,
    MessageReceived,
    PeerDead,
    ProtocolFailure,
    ReceiptReceived,
    Session,
    Subscription,
)

if TYPE_CHECKING:
    from stomp_websocket import Closed, WebSocketCodec

__all__ = ["ClientCore"]


# Module constants: an enum member read from its class costs about five global lookups.
_UP: Final = Phase.UP
_HANDSHAKE: Final = Phase.HANDSHAKE
_CONNECTED: Final = ClientState.CONNECTED


class ClientCore(Connection):
    """One client's life across connections, sans I/O: the adapters only move bytes and wait.

    The adapter (blocking sockets, Twisted, asyncio) feeds it what happens and the
    time, and does what it says:

    * :meth:`start` begins connecting; :meth:`next_event` then yields
      :class:`~stomp_core.OpenTransport`: open it and report :meth:`transport_opened`
      or :meth:`transport_failed`; report bytes read with :meth:`receive_data` and the
      end of a transport with :meth:`transport_closed`;
    * every action (:meth:`send`, :meth:`subscribe`, :meth:`ack`, ...) puts its bytes
      in the one outbound buffer: write :meth:`pending_output` and report
      :meth:`output_written` (or take it all with :meth:`data_to_send`);
    * :meth:`next_deadline` says when to call :meth:`handle_timer`: attempts and their
      timeouts, heart-beats, receipt deadlines, a stalled write, coalesced ACKs;
    * :meth:`next_event` yields what to do and what was settled, in order;
      received messages wait in the inbox (:meth:`next_message`).

    A misuse raises a :class:`~stomp_core.ClientError` subclass and changes nothing.

    Args:
        uri: The failover URI (or a bare ``tcp://host:port``).
        settings: The client's settings.
        rng: The failover policy's random source.
        logger: The logger to write to (the adapter's own).

    Raises:
        InvalidRequest: settings CONNECT cannot carry, for the client or a broker of the URI.
    """

    def __init__(
        self,
        uri: str | FailoverUri,
        settings: ClientSettings,
        *,
        rng: RandomSource | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._uri = uri if isinstance(uri, FailoverUri) else FailoverUri.parse(uri)
        check_websocket_support(self._uri)
        self._settings = settings
        self._rng = rng
        self._log = logger or logging.getLogger("stomp_core")
        self._policy = ReconnectPolicy(self._uri, rng=rng)
        self._session = self._new_session(settings.vhost, settings.login, settings.passcode)
        for broker in self._uri.brokers:  # refuse what a broker's own settings cannot carry
            login, passcode = broker.credentials(settings.login, settings.passcode)
            self._new_session(broker.virtual_host(settings.vhost), login, passcode)
        self.counters = Counters()
        """What the client did so far (frames, bytes, messages, receipts, reconnects)."""
        self._state = ClientState.IDLE
        self._events: deque[CoreEvent] = deque()
        self._inbox: deque[MessageReceived] = deque()
        self._phase: Phase | None = None
        self._attempt: Attempt | None = None
        self._attempt_deadline = 0.0
        self._broker: Broker | None = None
        self._connected: Connected | None = None
        self._refused: BrokerError | None = None
        self._cause: ClientError | None = None
        # What a loss cost, kept until the Reconnected report says it.
        self._loss: ClientError | None = None
        self._last_loss: ClientError | None = None
        self._aborted_report: list[str] = []
        self._lost_report: list[str] = []
        self._discarded = 0
        self._aborted: set[str] = set()
        self._errors: deque[BrokerError] = deque()
        self._init_outbound()
        self._init_requests()
        self._goodbye: str | None = None
        self._goodbye_deadline: float | None = None
        self._goodbye_timeout = settings.disconnect_timeout

    def _new_session(self, host: str | None, login: str | None, passcode: str | None) -> Session:
        settings = self._settings
        try:
            return Session(
                host=host or self._uri.brokers[0].host,
                login=login,
                passcode=passcode,
                versions=settings.versions,
                heart_beat=settings.heart_beat,
                heart_beat_grace=settings.heart_beat_grace,
                connect_headers=settings.connect_headers or None,
                limits=settings.limits,
            )
        except LocalProtocolError as exc:
            raise session_error(exc) from exc

    def __repr__(self) -> str:
        return f"<ClientCore {self._uri} state={self._state.value} broker={self.broker}>"

    # -- what the adapter and the caller look at ----------------------------------------------

    @property
    def uri(self) -> FailoverUri:
        """The failover URI (``str()`` of it hides passwords)."""
        return self._uri

    @property
    def settings(self) -> ClientSettings:
        """The client's settings."""
        return self._settings

    @property
    def state(self) -> ClientState:
        """Where the client is in its life."""
        return self._state

    @property
    def ready(self) -> bool:
        """Whether a request can be written now (a connection is up and not ending)."""
        return self._state is _CONNECTED

    @property
    def broker(self) -> Broker | None:
        """The broker of the current connection, or ``None``."""
        return self._broker if self._phase is _UP else None

    @property
    def connected(self) -> Connected | None:
        """The current connection's CONNECTED, or ``None`` without one."""
        return self._connected if self._phase is _UP else None

    @property
    def version(self) -> Version | None:
        """The negotiated STOMP version of the current connection, or ``None``."""
        return self._session.version if self._phase is _UP else None

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """The subscriptions by id, replayed after every reconnection (a read-only view)."""
        return self._session.subscriptions

    @property
    def transactions(self) -> frozenset[str]:
        """The ids of the transactions open on the current connection."""
        return self._session.transactions

    @property
    def pending_receipts(self) -> int:
        """How many receipts are awaited."""
        return len(self._waiting)

    @property
    def last_loss(self) -> ClientError | None:
        """Why the last connection that served ended (``None`` before any ended)."""
        return self._last_loss

    @property
    def end_cause(self) -> ClientError | None:
        """Why the client is CLOSED, when it did not end as asked (``None`` otherwise)."""
        return self._cause if self._state is ClientState.CLOSED else None

    # -- data and the clock ----------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Take bytes the transport read at *now*."""
        phase = self._phase
        if phase is not _UP and phase is not _HANDSHAKE and phase is not Phase.UPGRADE:
            return  # late bytes of a transport the core already let go
        counters = self.counters
        counters.bytes_in += len(data)
        codec = self._ws_in
        if codec is not None:
            data = self._ws_receive(codec, data, now)
            if not data:
                return
        out = self._session.receive_data(data, now)
        cause: ClientError | None = None
        inbox = self._inbox
        trace = self._log.isEnabledFor(logging.DEBUG)
        for event in out.events:
            counters.frames_in += 1
            if type(event) is MessageReceived:
                counters.messages_received += 1
                message = self._acked_before(event) if self._acked_on_lost else event
                if trace:
                    trace_in(self._log, message)
                if message.subscription is None:
                    routed = self._route(message)
                    if routed is not None:
                        inbox.append(routed)
                    continue
                inbox.append(message)
                continue
            if trace:
                trace_in(self._log, event)
            if type(event) is ReceiptReceived:
                self._settle(event.receipt_id, None)
            elif type(event) is Connected:
                if self._ws_out is not None and not self._ws_agrees(event, now):
                    return
                self._on_connected(event)
            elif type(event) is ErrorReceived:
                self._on_error(event)
            elif type(event) is Disconnected:
                self._on_disconnected(now)
                return
            elif type(event) is ProtocolFailure:
                cause = ConnectionLost(
                    f"{self._broker} broke the protocol: {event.error}", cause=event.error
                )
        if out.data:
            self._write(out.data, now)
        if out.close and self._phase is not None:
            self._drop(cause or ConnectionLost(f"{self._broker} ended the conversation"), now)

    # -- STOMP over WebSocket (ws:// and wss:// brokers) ---------------------------------------

    def _ws_receive(self, codec: WebSocketCodec, data: bytes, now: float) -> bytes:
        """Decode what a WebSocket transport read; return the STOMP bytes to parse."""
        from stomp_websocket import Closed, Opened, StompData, WebSocketError  # noqa: PLC0415

        try:
            events = codec.receive(data)
        except WebSocketError as exc:
            if self._phase is _UP:
                reason = f"{self._broker} broke the WebSocket protocol: {exc}"
                self._drop(ConnectionLost(reason, cause=exc), now)
            else:  # the refused upgrade is the attempt's cause, as a refused TCP connection
                self._events.append(CloseTransport(abort=True))
                self._attempt_failed(exc, now)
            return b""
        stomp = b""
        for event in events:
            if type(event) is StompData:
                stomp = event.data
            elif type(event) is Opened:
                self._log.debug("WebSocket upgrade accepted, subprotocol %s", event.subprotocol)
                self._send_connect(now)
            elif type(event) is Closed:
                if stomp:  # what came before the close counts first (an ERROR, a RECEIPT)
                    self.counters.bytes_in -= len(stomp)
                    self._ws_in = None
                    self.receive_data(stomp, now)
                    if self._ws_out is codec:
                        self._ws_in = codec
                self._ws_closed(codec, event, now)
                return b""
        answer = codec.data_to_send()
        if answer and self._phase is not None:
            self._append_raw(answer, now)
        return stomp

    def _ws_closed(self, codec: WebSocketCodec, event: Closed, now: float) -> None:
        if self._ws_out is not codec:
            return
        answer = codec.data_to_send()
        if answer:  # the answer to the broker's close frame
            self._append_raw(answer, now)
        if self._phase is None:
            return  # the close that follows DISCONNECT's RECEIPT: the graceful end
        if self._goodbye is not None and event.code == 1000 and self._phase is _UP:
            # A normal close answering DISCONNECT confirms it: RabbitMQ's Web-STOMP closes
            # so, without the RECEIPT (frames are taken in order, so all came before it).
            self._log.debug("%s closed the WebSocket normally after DISCONNECT", self._broker)
            self._on_disconnected(now)
            return
        cause = ConnectionLost(f"{self._broker} closed the WebSocket ({event})")
        if self._phase is _UP:
            self._drop(cause, now)
        else:
            self._events.append(CloseTransport(abort=True))
            self._attempt_failed(cause, now)

    def _ws_agrees(self, event: Connected, now: float) -> bool:
        """Whether CONNECTED's version is the negotiated subprotocol's; else drop."""
        from stomp_websocket import subprotocol_version  # noqa: PLC0415

        codec = self._ws_out
        assert codec is not None
        expected = subprotocol_version(codec.subprotocol)
        if expected is None or expected == event.version.value:
            return True
        reason = (
            f"{self._broker} negotiated the WebSocket subprotocol {codec.subprotocol} "
            f"but its CONNECTED says STOMP {event.version.value}"
        )
        self._drop(ConnectionLost(reason), now)
        return False

    def _route(self, event: MessageReceived) -> MessageReceived | None:
        """A message whose subscription the table lacks: match it, or drop it (unacknowledged)."""
        info = event.message
        if info.subscription is None:
            # STOMP 1.0 brokers may leave the subscription header out: match the destination.
            found = [s for s in self.subscriptions.values() if s.destination == info.destination]
            if len(found) == 1:
                return dataclasses.replace(event, subscription=found[0])
        self._log.warning(
            "message %r to %r is for subscription %r, which the client does not know "
            "(unsubscribed?): dropped unacknowledged, the broker delivers it again",
            info.message_id,
            info.destination,
            info.subscription,
        )
        return None

    def _on_error(self, event: ErrorReceived) -> None:
        error = BrokerError(event.error, command=event.command)
        if self._phase is _HANDSHAKE:
            self._refused = error  # a refusal: not retried, another attempt gets the same
            return
        self._log.warning("ERROR from %s: %s", self._broker, error)
        receipt_id = event.receipt_id
        if receipt_id is not None and receipt_id in self._waiting:
            self._settle(receipt_id, error)
            return
        if event.command is not None:
            return  # it answers a receipt no longer awaited (timed out)
        if self._waiting:
            # Some brokers (RabbitMQ) leave the receipt-id out even when a frame that asked
            # for one caused the ERROR: every request still waiting fails with it.
            for waiting_id in list(self._waiting):
                self._settle(waiting_id, error)
            return
        self._errors.append(error)

    def _on_disconnected(self, now: float) -> None:
        codec = self._ws_out
        if codec is not None:
            self._append_raw(codec.close(), now)
        self._events.append(CloseTransport(abort=False))
        self._end_goodbye(now, confirmed=True)

    def _end_goodbye(self, now: float, *, confirmed: bool) -> None:
        """End the graceful end: the client is CLOSED.

        Receipts still awaited are lost (some brokers answer DISCONNECT before earlier
        frames' receipts).
        """
        self._phase = None
        self._goodbye = None
        self._goodbye_deadline = None
        self._settle_session_loss(now, ConnectionLost("the client disconnected"))
        self._discard_unackable()
        self._step(ClientInput.DISCONNECTED)
        self._cause = None
        self._end_waiting(NotConnected("the client disconnected"))
        self._events.append(ClientEnded(error=None, confirmed=confirmed))

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or ``None``; ask after every input."""
        deadline: float | None = None
        phase = self._phase
        if phase is not None and phase is not _UP:
            deadline = self._attempt_deadline
        if phase is _UP or phase is _HANDSHAKE:
            session_deadline = self._session.next_deadline()
            if session_deadline is not None and (deadline is None or session_deadline < deadline):
                deadline = session_deadline
            if self._out_size:
                stall = self._out_since + self._settings.write_timeout
                if deadline is None or stall < deadline:
                    deadline = stall
        if self._deferred:
            due = self._deferred_at + self._settings.ack_delay
            if deadline is None or due < deadline:
                deadline = due
        deadlines = self._deadlines
        while deadlines and deadlines[0][1] not in self._waiting:
            heapq.heappop(deadlines)
        if deadlines and (deadline is None or deadlines[0][0] < deadline):
            deadline = deadlines[0][0]
        goodbye = self._goodbye_deadline
        if goodbye is not None and (deadline is None or goodbye < deadline):
            deadline = goodbye
        return deadline

    def handle_timer(self, now: float) -> None:
        """Do what is due at *now*; calling it early or late is harmless."""
        phase = self._phase
        broker = self._broker
        if phase is Phase.WAITING and now >= self._attempt_deadline:
            self._open(now)
        elif phase is Phase.OPENING and now >= self._attempt_deadline:
            timeout = self._settings.connect_timeout
            self._drop(WaitTimeout(f"connection to {broker}", timeout), now)
        elif phase is Phase.UPGRADE and now >= self._attempt_deadline:
            timeout = self._settings.connect_timeout
            self._drop(WaitTimeout(f"the WebSocket upgrade by {broker}", timeout), now)
        elif phase is _HANDSHAKE and now >= self._attempt_deadline:
            timeout = self._settings.connected_timeout
            self._drop(WaitTimeout(f"CONNECTED from {broker}", timeout), now)
        if self._phase is _UP:
            out = self._session.handle_timer(now)
            for event in out.events:
                if type(event) is PeerDead:
                    self.counters.heart_beats_missed += 1
                    silence = WaitTimeout(f"data from {broker}", event.limit)
                    cause = ConnectionLost(
                        f"{broker} was silent for {event.silent_for:.1f} s "
                        f"(the heart-beat limit is {event.limit:.1f} s)",
                        cause=silence,
                    )
                    self._drop(cause, now)
                    break
            else:
                if out.data:
                    self._append(out.data, now)
        if self._out_size and self._phase is not None:
            timeout = self._settings.write_timeout
            if now >= self._out_since + timeout:
                self._drop(WaitTimeout(f"progress writing to {broker}", timeout), now)
        if self._deferred and now >= self._deferred_at + self._settings.ack_delay:
            self.flush(now)
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, receipt_id = heapq.heappop(deadlines)
            waiting = self._waiting.get(receipt_id)
            if waiting is not None and waiting.deadline <= now:
                self.counters.receipts_lost += 1
                awaited = f"RECEIPT for {waiting.what} from {broker}"
                self._settle(receipt_id, WaitTimeout(awaited, waiting.timeout))
        if self._goodbye_deadline is not None and now >= self._goodbye_deadline:
            self._log.warning(
                "no RECEIPT for DISCONNECT from %s within %g s: closing anyway",
                broker,
                self._goodbye_timeout,
            )
            if self._phase is not None:
                self._events.append(CloseTransport(abort=True))
                self._clear_output()
            self._end_goodbye(now, confirmed=False)

    def pause_reading(self) -> None:
        """Tell the core that the adapter stopped reading (consumers are behind).

        The broker's silence proves nothing now; the client's own heart-beats stay due.
        """
        self._session.pause_receiving()

    def resume_reading(self, now: float) -> None:
        """The adapter reads again: the broker gets a full allowance of silence from *now*."""
        self._session.resume_receiving(now)

    def next_event(self) -> CoreEvent | None:
        """The next thing to do or to tell, in order, or ``None``."""
        events = self._events
        return events.popleft() if events else None

    # -- ending ----------------------------------------------------------------------------------

    def disconnect(self, now: float, *, timeout: float | None = None) -> None:
        """End gracefully: DISCONNECT with a receipt (coalesced ACKs first), close after it.

        Without a connection it stops connecting. :class:`~stomp_core.ClientEnded` says
        when it is over, and whether the broker confirmed it; after *timeout* (default
        ``disconnect_timeout``) the connection is closed anyway.
        """
        wait = self._check_timeout(timeout) or self._settings.disconnect_timeout
        state = self._state
        if state is ClientState.DISCONNECTING or state is ClientState.CLOSED:
            self._step(ClientInput.DISCONNECT)
            return
        if state is not ClientState.CONNECTED:
            self._end(None, ClientInput.DISCONNECT)
            return
        self._step(ClientInput.DISCONNECT)
        self.flush(now)
        self._receipt_ids += 1
        receipt_id = f"disconnect-{self._receipt_ids}"
        self._goodbye = receipt_id
        self._goodbye_timeout = wait
        self._goodbye_deadline = now + wait
        self._write(self._session.disconnect(receipt=receipt_id), now)

    def close(self, now: float) -> None:
        """End at once, without DISCONNECT: unwritten bytes are dropped, waiters fail."""
        if self._state is ClientState.CLOSED:
            return
        self._end_waiting(NotConnected("not connected: the client was closed"))
        if self._phase is not None:
            self._events.append(CloseTransport(abort=True))
            self._phase = None
            self._clear_output()
            self._settle_session_loss(now, ConnectionLost("closed by the client"))
            self._discard_unackable()
        self._end(None, ClientInput.CLOSE)

"""The sans-I/O STOMP connection: bytes and time in, events and bytes out."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, Literal

import stomp_commands as commands
from stomp_commands import (
    ALL_VERSIONS,
    Headers,
    LocalCommandError,
    RemoteCommandError,
    read_connected,
    read_error,
    read_message,
    read_receipt,
)
from stomp_frame import Frame, InvalidFrame, Limits, ParseError, Parser, Version, serialize
from stomp_session._actions import Actions
from stomp_session._errors import LocalProtocolError, RemoteProtocolError
from stomp_session._events import (
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
    Subscription,
    TransactionAborted,
    message_received,
    output,
)
from stomp_session._state import TRANSITIONS, Input, State

__all__ = ["DEFAULT_HEART_BEAT_GRACE", "Session"]

logger = logging.getLogger("stomp_session")

DEFAULT_HEART_BEAT_GRACE: Final = 2.5
"""How many receive intervals of silence make the peer dead, by default.

Measured against real brokers (heart-beat 5000,5000): ActiveMQ sends its first beat
about 2x the interval after CONNECTED, then one per interval; RabbitMQ beats more
often than negotiated. stomp.py's 1.5x raised false timeouts on an idle ActiveMQ;
2.0x would sit exactly on ActiveMQ's first beat; 2.5x did not raise any, and still
notices a dead broker before both brokers' own ~3x limit for a silent client.
"""

_EMPTY: Final = Output()
_CLOSE: Final = Output(close=True)
_GENERATIONS: Final = itertools.count(1)
_OPEN: Final = (State.CONNECTED, State.DISCONNECTING)
# Enum members as module constants: reading one from its class costs about five times a
# global lookup (an attribute of a class with a metaclass), and these are read per frame.
_CONNECTED: Final = State.CONNECTED
_CLOSED: Final = State.CLOSED
_RECV_MESSAGE: Final = Input.RECV_MESSAGE


class Session(Actions):
    """One STOMP connection as a sans-I/O state machine (no sockets, threads or clock).

    The caller owns the transport and the clock; the session owns the protocol:

    * :meth:`connect` returns the CONNECT bytes to write;
    * :meth:`receive_data` takes what the transport read, with the time, and returns
      an :class:`~stomp_session.Output`: events, bytes to write (subscription replay,
      for instance) and whether to close;
    * every action (:meth:`send`, :meth:`subscribe`, :meth:`ack`, ...) returns the
      bytes to write; a misuse raises :class:`~stomp_session.LocalProtocolError`
      and changes nothing;
    * :meth:`next_deadline` says when to call :meth:`handle_timer`, which returns
      heart-beats to write or reports a dead peer;
    * :meth:`connection_lost` is called when the transport closes, whatever the
      reason; the session is then ready to :meth:`connect` again and replays its
      subscriptions after the next CONNECTED.

    Time (*now*) is float seconds from any monotonic clock the caller chooses.

    Args:
        host: The virtual host sent in CONNECT (RabbitMQ's vhost, ``/`` by default there),
            not the network address.
        login: The user name, if any.
        passcode: The password, if any; it never appears in a repr, a log line or an
            error message.
        versions: The STOMP versions to offer.
        heart_beat: ``(cx, cy)`` in milliseconds: send a beat every *cx* ms at least,
            want one every *cy* ms (0: never).
        heart_beat_grace: How many receive intervals of silence make the peer dead
            (default :data:`DEFAULT_HEART_BEAT_GRACE`, 2.5, which real brokers'
            timing needs; at least 1).
        connect_headers: Extra CONNECT headers (``client-id`` and the like).
        connect_command: ``"STOMP"`` to open with the 1.1+ STOMP frame.
        limits: Bounds on received frames.

    Raises:
        LocalProtocolError: a setting CONNECT cannot carry, or a grace below 1.
    """

    __slots__ = (
        "_connect_command",
        "_connect_frame",
        "_connect_headers",
        "_connect_version",
        "_generation",
        "_grace",
        "_heart_beat",
        "_host",
        "_ids",
        "_last_received",
        "_limits",
        "_negotiated",
        "_next_beat",
        "_parser",
        "_paused",
        "_receipts",
        "_receive_interval",
        "_send_interval",
        "_send_prefixes",
        "_short_frame",
        "_subscriptions",
        "_transactions",
        "_version",
        "_versions",
    )

    def __init__(
        self,
        *,
        host: str,
        login: str | None = None,
        passcode: str | None = None,
        versions: Iterable[Version] = ALL_VERSIONS,
        heart_beat: tuple[int, int] = (0, 0),
        heart_beat_grace: float = DEFAULT_HEART_BEAT_GRACE,
        connect_headers: Headers | None = None,
        connect_command: Literal["CONNECT", "STOMP"] = "CONNECT",
        limits: Limits | None = None,
    ) -> None:
        offered = tuple(versions)
        self._connect_headers = connect_headers
        self._connect_frame = self._build_connect(
            host=host,
            login=login,
            passcode=passcode,
            versions=offered,
            heart_beat=heart_beat,
            command=connect_command,
        )
        grace: object = heart_beat_grace
        if (
            not isinstance(grace, (int, float))
            or isinstance(grace, bool)
            or not math.isfinite(grace)
            or grace < 1
        ):
            msg = f"heart_beat_grace must be a finite number >= 1, got {grace!r}"
            raise LocalProtocolError(msg)
        self._versions = tuple(v for v in ALL_VERSIONS if v in offered)
        # CONNECT is never escaped; the newest offered version only decides UTF-8 strictness.
        self._connect_version = self._versions[-1]
        self._connect_command = connect_command
        self._host = host
        self._heart_beat = heart_beat
        self._grace = float(heart_beat_grace)
        self._limits = limits or Limits()
        # A frame this short can break no bound: no header line longer than it, and fewer
        # than max_headers lines (each takes two bytes at least).
        self._short_frame = min(
            self._limits.max_frame_size,
            self._limits.max_header_line,
            2 * self._limits.max_headers - 1,
        )
        self._parser = Parser(Version.V1_0, limits=self._limits, handshake=True)
        self._state = State.DISCONNECTED
        self._version: Version | None = None
        self._generation = 0
        self._ids = itertools.count(1)
        self._subscriptions: dict[str, Subscription] = {}
        self._transactions: dict[str, None] = {}
        self._receipts: dict[str, str] = {}
        self._disconnect_receipt: str | None = None
        self._negotiated: tuple[int, int] | None = None
        self._send_interval = 0.0
        self._receive_interval = 0.0
        self._next_beat: float | None = None
        self._last_received = 0.0
        self._paused = False
        # The bytes of a plain SEND up to its content-length value, per destination, as
        # the full path wrote them on this connection (see send): its fast path.
        self._send_prefixes: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return (
            f"<Session host={self._host!r} state={self._state.value} "
            f"version={self._version.value if self._version else None} "
            f"subscriptions={len(self._subscriptions)} transactions={len(self._transactions)} "
            f"pending_receipts={len(self._receipts)}>"
        )

    # -- what the caller can look at ---------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def version(self) -> Version | None:
        """The negotiated version while connected (or disconnecting or closed), else ``None``."""
        return self._version

    @property
    def heart_beat(self) -> tuple[int, int] | None:
        """The negotiated ``(send, receive)`` heart-beat intervals in ms, once CONNECTED."""
        return self._negotiated

    @property
    def generation(self) -> int:
        """The current connection's number (0 without one); see :meth:`is_current`."""
        return self._generation

    def is_current(self, message: MessageReceived) -> bool:
        """Whether *message* came on the current connection (and so can still be acknowledged)."""
        return message.generation == self._generation != 0

    @property
    def receiving_paused(self) -> bool:
        """Whether the caller said it stopped reading (:meth:`pause_receiving`)."""
        return self._paused

    def pause_receiving(self) -> None:
        """Tell the session that the caller stopped reading the transport (flow control).

        While reading is paused the broker's heart-beats wait unread in the transport,
        so its silence proves nothing: the dead-peer check is suspended. The session's
        own heart-beats stay due as negotiated.
        """
        self._paused = True

    def resume_receiving(self, now: float) -> None:
        """Tell the session that reading resumed at *now*.

        The broker gets a full allowance of silence from *now* before it is judged dead.
        """
        if self._paused:
            self._paused = False
            self._last_received = now

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        """The subscription table by id (a read-only view); it survives a lost connection."""
        return MappingProxyType(self._subscriptions)

    @property
    def transactions(self) -> frozenset[str]:
        """The ids of the open transactions."""
        return frozenset(self._transactions)

    @property
    def pending_receipts(self) -> Mapping[str, str]:
        """Receipt ids still awaited, with the command of the frame that asked (a copy)."""
        return dict(self._receipts)

    # -- the transport and the clock -----------------------------------------------------------

    def _build_connect(
        self,
        *,
        host: str,
        login: str | None,
        passcode: str | None,
        versions: tuple[Version, ...],
        heart_beat: tuple[int, int],
        command: Literal["CONNECT", "STOMP"],
    ) -> Frame:
        try:
            frame = commands.connect(
                host=host,
                versions=versions,
                login=login,
                passcode=passcode,
                heart_beat=heart_beat,
                headers=self._connect_headers,
                command=command,
            )
            # Checked now, so that a setting the wire cannot carry (a NUL in the login,
            # say) is refused when it is given, not at every connection attempt.
            serialize(frame, versions[-1] if versions else Version.V1_2)
        except LocalCommandError as exc:
            raise LocalProtocolError(str(exc)) from exc
        except InvalidFrame as exc:
            raise LocalProtocolError(f"CONNECT cannot carry these settings: {exc}") from exc
        return frame

    def connect(
        self,
        now: float,
        *,
        host: str | None = None,
        login: str | None = None,
        passcode: str | None = None,
    ) -> bytes:
        """Start a connection: return the CONNECT (or STOMP) bytes to write first.

        Call it once the transport is open. The parser starts reading 1.0 (CONNECTED
        is never escaped) and switches to the negotiated version at CONNECTED.

        Args:
            now: The time.
            host: The virtual host for this connection only, when it differs from the
                one given to the constructor (a failover broker with its own vhost).
            login: The user name for this connection only (with *passcode*), when it
                differs from the constructor's (a failover broker with its own
                credentials).
            passcode: The password that goes with *login*.

        Raises:
            LocalProtocolError: not :attr:`State.DISCONNECTED`, or an override that
                CONNECT cannot carry.
        """
        frame = self._connect_frame
        if host is not None or login is not None or passcode is not None:
            if passcode is not None and login is None:
                msg = "a passcode override needs the login that goes with it"
                raise LocalProtocolError(msg)
            frame = self._build_connect(
                host=self._host if host is None else host,
                login=login if login is not None else frame.get("login"),
                passcode=passcode if login is not None else frame.get("passcode"),
                versions=self._versions,
                heart_beat=self._heart_beat,
                command=self._connect_command,
            )
        self._step(Input.CONNECT)
        self._parser.reset()
        self._parser.version = Version.V1_0
        self._last_received = now
        logger.debug("CONNECT to host %r offering %s", frame.get("host"), self._versions)
        return serialize(frame, self._connect_version)

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> Output:
        """Take bytes read from the transport at time *now*; return what they mean.

        A broker's protocol error does not raise: it ends the output with a
        :class:`~stomp_session.ProtocolFailure` (after the events that came before
        it) and sets :attr:`Output.close`. In :attr:`State.CLOSED` bytes are
        discarded unread (and :attr:`Output.close` is set again).

        Raises:
            LocalProtocolError: no connection (:attr:`State.DISCONNECTED`).
        """
        state = self._state
        if state is not _CONNECTED:  # where it is allowed and changes nothing
            self._step(Input.RECEIVE_DATA)
            if self._state is _CLOSED:
                return _CLOSE
        if data:
            self._last_received = now
        events: list[Event] = []
        out: list[bytes] = []
        parser = self._parser
        try:
            parser.receive_data(data)
            version = self._version
            generation = self._generation
            subscriptions = self._subscriptions
            messages_allowed = (
                self._state is _CONNECTED or (self._state, _RECV_MESSAGE) in TRANSITIONS
            )
            append = events.append
            while (item := parser.next_event()) is not None:
                if type(item) is not Frame:
                    self._step(Input.RECV_HEART_BEAT)
                elif item.command == "MESSAGE" and messages_allowed:
                    assert version is not None
                    info = read_message(item, version)
                    subscription = subscriptions.get(info.subscription or "")
                    append(message_received(info, subscription, generation))
                else:
                    self._receive_frame(item, now, events, out)
                    if self._state is _CLOSED:
                        break
                    version = self._version
                    generation = self._generation
                    messages_allowed = (
                        self._state is _CONNECTED or (self._state, _RECV_MESSAGE) in TRANSITIONS
                    )
        except (ParseError, RemoteCommandError, RemoteProtocolError) as exc:
            events.append(self._fail(exc))
        return output(tuple(events), b"".join(out) if out else b"", self._state is _CLOSED)

    def _fail(self, exc: Exception) -> ProtocolFailure:
        if isinstance(exc, RemoteProtocolError):
            error = exc
        else:
            error = RemoteProtocolError(str(exc))
            error.__cause__ = exc
        logger.warning("protocol failure: %s", error)
        self._enter(self._next_state(Input.PROTOCOL_FAILURE), Input.PROTOCOL_FAILURE)
        return ProtocolFailure(error=error)

    def _receive_frame(
        self, frame: Frame, now: float, events: list[Event], out: list[bytes]
    ) -> None:
        command = frame.command
        if command == "CONNECTED":
            self._next_state(Input.RECV_CONNECTED)
            events.append(self._on_connected(frame, now, out))
        elif command == "RECEIPT":
            receipt_id = read_receipt(frame).receipt_id
            if receipt_id == self._disconnect_receipt:
                self._step(Input.RECV_DISCONNECT_RECEIPT)
                del self._receipts[receipt_id]
                self._disconnect_receipt = None
                events.append(Disconnected(receipt_id=receipt_id))
                return
            self._step(Input.RECV_RECEIPT)
            requested = self._receipts.pop(receipt_id, None)
            if requested is None:
                logger.warning("RECEIPT %r was not asked for (or already answered)", receipt_id)
            events.append(ReceiptReceived(receipt_id=receipt_id, command=requested))
        elif command == "ERROR":
            info = read_error(frame)
            self._step(Input.RECV_ERROR)
            requested = None
            if info.receipt_id is not None:
                requested = self._receipts.pop(info.receipt_id, None)
                if info.receipt_id == self._disconnect_receipt:
                    self._disconnect_receipt = None
            logger.info("ERROR from the broker: %s", info.message)
            events.append(ErrorReceived(error=info, command=requested))
        elif command == "MESSAGE":
            self._step(_RECV_MESSAGE)  # raises: MESSAGE is not allowed here
        else:
            msg = f"the broker sent a {command} frame, which only a client may send"
            raise RemoteProtocolError(msg)

    def _on_connected(self, frame: Frame, now: float, out: list[bytes]) -> Connected:
        info = read_connected(frame, self._versions)
        self._step(Input.RECV_CONNECTED)
        version = info.version
        # Switch before the next frame of the same chunk is parsed.
        self._parser.version = version
        self._version = version
        self._send_prefixes.clear()  # escaping differs between versions
        self._generation = next(_GENERATIONS)
        # Spec 1.1, heart-beating: "the sender sends a heart-beat at least every
        # MAX(cx, sy) milliseconds" and the receiver "can expect ... every MAX(sx, cy)",
        # where 0 on either side means no heart-beats in that direction.
        cx, cy = self._heart_beat
        sx, sy = info.heart_beat
        send_ms = max(cx, sy) if cx and sy else 0
        receive_ms = max(cy, sx) if cy and sx else 0
        self._negotiated = (send_ms, receive_ms)
        self._send_interval = send_ms / 1000
        self._receive_interval = receive_ms / 1000
        self._next_beat = now + self._send_interval if send_ms else None
        self._last_received = now
        replayed: list[str] = []
        dropped: list[Subscription] = []
        for subscription in list(self._subscriptions.values()):
            data = _replayable(subscription.frame, version)
            if data is None:
                del self._subscriptions[subscription.id]
                dropped.append(subscription)
                logger.warning(
                    "subscription %r cannot be written in STOMP %s; removed",
                    subscription.id,
                    version,
                )
            else:
                out.append(data)
                replayed.append(subscription.id)
        logger.debug(
            "CONNECTED: STOMP %s, heart-beat %s, %d subscriptions replayed",
            version,
            self._negotiated,
            len(replayed),
        )
        return Connected(
            version=version,
            server=info.server,
            session_id=info.session_id,
            heart_beat=self._negotiated,
            resubscribed=tuple(replayed),
            not_replayed=tuple(dropped),
            frame=frame,
        )

    def next_deadline(self) -> float | None:
        """Return when :meth:`handle_timer` must next be called, or ``None`` for never.

        The earliest of the next heart-beat to send and the moment the broker's
        silence would make it dead. It moves as data arrives; ask again after
        every input.
        """
        if self._state not in _OPEN:
            return None
        deadline = self._next_beat
        if self._receive_interval and not self._paused:
            dead_at = self._last_received + self._receive_interval * self._grace
            if deadline is None or dead_at < deadline:
                deadline = dead_at
        return deadline

    def handle_timer(self, now: float) -> Output:
        """Act on the clock at *now*: a heart-beat to write, or a dead peer.

        Calling it early, late or in any state is harmless: it does what is due
        (in :attr:`State.CLOSED`, it repeats :attr:`Output.close`).
        """
        self._step(Input.TIMER)
        if self._state not in _OPEN:
            return _CLOSE if self._state is _CLOSED else _EMPTY
        if self._receive_interval and not self._paused:
            silent = now - self._last_received
            limit = self._receive_interval * self._grace
            if silent >= limit:
                self._step(Input.PEER_DEAD)
                logger.warning("no data from the broker for %.3f s (limit %.3f s)", silent, limit)
                return Output(events=(PeerDead(silent_for=silent, limit=limit),), close=True)
        if self._next_beat is not None and now >= self._next_beat:
            self._next_beat = now + self._send_interval
            return Output(data=commands.heart_beat())
        return _EMPTY

    def connection_lost(self, now: float) -> Output:
        """Tell the session the transport closed (for any reason); it is then DISCONNECTED.

        Open transactions are reported aborted (the broker rolls them back; they are
        not replayed), pending receipts are reported lost, messages received so far
        can no longer be acknowledged, and the subscription table is kept for replay
        after the next CONNECTED. Harmless when already disconnected.
        """
        self._step(Input.CONNECTION_LOST)
        events: list[Event] = [TransactionAborted(transaction=tx) for tx in self._transactions]
        events += [
            ReceiptLost(receipt_id=receipt_id, command=command)
            for receipt_id, command in self._receipts.items()
        ]
        self._transactions.clear()
        self._receipts.clear()
        self._disconnect_receipt = None
        self._version = None
        self._generation = 0
        self._negotiated = None
        self._send_interval = self._receive_interval = 0.0
        self._next_beat = None
        self._last_received = now
        self._paused = False
        self._parser.reset()
        return Output(events=tuple(events)) if events else _EMPTY


def _replayable(frame: Frame, version: Version) -> bytes | None:
    try:
        return serialize(frame, version)
    except InvalidFrame:
        return None

"""The events a session reports, the subscription record, and the output of each input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from stomp_commands import AckMode, ErrorInfo, MessageInfo
from stomp_frame import Frame, Version
from stomp_session._errors import RemoteProtocolError

__all__ = [
    "Connected",
    "Disconnected",
    "ErrorReceived",
    "Event",
    "MessageReceived",
    "Output",
    "PeerDead",
    "ProtocolFailure",
    "ReceiptLost",
    "ReceiptReceived",
    "Subscription",
    "TransactionAborted",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A subscription in the session's table; replayed after every new CONNECTED.

    Attributes:
        id: The subscription id (given by the caller or generated).
        destination: What it subscribes to.
        ack: Its ack mode.
        frame: The SUBSCRIBE frame exactly as first sent, without its ``receipt``:
            what a replay writes again.
    """

    id: str
    destination: str
    ack: AckMode
    frame: Frame = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected:
    """The broker accepted the connection (CONNECTED).

    Attributes:
        version: The negotiated version; the parser already reads it.
        server: The broker's ``server`` header, if any.
        session_id: The broker's ``session`` header, if any.
        heart_beat: The negotiated ``(send, receive)`` intervals in milliseconds: the
            session sends a heart-beat every *send* ms and expects data at least every
            *receive* ms (0: none). Spec 1.1: the client sends every
            ``max(cx, sy)`` ms and the server every ``max(sx, cy)`` ms, when both are
            non-zero.
        resubscribed: Ids of the subscriptions replayed with this event (their
            SUBSCRIBE frames are in the same :class:`Output`'s data).
        not_replayed: Subscriptions that the negotiated version cannot express
            (made under a newer version); they were removed from the table.
        frame: The CONNECTED frame.
    """

    version: Version
    server: str | None
    session_id: str | None
    heart_beat: tuple[int, int]
    resubscribed: tuple[str, ...]
    not_replayed: tuple[Subscription, ...] = ()
    frame: Frame = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """A MESSAGE arrived; acknowledge it with :meth:`Session.ack <stomp_session.Session.ack>`.

    Attributes:
        message: What the MESSAGE says (destination, ids, ack token, body).
        subscription: The subscription it belongs to, from the session's table;
            ``None`` when the table has none by that id (a message that crossed an
            UNSUBSCRIBE on the wire).
        generation: Which connection it came on; an ACK on a later connection is refused.
        acked_before: The client acknowledged a message with this id on a connection
            since lost: the broker never got (or never stored) that ACK and delivers
            it again, possibly unmarked (Artemis after a crash). Set by the client
            core (stomp-core), never by the session.
    """

    message: MessageInfo
    subscription: Subscription | None
    generation: int
    acked_before: bool = False

    @property
    def frame(self) -> Frame:
        """The MESSAGE frame."""
        return self.message.frame

    @property
    def body(self) -> bytes:
        """The body of the message."""
        return self.message.frame.body

    @property
    def destination(self) -> str:
        """The ``destination`` header."""
        return self.message.destination

    @property
    def headers(self) -> dict[str, str]:
        """The headers as a new ``dict`` (a repeated header: its first value, as the spec says)."""
        return self.message.frame.header_dict()

    @property
    def message_id(self) -> str:
        """The ``message-id`` header."""
        return self.message.message_id

    @property
    def redelivered(self) -> bool:
        """Whether it may have been delivered before (a duplicate, perhaps).

        The broker marked it ``redelivered:true``, or the client acknowledged a message
        with its id on a connection since lost (:attr:`acked_before`).
        """
        return self.message.redelivered or self.acked_before


_slots: Any = MessageReceived.__dict__
_set_message = _slots["message"].__set__
_set_subscription = _slots["subscription"].__set__
_set_generation = _slots["generation"].__set__
_set_acked_before = _slots["acked_before"].__set__
_new = object.__new__


def message_received(
    message: MessageInfo, subscription: Subscription | None, generation: int
) -> MessageReceived:
    """Build a :class:`MessageReceived` from trusted values, fast (the hot path)."""
    event: MessageReceived = _new(MessageReceived)
    _set_message(event, message)
    _set_subscription(event, subscription)
    _set_generation(event, generation)
    _set_acked_before(event, False)
    return event


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptReceived:
    """The broker confirmed a frame sent with ``receipt`` (RECEIPT).

    Attributes:
        receipt_id: The receipt id.
        command: The command of the frame that asked for it; ``None`` when the
            session was not waiting for this receipt.
    """

    receipt_id: str
    command: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorReceived:
    """The broker sent an ERROR.

    When it carries a ``receipt-id`` the session was waiting for, that receipt fails:
    :attr:`command` names the frame that asked for it. An ERROR while connecting (bad
    login, unknown vhost, version mismatch) ends the conversation
    (:attr:`Output.close`); later ones leave the connection open, as ActiveMQ and
    RabbitMQ keep it open for most errors.

    Attributes:
        error: What the ERROR says (``message`` header, ``receipt_id``, body).
        command: The command of the frame whose receipt failed, or ``None``.
    """

    error: ErrorInfo
    command: str | None

    @property
    def message(self) -> str | None:
        """The ``message`` header: a short description."""
        return self.error.message

    @property
    def receipt_id(self) -> str | None:
        """The ``receipt-id`` header, if any."""
        return self.error.receipt_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected:
    """The broker confirmed the DISCONNECT: close the transport, nothing was lost.

    Attributes:
        receipt_id: The DISCONNECT's receipt id.
    """

    receipt_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDead:
    """No data from the broker for longer than the heart-beat allows: close the transport.

    Attributes:
        silent_for: Seconds since the last byte was received.
        limit: The silence allowed: the receive interval times the grace factor, in seconds.
    """

    silent_for: float
    limit: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolFailure:
    """The broker broke the protocol; the connection is unusable: close the transport.

    Attributes:
        error: What was wrong (its ``__cause__`` is the underlying parse or read error).
    """

    error: RemoteProtocolError


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptLost:
    """The connection was lost while a receipt was pending.

    The frame may or may not have been processed: a SEND may be stored, and only a
    RECEIPT proves it.

    Attributes:
        receipt_id: The receipt id.
        command: The command of the frame that asked for it.
    """

    receipt_id: str
    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionAborted:
    """The connection was lost with this transaction open: the broker rolled it back.

    It is not replayed; run it again on the next connection if it is still wanted.

    Attributes:
        transaction: The transaction id.
    """

    transaction: str


Event: TypeAlias = (
    Connected
    | MessageReceived
    | ReceiptReceived
    | ErrorReceived
    | Disconnected
    | PeerDead
    | ProtocolFailure
    | ReceiptLost
    | TransactionAborted
)
"""Every event a session reports (a closed union: match it with ``assert_never``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Output:
    """What an input from the transport or the clock produced.

    Attributes:
        events: What happened, in order.
        data: Bytes to write to the transport now (subscription replay after
            CONNECTED, heart-beats); may be empty.
        close: Write :attr:`data`, then close the transport (and call
            ``connection_lost``): the STOMP conversation is over.
    """

    events: tuple[Event, ...] = ()
    data: bytes = b""
    close: bool = False


_output_slots: Any = Output.__dict__
_set_events = _output_slots["events"].__set__
_set_data = _output_slots["data"].__set__
_set_close = _output_slots["close"].__set__


def output(events: tuple[Event, ...], data: bytes, close: bool) -> Output:  # noqa: FBT001
    """Build an :class:`Output` from trusted values, fast (once per read: the hot path)."""
    result: Output = _new(Output)
    _set_events(result, events)
    _set_data(result, data)
    _set_close(result, close)
    return result

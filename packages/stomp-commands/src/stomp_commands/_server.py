"""Readers of every server frame: CONNECTED, MESSAGE, RECEIPT and ERROR as typed views."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from stomp_commands._errors import RemoteCommandError
from stomp_frame import Frame, Version

__all__ = [
    "ConnectedInfo",
    "ErrorInfo",
    "MessageInfo",
    "ReceiptInfo",
    "read_connected",
    "read_error",
    "read_message",
    "read_receipt",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectedInfo:
    """What a CONNECTED frame says, read by :func:`read_connected`.

    Attributes:
        version: The negotiated version (1.0 when the frame names none).
        heart_beat: The server's ``(sx, sy)`` in milliseconds: it can send a beat
            every *sx* ms and wants one every *sy* ms; ``(0, 0)`` when absent or on 1.0.
        server: The ``server`` header (name/version of the broker), if any.
        session_id: The ``session`` header, if any.
        frame: The CONNECTED frame itself.
    """

    version: Version
    heart_beat: tuple[int, int]
    server: str | None
    session_id: str | None
    frame: Frame


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageInfo:
    """What a MESSAGE frame says, read by :func:`read_message`; what ACK and NACK need.

    Attributes:
        frame: The MESSAGE frame itself (its headers and :attr:`body`).
        destination: The ``destination`` header.
        message_id: The ``message-id`` header, unescaped (ActiveMQ's ids contain colons).
        subscription: The ``subscription`` header: the id of the SUBSCRIBE this
            message answers (always present from 1.1; may be absent on 1.0).
        ack_id: The ``ack`` header (1.2): the token a 1.2 ACK/NACK sends back as
            ``id``. ``None`` when absent (auto-ack subscriptions, or before 1.2).
        redelivered: Whether ``redelivered:true`` is set (the broker delivered the
            message before, to this or another consumer).
    """

    frame: Frame
    destination: str
    message_id: str
    subscription: str | None
    ack_id: str | None
    redelivered: bool

    def __post_init__(self) -> None:
        if self.frame.command != "MESSAGE":
            msg = f"a MessageInfo is made from a MESSAGE frame, not {self.frame.command}"
            raise ValueError(msg)

    @property
    def body(self) -> bytes:
        """The body of the message."""
        return self.frame.body


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptInfo:
    """What a RECEIPT frame says, read by :func:`read_receipt`.

    Attributes:
        receipt_id: The ``receipt-id``: the ``receipt`` the client asked with.
        frame: The RECEIPT frame itself.
    """

    receipt_id: str
    frame: Frame


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """What an ERROR frame says, read by :func:`read_error`.

    Attributes:
        message: The ``message`` header, a short description, if any.
        receipt_id: The ``receipt-id``, when the error answers a frame that asked
            for a receipt (spec 1.2: "If the error is related to a specific frame
            sent from the client, the server SHOULD add additional headers").
        body: The body: details (ActiveMQ sends a Java stack trace).
        frame: The ERROR frame itself.
    """

    message: str | None
    receipt_id: str | None
    body: bytes
    frame: Frame

    @property
    def text(self) -> str:
        """The body decoded as UTF-8, undecodable bytes replaced."""
        return self.body.decode("utf-8", "replace")


def _expect(frame: Frame, command: str) -> None:
    if frame.command != command:
        msg = f"expected a {command} frame from the server, got {frame.command}"
        raise RemoteCommandError(msg, command=frame.command)


def read_connected(frame: Frame, offered: Iterable[Version]) -> ConnectedInfo:
    """Read a CONNECTED frame, checking the version against what the client offered.

    Spec 1.1: "version: The version of the STOMP protocol the session will be using";
    a CONNECTED without it comes from a 1.0 server. Heart-beats exist from 1.1, so a
    1.0 session has ``heart_beat == (0, 0)`` whatever the header says.

    Args:
        frame: The frame the server sent first.
        offered: The versions the CONNECT offered.

    Raises:
        RemoteCommandError: not a CONNECTED frame, an unknown version or one that
            was not offered, or a malformed ``heart-beat``.
    """
    _expect(frame, "CONNECTED")
    wire = frame.get("version")
    if wire is None:
        version = Version.V1_0
    else:
        try:
            version = Version(wire)
        except ValueError:
            msg = f"the server chose STOMP version {wire!r}, which does not exist"
            raise RemoteCommandError(msg, command="CONNECTED") from None
    if version not in set(offered):
        msg = f"the server chose STOMP {version}, which the client did not offer"
        raise RemoteCommandError(msg, command="CONNECTED")
    heart_beat = (0, 0)
    if version is not Version.V1_0:
        heart_beat = _read_heart_beat(frame.get("heart-beat"))
    return ConnectedInfo(
        version=version,
        heart_beat=heart_beat,
        server=frame.get("server"),
        session_id=frame.get("session"),
        frame=frame,
    )


def _read_heart_beat(text: str | None) -> tuple[int, int]:
    # Spec 1.1: "The heart-beat header MUST contain two positive integers separated by
    # a comma" (0 included: "0 means it cannot send / does not want heart-beats").
    if text is None:
        return (0, 0)
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        msg = f"malformed heart-beat header {text!r} (expected two integers, like 10000,10000)"
        raise RemoteCommandError(msg, command="CONNECTED")
    return (int(parts[0]), int(parts[1]))


_slots: Any = MessageInfo.__dict__
_set_frame = _slots["frame"].__set__
_set_destination = _slots["destination"].__set__
_set_message_id = _slots["message_id"].__set__
_set_subscription = _slots["subscription"].__set__
_set_ack_id = _slots["ack_id"].__set__
_set_redelivered = _slots["redelivered"].__set__
_new = object.__new__
_V1_0: Final = Version.V1_0
_V1_2: Final = Version.V1_2


def read_message(frame: Frame, version: Version) -> MessageInfo:
    """Read a MESSAGE frame received under *version*.

    Spec 1.2: "The MESSAGE frame MUST include a destination header ... a message-id
    header with a unique identifier for that message and a subscription header
    matching the identifier of the subscription that is receiving the message" (the
    subscription is 1.1+; 1.0 servers may omit it). The ``ack`` header is only read
    on 1.2, where it exists.

    Raises:
        RemoteCommandError: not a MESSAGE, or a required header is missing.
    """
    if frame.command != "MESSAGE":
        _expect(frame, "MESSAGE")
    get = frame.header_map.get
    destination = get("destination")
    message_id = get("message-id")
    subscription = get("subscription")
    if destination is None or message_id is None or (subscription is None and version is not _V1_0):
        missing = next(
            name
            for name, value in (
                ("destination", destination),
                ("message-id", message_id),
                ("subscription", subscription),
            )
            if value is None
        )
        msg = f"the server sent a MESSAGE without the {missing!r} header STOMP {version} requires"
        raise RemoteCommandError(msg, command="MESSAGE")
    # Built without __init__/__post_init__: the command was checked above.
    info: MessageInfo = _new(MessageInfo)
    _set_frame(info, frame)
    _set_destination(info, destination)
    _set_message_id(info, message_id)
    _set_subscription(info, subscription)
    _set_ack_id(info, get("ack") if version is _V1_2 else None)
    _set_redelivered(info, get("redelivered") == "true")
    return info


def read_receipt(frame: Frame) -> ReceiptInfo:
    """Read a RECEIPT frame.

    Spec 1.2: "The RECEIPT frame ... MUST include the header receipt-id".

    Raises:
        RemoteCommandError: not a RECEIPT, or no ``receipt-id``.
    """
    _expect(frame, "RECEIPT")
    receipt_id = frame.get("receipt-id")
    if receipt_id is None:
        msg = "the server sent a RECEIPT without a receipt-id header"
        raise RemoteCommandError(msg, command="RECEIPT")
    return ReceiptInfo(receipt_id=receipt_id, frame=frame)


def read_error(frame: Frame) -> ErrorInfo:
    """Read an ERROR frame: its ``message`` header, ``receipt-id`` and body.

    Raises:
        RemoteCommandError: not an ERROR frame.
    """
    _expect(frame, "ERROR")
    return ErrorInfo(
        message=frame.get("message"),
        receipt_id=frame.get("receipt-id"),
        body=frame.body,
        frame=frame,
    )

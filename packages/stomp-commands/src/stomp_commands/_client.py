"""Builders of every client frame, one pure function per command, for a given STOMP version."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from stomp_commands._common import (
    ACK_MODES,
    ALL_VERSIONS,
    V1_0,
    V1_1,
    V1_2,
    AckMode,
    Headers,
    build_frame,
    check_headers,
)
from stomp_commands._errors import LocalCommandError
from stomp_commands._server import MessageInfo, read_message
from stomp_frame import HEARTBEAT_BYTES, Frame, Version

__all__ = [
    "abort",
    "ack",
    "begin",
    "commit",
    "connect",
    "disconnect",
    "heart_beat",
    "nack",
    "send",
    "subscribe",
    "unsubscribe",
]

_CONNECT_RESERVED: Final = frozenset({"accept-version", "host", "login", "passcode", "heart-beat"})
_SEND_RESERVED: Final = frozenset({"destination", "content-length", "receipt", "transaction"})
_SUBSCRIBE_RESERVED: Final = frozenset({"destination", "id", "ack", "receipt"})


def connect(
    *,
    host: str,
    versions: Iterable[Version] = ALL_VERSIONS,
    login: str | None = None,
    passcode: str | None = None,
    heart_beat: tuple[int, int] = (0, 0),
    headers: Headers | None = None,
    command: Literal["CONNECT", "STOMP"] = "CONNECT",
) -> Frame:
    """Build the CONNECT (or STOMP) frame that opens a STOMP connection.

    The frame offers every version in *versions* (``accept-version``, oldest first);
    the server picks one and says which in CONNECTED (see :func:`read_connected`).
    A 1.0-only offer carries no ``accept-version``: spec 1.1 "If the accept-version
    header is missing, it means that the clients only supports version 1.0".

    Args:
        host: The virtual host (spec 1.2: "the name of a virtual host that the client
            wishes to connect to"), set apart from the network address: RabbitMQ
            reads it as its vhost (``/`` on a stock install) and refuses unknown ones.
        versions: The versions offered.
        login: The user name, if the broker wants one.
        passcode: The password; never shown in a ``repr`` or an error message.
        heart_beat: ``(cx, cy)`` in milliseconds: the client can send a heart-beat
            every *cx* ms and wants one from the server every *cy* ms (0: none).
            Written only when 1.1 or later is offered (1.0 has no heart-beats).
        headers: Extra headers (not ``accept-version``, ``host``, ``login``,
            ``passcode`` or ``heart-beat``, which have their own parameters).
        command: ``"STOMP"`` for the 1.1+ name of the same frame (spec 1.2:
            "clients MAY continue to use the CONNECT command").

    Raises:
        LocalCommandError: no version offered, STOMP offered to a 1.0-only broker,
            a negative heart-beat, or a header that CONNECT cannot carry (line
            breaks: CONNECT is never escaped).
    """
    offered = _offered(versions)
    given_command: object = command
    if given_command not in ("CONNECT", "STOMP"):
        msg = f"command must be 'CONNECT' or 'STOMP', got {command!r}"
        raise LocalCommandError(msg)
    if command == "STOMP" and offered == (V1_0,):
        msg = "the STOMP frame exists from STOMP 1.1; offer 1.1 or later, or use CONNECT"
        raise LocalCommandError(msg)
    cx, cy = _heart_beat_pair(heart_beat)
    fields: dict[str, str] = {}
    if offered != (V1_0,):
        fields["accept-version"] = ",".join(v.value for v in offered)
    fields["host"] = _text("host", host, command)
    if login is not None:
        fields["login"] = _text("login", login, command)
    if passcode is not None:
        secret: object = passcode
        if not isinstance(secret, str):
            msg = f"the passcode of {command} must be a str, got a {type(secret).__name__}"
            raise LocalCommandError(msg)
        fields["passcode"] = passcode
    if offered != (V1_0,):
        fields["heart-beat"] = f"{cx},{cy}"
    # CONNECT is never escaped, whatever the version: check it as 1.0.
    return build_frame(command, V1_0, fields, headers, _CONNECT_RESERVED)


def send(
    version: Version,
    destination: str,
    body: bytes = b"",
    *,
    headers: Headers | None = None,
    content_length: bool = True,
    transaction: str | None = None,
    receipt: str | None = None,
) -> Frame:
    """Build a SEND frame.

    Args:
        version: The negotiated version.
        destination: Where to send (spec: "SEND frames MUST include a destination").
        body: The body, binary.
        headers: Extra headers, such as ``content-type`` or ``persistent``.
        content_length: Write ``content-length`` (the default). ActiveMQ turns a SEND
            with one into a JMS BytesMessage and one without into a TextMessage, so
            this is a per-call choice; a body holding a NUL byte needs it.
        transaction: The id of an open transaction to send in.
        receipt: Ask the server for a RECEIPT with this id.

    Raises:
        LocalCommandError: an empty destination, a NUL in the body without
            ``content_length``, or a header *version* cannot carry.
    """
    fields = {"destination": _text("destination", destination, "SEND")}
    given: object = body
    if not isinstance(given, bytes):
        msg = f"the SEND body must be bytes, got a {type(given).__name__}"
        raise LocalCommandError(msg)
    if content_length:
        fields["content-length"] = str(len(body))
    elif b"\0" in body:
        msg = "the SEND body contains a NUL byte, which needs content_length=True"
        raise LocalCommandError(msg)
    if transaction is not None:
        fields["transaction"] = _text("transaction", transaction, "SEND")
    if receipt is not None:
        fields["receipt"] = _text("receipt", receipt, "SEND")
    return build_frame("SEND", version, fields, headers, _SEND_RESERVED, body=body)


def subscribe(
    version: Version,
    destination: str,
    *,
    id: str | None = None,
    ack: AckMode = "auto",
    headers: Headers | None = None,
    receipt: str | None = None,
) -> Frame:
    """Build a SUBSCRIBE frame.

    The ``ack`` header is always written, ``auto`` included, so that the frame says
    what it means and a replay of it cannot lose the mode.

    Args:
        version: The negotiated version.
        destination: What to subscribe to.
        id: The subscription id; spec 1.1: "the id header MUST be included".
            Optional on 1.0, where the server then names the subscription by destination.
        ack: The ack mode; ``client-individual`` exists from 1.1.
        headers: Extra headers (selector, prefetch and the like).
        receipt: Ask the server for a RECEIPT with this id.

    Raises:
        LocalCommandError: no *id* on 1.1+, an unknown ack mode or one *version*
            lacks, or a header *version* cannot carry.
    """
    fields = {"destination": _text("destination", destination, "SUBSCRIBE")}
    if id is None:
        if version is not V1_0:
            msg = f'SUBSCRIBE needs an id in STOMP {version} ("the id header MUST be included")'
            raise LocalCommandError(msg)
    else:
        fields["id"] = _text("id", id, "SUBSCRIBE")
    if ack not in ACK_MODES:
        msg = f"ack must be one of 'auto', 'client', 'client-individual', got {ack!r}"
        raise LocalCommandError(msg)
    if ack == "client-individual" and version is V1_0:
        msg = "the ack mode 'client-individual' exists from STOMP 1.1"
        raise LocalCommandError(msg)
    fields["ack"] = ack
    if receipt is not None:
        fields["receipt"] = _text("receipt", receipt, "SUBSCRIBE")
    return build_frame("SUBSCRIBE", version, fields, headers, _SUBSCRIBE_RESERVED)


def unsubscribe(
    version: Version,
    *,
    id: str | None = None,
    destination: str | None = None,
    receipt: str | None = None,
) -> Frame:
    """Build an UNSUBSCRIBE frame.

    Args:
        version: The negotiated version.
        id: The id the subscription was made with (required from 1.1: "the id
            header MUST be included").
        destination: STOMP 1.0 only, for a subscription made without an id.
        receipt: Ask the server for a RECEIPT with this id.

    Raises:
        LocalCommandError: neither or both of *id* and *destination*, or a
            *destination* on 1.1+.
    """
    if (id is None) == (destination is None):
        msg = "UNSUBSCRIBE needs exactly one of id and destination"
        raise LocalCommandError(msg)
    if id is not None:
        fields = {"id": _text("id", id, "UNSUBSCRIBE")}
    else:
        if version is not V1_0:
            msg = f"UNSUBSCRIBE needs an id in STOMP {version}; by destination is 1.0 only"
            raise LocalCommandError(msg)
        assert destination is not None
        fields = {"destination": _text("destination", destination, "UNSUBSCRIBE")}
    if receipt is not None:
        fields["receipt"] = _text("receipt", receipt, "UNSUBSCRIBE")
    check_headers("UNSUBSCRIBE", version, fields)
    return Frame("UNSUBSCRIBE", fields)


def ack(
    version: Version,
    message: MessageInfo | Frame,
    *,
    transaction: str | None = None,
    receipt: str | None = None,
) -> Frame:
    """Build the ACK that acknowledges *message* under *version*.

    STOMP 1.0 names the message by ``message-id``; 1.1 adds ``subscription``
    ("ACK has two REQUIRED headers: subscription ... and message-id"); 1.2 sends
    the MESSAGE's ``ack`` header back as ``id`` ("The ACK frame MUST include an id
    header matching the ack header of the MESSAGE being acknowledged").

    Args:
        version: The negotiated version (the one the message was received under).
        message: The MESSAGE, as read by :func:`read_message` or as the raw frame.
        transaction: Acknowledge inside this open transaction.
        receipt: Ask the server for a RECEIPT with this id.

    Raises:
        LocalCommandError: the message lacks what *version* needs to name it (no
            ``subscription`` on 1.1, no ``ack`` header on 1.2, which the server only
            adds for ``client`` and ``client-individual`` subscriptions).
        RemoteCommandError: *message* is a raw frame that is not a valid MESSAGE.
    """
    return _acknowledge("ACK", version, message, transaction, receipt)


def nack(
    version: Version,
    message: MessageInfo | Frame,
    *,
    transaction: str | None = None,
    receipt: str | None = None,
) -> Frame:
    """Build the NACK that rejects *message* under *version* (1.1 and later).

    The headers follow the same per-version rules as :func:`ack`.

    Raises:
        LocalCommandError: *version* is 1.0 (NACK does not exist there; ActiveMQ
            answers ERROR), or as for :func:`ack`.
        RemoteCommandError: *message* is a raw frame that is not a valid MESSAGE.
    """
    if version is V1_0:
        msg = "NACK does not exist in STOMP 1.0 (it was added in 1.1)"
        raise LocalCommandError(msg)
    return _acknowledge("NACK", version, message, transaction, receipt)


def _acknowledge(
    command: str,
    version: Version,
    message: MessageInfo | Frame,
    transaction: str | None,
    receipt: str | None,
) -> Frame:
    info = message if isinstance(message, MessageInfo) else read_message(message, version)
    if version is V1_2:
        if info.ack_id is None:
            msg = (
                f"this message has no 'ack' header, so STOMP 1.2 cannot {command} it "
                "(the server adds one only for client and client-individual subscriptions)"
            )
            raise LocalCommandError(msg)
        fields = {"id": info.ack_id}
    elif version is V1_1:
        if info.subscription is None:
            msg = f"this message has no 'subscription' header, which a STOMP 1.1 {command} needs"
            raise LocalCommandError(msg)
        fields = {"subscription": info.subscription, "message-id": info.message_id}
    else:
        fields = {"message-id": info.message_id}
    if transaction is not None:
        fields["transaction"] = _text("transaction", transaction, command)
    if receipt is not None:
        fields["receipt"] = _text("receipt", receipt, command)
    check_headers(command, version, fields)
    return Frame(command, fields)


def begin(version: Version, transaction: str, *, receipt: str | None = None) -> Frame:
    """Build a BEGIN frame that starts *transaction*.

    Raises:
        LocalCommandError: an empty id, or one *version* cannot carry.
    """
    return _transaction_frame("BEGIN", version, transaction, receipt)


def commit(version: Version, transaction: str, *, receipt: str | None = None) -> Frame:
    """Build a COMMIT frame that commits *transaction*.

    Raises:
        LocalCommandError: an empty id, or one *version* cannot carry.
    """
    return _transaction_frame("COMMIT", version, transaction, receipt)


def abort(version: Version, transaction: str, *, receipt: str | None = None) -> Frame:
    """Build an ABORT frame that rolls *transaction* back.

    Raises:
        LocalCommandError: an empty id, or one *version* cannot carry.
    """
    return _transaction_frame("ABORT", version, transaction, receipt)


def disconnect(version: Version, *, receipt: str | None = None) -> Frame:
    """Build a DISCONNECT frame.

    Spec 1.2: "the client SHOULD ... send a DISCONNECT frame with a receipt header
    set" and wait for the RECEIPT before closing, so that nothing sent is lost.

    Raises:
        LocalCommandError: a receipt id *version* cannot carry.
    """
    fields = {} if receipt is None else {"receipt": _text("receipt", receipt, "DISCONNECT")}
    check_headers("DISCONNECT", version, fields)
    return Frame("DISCONNECT", fields)


def heart_beat() -> bytes:
    """Return the bytes of one client heart-beat: an end-of-line (spec 1.1+)."""
    return HEARTBEAT_BYTES


def _transaction_frame(
    command: str, version: Version, transaction: str, receipt: str | None
) -> Frame:
    fields = {"transaction": _text("transaction", transaction, command)}
    if receipt is not None:
        fields["receipt"] = _text("receipt", receipt, command)
    check_headers(command, version, fields)
    return Frame(command, fields)


def _text(name: str, value: object, command: str) -> str:
    if not isinstance(value, str):
        msg = f"the {name} of {command} must be a str, got a {type(value).__name__}"
        raise LocalCommandError(msg)
    if not value:
        msg = f"the {name} of {command} must not be empty"
        raise LocalCommandError(msg)
    return value


def _offered(versions: Iterable[Version]) -> tuple[Version, ...]:
    given = set(versions)
    for version in given:
        value: object = version
        if not isinstance(value, Version):
            msg = f"versions must be stomp_frame.Version members, got {version!r}"
            raise LocalCommandError(msg)
    if not given:
        msg = "offer at least one STOMP version"
        raise LocalCommandError(msg)
    return tuple(v for v in ALL_VERSIONS if v in given)


def _heart_beat_pair(heart_beat: tuple[int, int]) -> tuple[int, int]:
    given: object = heart_beat
    if (
        type(given) is not tuple
        or len(given) != 2
        or not all(type(x) is int and x >= 0 for x in given)
    ):
        msg = f"heart_beat must be a pair of non-negative ints (milliseconds), got {given!r}"
        raise LocalCommandError(msg)
    return heart_beat

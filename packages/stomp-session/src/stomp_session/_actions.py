"""The caller's actions: each checked, built for the negotiated version, returned as bytes."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Final

import stomp_commands as commands
from stomp_commands import AckMode, Headers, LocalCommandError
from stomp_frame import Frame, InvalidFrame, Limits, Version, serialize
from stomp_session._errors import LocalProtocolError
from stomp_session._events import MessageReceived, Subscription
from stomp_session._state import Input, State, StateMachine
from stomp_session._wire import ACK_LINE, NACK_LINE, SEND_PREFIXES, escape_v1_2

__all__ = ["Actions"]

_V1_2: Final = Version.V1_2
# Enum members as module constants: reading one from its class costs about five times a
# global lookup (an attribute of a class with a metaclass), and these are read per frame.
_CONNECTED: Final = State.CONNECTED
_ACK: Final = Input.ACK
_NACK: Final = Input.NACK
_SEND: Final = Input.SEND


class Actions(StateMachine):
    """The part of :class:`~stomp_session.Session` that takes the caller's actions.

    Each action (SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT, ABORT,
    DISCONNECT) is checked against the state table and the session's records
    (subscriptions, open transactions, pending receipts), built by stomp-commands for the
    negotiated version, held to the session's own :class:`~stomp_frame.Limits`, and
    returned as the bytes to write; a misuse raises
    :class:`~stomp_session.LocalProtocolError` and changes nothing. A plain SEND and a
    STOMP 1.2 ACK or NACK take a fast path that writes the same bytes (see
    ``stomp_session._wire``).
    """

    __slots__ = ("_disconnect_receipt",)  # set by Session.__init__, as the attributes below

    _version: Version | None
    _generation: int
    _limits: Limits
    _short_frame: int
    _ids: itertools.count[int]
    _subscriptions: dict[str, Subscription]
    _transactions: dict[str, None]
    _receipts: dict[str, str]
    _disconnect_receipt: str | None
    _send_prefixes: dict[str, bytes]

    def _connected_version(self, event: Input) -> Version:
        self._next_state(event)
        assert self._version is not None
        return self._version

    def _check_receipt(self, receipt: str | None) -> None:
        if receipt is not None and receipt in self._receipts:
            msg = f"the receipt id {receipt!r} is already pending; use a new id"
            raise LocalProtocolError(msg)

    def _check_transaction(self, transaction: str | None) -> None:
        if transaction is not None and transaction not in self._transactions:
            msg = f"no open transaction {transaction!r} (begin it first)"
            raise LocalProtocolError(msg)

    def _encode(self, frame: Frame, version: Version, receipt: str | None) -> bytes:
        try:
            data = serialize(frame, version)
        except InvalidFrame as exc:
            raise LocalProtocolError(str(exc)) from exc
        self._check_limits(frame, data)
        if receipt is not None:
            self._receipts[receipt] = frame.command
        return data

    def _check_limits(self, frame: Frame, data: bytes) -> None:
        """Refuse a frame the session's own :class:`~stomp_frame.Limits` would refuse to read.

        What the client writes is held to the bounds it holds the broker to: a broker
        with the same limits would refuse it (ActiveMQ closes the connection).
        """
        size = len(data)
        if size <= self._short_frame:
            return  # too short to break any bound: the common case, one comparison
        limits = self._limits
        if size > limits.max_frame_size:
            msg = (
                f"the {frame.command} frame is {size} bytes, more than Limits.max_frame_size "
                f"({limits.max_frame_size})"
            )
            raise LocalProtocolError(msg)
        head = size - len(frame.body) - 1
        if head <= limits.max_header_line and head < 2 * limits.max_headers:
            return  # a large body, a short header block
        lines = data[:head].split(b"\n")[:-2]  # the command line, then one line a header
        if len(lines) - 1 > limits.max_headers:
            msg = (
                f"the {frame.command} frame has {len(lines) - 1} headers, more than "
                f"Limits.max_headers ({limits.max_headers})"
            )
            raise LocalProtocolError(msg)
        longest = max(len(line) for line in lines)
        if longest > limits.max_header_line:
            msg = (
                f"the {frame.command} frame has a {longest}-byte header line, more than "
                f"Limits.max_header_line ({limits.max_header_line})"
            )
            raise LocalProtocolError(msg)

    def send(
        self,
        destination: str,
        body: bytes = b"",
        *,
        headers: Headers | None = None,
        content_length: bool = True,
        transaction: str | None = None,
        receipt: str | None = None,
    ) -> bytes:
        """Return the SEND bytes for a message to *destination*.

        Args:
            destination: Where to send.
            body: The body.
            headers: Extra headers (``content-type``, ``persistent``, ...).
            content_length: Write ``content-length`` (default); ``False`` makes
                ActiveMQ deliver a JMS TextMessage.
            transaction: Send inside this open transaction.
            receipt: Ask for a RECEIPT with this id (tracked until it arrives).

        Raises:
            LocalProtocolError: not connected, unknown transaction, receipt id already
                pending, or a frame the version cannot carry.
        """
        plain = (
            headers is None
            and transaction is None
            and receipt is None
            and content_length
            and type(body) is bytes
        )
        if plain:
            prefix = self._send_prefixes.get(destination)
            if prefix is not None:
                if self._state is not _CONNECTED:
                    self._next_state(_SEND)  # raises: SEND is allowed in CONNECTED only
                data = b"".join((prefix, b"%d\n\n" % len(body), body, b"\x00"))
                if len(data) <= self._short_frame:
                    return data  # byte for byte what the full path below writes
        version = self._connected_version(_SEND)
        self._check_transaction(transaction)
        self._check_receipt(receipt)
        try:
            frame = commands.send(
                version,
                destination,
                body,
                headers=headers,
                content_length=content_length,
                transaction=transaction,
                receipt=receipt,
            )
        except LocalCommandError as exc:
            raise LocalProtocolError(str(exc)) from exc
        data = self._encode(frame, version, receipt)
        if plain and destination not in self._send_prefixes:
            # The full path writes content-length last: keep what comes before its value.
            tail = b"content-length:%d\n\n%s\x00" % (len(body), body)
            if data.endswith(tail) and type(destination) is str:
                if len(self._send_prefixes) >= SEND_PREFIXES:
                    self._send_prefixes.clear()
                self._send_prefixes[destination] = data[: -len(tail)] + b"content-length:"
        return data

    def subscribe(
        self,
        destination: str,
        *,
        id: str | None = None,
        ack: AckMode = "auto",
        headers: Headers | None = None,
        receipt: str | None = None,
    ) -> tuple[Subscription, bytes]:
        """Subscribe to *destination*; return the table's record and the SUBSCRIBE bytes.

        The subscription stays in the table until :meth:`unsubscribe`, across lost
        connections, and is replayed with exactly the same headers (its ``receipt``
        aside) after every new CONNECTED.

        Args:
            destination: What to subscribe to.
            id: The subscription id; generated (``sub-N``) when not given.
            ack: ``auto``, ``client`` or ``client-individual``.
            headers: Extra headers (selector, prefetch, ...).
            receipt: Ask for a RECEIPT with this id.

        Raises:
            LocalProtocolError: not connected, the id is taken, the receipt id is
                pending, or the version cannot express the subscription.
        """
        version = self._connected_version(Input.SUBSCRIBE)
        self._check_receipt(receipt)
        if id is None:
            id = self._new_id("sub", self._subscriptions)
        elif id in self._subscriptions:
            msg = f"the subscription id {id!r} is already in use"
            raise LocalProtocolError(msg)
        try:
            frame = commands.subscribe(
                version, destination, id=id, ack=ack, headers=headers, receipt=receipt
            )
        except LocalCommandError as exc:
            raise LocalProtocolError(str(exc)) from exc
        data = self._encode(frame, version, receipt)
        replay = frame
        if receipt is not None:
            replay = Frame("SUBSCRIBE", [pair for pair in frame.headers if pair[0] != "receipt"])
        subscription = Subscription(id=id, destination=destination, ack=ack, frame=replay)
        self._subscriptions[id] = subscription
        return subscription, data

    def unsubscribe(self, subscription: Subscription | str, *, receipt: str | None = None) -> bytes:
        """Remove a subscription from the table; while connected, return the UNSUBSCRIBE bytes.

        Without a connection (disconnected, connecting, closed) the subscription is
        only forgotten, so it is not replayed, and the result is empty.

        Raises:
            LocalProtocolError: unknown subscription, disconnecting, a receipt asked
                for without a connection, or a receipt id already pending.
        """
        self._next_state(Input.UNSUBSCRIBE)
        sub_id = subscription.id if isinstance(subscription, Subscription) else subscription
        if sub_id not in self._subscriptions:
            msg = f"no subscription {sub_id!r} in the table"
            raise LocalProtocolError(msg)
        if self._state is not _CONNECTED:
            if receipt is not None:
                msg = f"no connection to ask a receipt on (the session is {self._state.value})"
                raise LocalProtocolError(msg)
            del self._subscriptions[sub_id]
            return b""
        version = self._connected_version(Input.UNSUBSCRIBE)
        self._check_receipt(receipt)
        try:
            frame = commands.unsubscribe(version, id=sub_id, receipt=receipt)
        except LocalCommandError as exc:
            raise LocalProtocolError(str(exc)) from exc
        data = self._encode(frame, version, receipt)
        del self._subscriptions[sub_id]
        return data

    def forget(self, subscription: Subscription | str) -> None:
        """Remove a subscription from the table without writing anything; ignore unknown ids.

        For a subscription the broker refused: it is not replayed.
        """
        sub_id = subscription.id if isinstance(subscription, Subscription) else subscription
        self._subscriptions.pop(sub_id, None)

    def ack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: str | None = None,
    ) -> bytes:
        """Return the ACK bytes for *message*, built for the negotiated version.

        Raises:
            LocalProtocolError: not connected; the message came on an earlier
                connection (the broker would refuse the ACK, or on RabbitMQ
                acknowledge another message: it redelivers the message instead);
                its subscription acknowledges automatically; unknown transaction;
                pending receipt id; or the message lacks the version's ack headers.
        """
        return self._acknowledge(_ACK, message, transaction, receipt)

    def nack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: str | None = None,
    ) -> bytes:
        """Return the NACK bytes for *message* (STOMP 1.1 and later).

        Raises:
            LocalProtocolError: as for :meth:`ack`, and on STOMP 1.0 (no NACK there).
        """
        return self._acknowledge(_NACK, message, transaction, receipt)

    def _acknowledge(
        self,
        event: Input,
        message: MessageReceived,
        transaction: str | None,
        receipt: str | None,
    ) -> bytes:
        if (
            self._state is _CONNECTED  # where ACK and NACK are allowed: the hot path
            and self._version is _V1_2
            and transaction is None
            and receipt is None
            and message.generation == self._generation
        ):
            subscription = message.subscription
            ack_id = message.message.ack_id
            if (
                (subscription is None or subscription.ack != "auto")
                and ack_id is not None
                and "\x00" not in ack_id
            ):
                # Byte for byte what the full path below writes (escaped as 1.2 says).
                line = ACK_LINE if event is _ACK else NACK_LINE
                data = b"".join((line, escape_v1_2(ack_id), b"\n\n\x00"))
                if len(data) <= self._short_frame:
                    return data
        version = self._connected_version(event)
        if message.generation != self._generation:
            command = event.value.upper()
            msg = (
                f"cannot {command} a message received on an earlier connection: the broker "
                "redelivers it on this one (and RabbitMQ would apply the stale ack to "
                "another message)"
            )
            raise LocalProtocolError(msg)
        if message.subscription is not None and message.subscription.ack == "auto":
            command = event.value.upper()
            msg = (
                f"cannot {command} a message of subscription {message.subscription.id!r}, "
                "whose ack mode is auto"
            )
            raise LocalProtocolError(msg)
        self._check_transaction(transaction)
        self._check_receipt(receipt)
        build = commands.ack if event is _ACK else commands.nack
        try:
            frame = build(version, message.message, transaction=transaction, receipt=receipt)
        except LocalCommandError as exc:
            raise LocalProtocolError(str(exc)) from exc
        return self._encode(frame, version, receipt)

    def begin(
        self, transaction: str | None = None, *, receipt: str | None = None
    ) -> tuple[str, bytes]:
        """Begin a transaction; return its id (generated ``tx-N`` if not given) and the bytes.

        Raises:
            LocalProtocolError: not connected, the id is already open, or the receipt
                id is pending.
        """
        version = self._connected_version(Input.BEGIN)
        self._check_receipt(receipt)
        if transaction is None:
            transaction = self._new_id("tx", self._transactions)
        elif transaction in self._transactions:
            msg = f"the transaction {transaction!r} is already open"
            raise LocalProtocolError(msg)
        try:
            frame = commands.begin(version, transaction, receipt=receipt)
        except LocalCommandError as exc:
            raise LocalProtocolError(str(exc)) from exc
        data = self._encode(frame, version, receipt)
        self._transactions[transaction] = None
        return transaction, data

    def commit(self, transaction: str, *, receipt: str | None = None) -> bytes:
        """Return the COMMIT bytes for an open transaction, which is then closed.

        Raises:
            LocalProtocolError: not connected, no such open transaction, or the
                receipt id is pending.
        """
        return self._end_transaction(Input.COMMIT, transaction, receipt)

    def abort(self, transaction: str, *, receipt: str | None = None) -> bytes:
        """Return the ABORT bytes for an open transaction, which is then closed.

        Raises:
            LocalProtocolError: not connected, no such open transaction, or the
                receipt id is pending.
        """
        return self._end_transaction(Input.ABORT, transaction, receipt)

    def _end_transaction(self, event: Input, transaction: str, receipt: str | None) -> bytes:
        version = self._connected_version(event)
        if transaction not in self._transactions:
            msg = f"no open transaction {transaction!r} to {event.value}"
            raise LocalProtocolError(msg)
        self._check_receipt(receipt)
        build = commands.commit if event is Input.COMMIT else commands.abort
        frame = build(version, transaction, receipt=receipt)
        data = self._encode(frame, version, receipt)
        del self._transactions[transaction]
        return data

    def disconnect(self, *, receipt: str | None = None) -> bytes:
        """Return the DISCONNECT bytes; the session waits for its RECEIPT.

        Spec 1.2: "the client SHOULD ... send a DISCONNECT frame with a receipt header
        set" and close only after the RECEIPT, so nothing sent is lost. A receipt id
        is generated when not given. When :class:`~stomp_session.Disconnected`
        arrives, close the transport; if it never comes (some brokers do not send
        it), close after a timeout of your choosing and call :meth:`connection_lost`.

        Raises:
            LocalProtocolError: not connected, or the receipt id is pending or not a
                valid header value.
        """
        version = self._connected_version(Input.DISCONNECT)
        self._check_receipt(receipt)
        if receipt is None:
            receipt = self._new_id("disconnect", self._receipts)
        try:
            frame = commands.disconnect(version, receipt=receipt)
        except LocalCommandError as exc:
            raise LocalProtocolError(str(exc)) from exc
        data = self._encode(frame, version, receipt)
        self._disconnect_receipt = receipt
        self._step(Input.DISCONNECT)
        return data

    def _new_id(self, prefix: str, taken: Mapping[str, object]) -> str:
        while True:
            candidate = f"{prefix}-{next(self._ids)}"
            if candidate not in taken:
                return candidate

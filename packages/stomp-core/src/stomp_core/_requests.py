"""The caller's requests: each checked, built by the session, written to the outbound buffer."""

from __future__ import annotations

import dataclasses
import heapq
from collections import deque
from typing import Final

from stomp_commands import AckMode, Headers
from stomp_core._errors import (
    BrokerError,
    ClientError,
    ConnectionLost,
    InvalidRequest,
    MessageStale,
    NotConnected,
)
from stomp_core._events import CoreEvent, RequestDone
from stomp_core._model import positive
from stomp_core._outbound import Outbound
from stomp_core._state import ClientState
from stomp_session import LocalProtocolError, MessageReceived, Session, Subscription

__all__ = ["Requests", "message_key", "session_error"]

_ACK_BATCH = 512
"""Coalesced ACKs written together at most."""

_ATTEMPTING = (ClientState.CONNECTING, ClientState.RECONNECTING)
_CONNECTED: Final = ClientState.CONNECTED
"""A module constant: an enum member read from its class costs about five global lookups."""

RECENT_ACKS = 4096
"""Message ids of the latest ACKs kept: those of a lost connection may come back unmarked."""


class _Waiting:
    __slots__ = ("deadline", "subscription", "timeout", "what")

    def __init__(
        self, what: str, deadline: float, timeout: float, subscription: str | None
    ) -> None:
        self.what = what
        self.deadline = deadline
        self.timeout = timeout
        self.subscription = subscription


def message_key(message_id: str) -> str:
    """What identifies a message across its deliveries, from its ``message-id``.

    ActiveMQ keeps a message's id from one delivery to the next. Artemis writes
    ``<delivery id>,<message id>``, whose first part changes with every delivery: the
    message is the second part.
    """
    head, comma, tail = message_id.rpartition(",")
    if comma and head.isdigit() and tail.isdigit():
        return tail
    return message_id


def session_error(exc: LocalProtocolError) -> InvalidRequest:
    """The session's refusal as the client's :class:`~stomp_core.InvalidRequest`."""
    error = InvalidRequest(str(exc))
    error.__cause__ = exc
    return error


class Requests(Outbound):
    """The part of :class:`~stomp_core.ClientCore` that takes the caller's requests.

    Each request is checked (connection, stale message, rolled-back transaction,
    arguments), built for the negotiated version by the session, written to the
    outbound buffer, and, when it asks for a receipt, awaited under a deadline.
    """

    _session: Session
    _state: ClientState
    _events: deque[CoreEvent]
    _errors: deque[BrokerError]
    _cause: ClientError | None
    _aborted: set[str]
    _discarded: int
    _inbox: deque[MessageReceived]

    def is_current(self, message: MessageReceived) -> bool:
        """Whether *message* came on the current connection (so that it can be acknowledged)."""
        return self._session.is_current(message)

    def _init_requests(self) -> None:
        self._waiting: dict[str, _Waiting] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._receipt_ids = 0
        # Ids acknowledged on this connection, the latest RECENT_ACKS; once it is lost,
        # those that come back are marked acked_before (the broker lost the ACK). A
        # bounded deque: a dict trimmed from its head costs a scan past its deleted
        # entries on every ACK (about 1.3 us each, 0.13 s per 100,000 messages).
        self._recent_acks: deque[str] = deque(maxlen=RECENT_ACKS)
        self._acked_on_lost: dict[str, None] = {}

    def _remember_acks(self) -> None:
        """The connection is lost: its recent ACKs may not have reached the broker."""
        lost = self._acked_on_lost
        lost.update(dict.fromkeys(map(message_key, self._recent_acks)))
        self._recent_acks.clear()
        while len(lost) > RECENT_ACKS:
            del lost[next(iter(lost))]

    def _acked_before(self, event: MessageReceived) -> MessageReceived:
        """Mark *event* if the client acknowledged its message on a lost connection."""
        if self._acked_on_lost.pop(message_key(event.message.message_id), False) is None:
            self._log.info(
                "message %r comes again after its ACK was lost with a connection: "
                "marked acked_before (and redelivered)",
                event.message.message_id,
            )
            return dataclasses.replace(event, acked_before=True)
        return event

    def check_usable(self) -> None:
        """Raise unless requests can be made now or once the connection is up.

        Raises:
            BrokerError: an ERROR that answered no request arrived since the last call
                (each such ERROR is raised once, by the next call).
            NotConnected: not started, ending, or ended.
        """
        if self._errors:
            raise self._errors.popleft()
        state = self._state
        if state is _CONNECTED or state in _ATTEMPTING:
            return
        if self._cause is not None and state is ClientState.CLOSED:
            raise self._cause.with_traceback(None)  # why it ended: gave up, refused, lost
        if state is ClientState.DISCONNECTING:
            msg = "not connected: the client is disconnecting"
        else:
            msg = f"not connected: the client is {state.value}: call connect() first"
        raise NotConnected(msg)

    def _end_waiting(self, failure: ClientError) -> None:
        for receipt_id, waiting in self._waiting.items():
            self.counters.receipts_lost += 1
            self._log.debug("receipt %s for %s abandoned", receipt_id, waiting.what)
            self._events.append(RequestDone(receipt_id=receipt_id, error=failure))
        self._waiting.clear()
        self._deadlines.clear()

    def _require_ready(self) -> None:
        self.check_usable()
        if self._state is not _CONNECTED:
            msg = f"not connected: the client is {self._state.value} (wait for the connection)"
            raise NotConnected(msg)

    def _new_receipt(self, *, given: bool | str) -> str | None:
        receipt: object = given
        if receipt is False:
            return None
        if receipt is True:
            while True:
                self._receipt_ids += 1
                candidate = f"receipt-{self._receipt_ids}"
                if candidate not in self._waiting:
                    return candidate
        if not isinstance(receipt, str) or not receipt:
            msg = f"receipt must be True, False or a non-empty id, got {receipt!r}"
            raise InvalidRequest(msg)
        return given  # type: ignore[return-value]

    def _await(
        self,
        receipt_id: str | None,
        what: str,
        timeout: float | None,
        now: float,
        subscription: str | None = None,
    ) -> None:
        if receipt_id is None:
            return
        wait = self._settings.receipt_timeout if timeout is None else timeout
        deadline = now + wait
        self._waiting[receipt_id] = _Waiting(what, deadline, wait, subscription)
        heapq.heappush(self._deadlines, (deadline, receipt_id))
        self.counters.receipts_awaited += 1

    def _settle(self, receipt_id: str, error: ClientError | None) -> None:
        waiting = self._waiting.pop(receipt_id, None)
        if waiting is None:
            self._log.debug("RECEIPT %r is no longer awaited", receipt_id)
            return
        if waiting.subscription is not None and isinstance(error, BrokerError):
            # The broker refused the SUBSCRIBE: replaying it after a reconnection would
            # only be refused again (and Artemis closes the connection each time).
            self._session.forget(waiting.subscription)
        self._events.append(RequestDone(receipt_id=receipt_id, error=error))

    def forget_receipt(self, receipt_id: str) -> None:
        """Stop awaiting *receipt_id* (its caller gave up: cancelled); a late RECEIPT is ignored."""
        self._waiting.pop(receipt_id, None)

    def _check_transaction(self, transaction: str | None) -> None:
        if transaction is not None and transaction in self._aborted:
            msg = (
                f"the transaction {transaction!r} was rolled back by the broker when the "
                "connection was lost"
            )
            raise ConnectionLost(msg, cause=None)

    def _check_timeout(self, timeout: float | None) -> float | None:
        return positive("timeout", timeout, optional=True)

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
        now: float,
    ) -> str | None:
        """Put a SEND in the outbound buffer; return its receipt id (when one is asked).

        Raises:
            NotConnected: no connection is up (wait for one while reconnecting).
            ConnectionLost: *transaction* was rolled back with a lost connection.
            InvalidRequest: a frame the version cannot carry, an unknown transaction, ...
        """
        if timeout is not None:
            timeout = self._check_timeout(timeout)
        if self._state is not _CONNECTED or self._errors:
            self._require_ready()
        if self._sends_unwritten:
            self._raise_unwritten()
        if transaction is not None:
            self._check_transaction(transaction)
        receipt_id = None if receipt is False else self._new_receipt(given=receipt)
        try:
            data = self._session.send(
                destination,
                body,
                headers=headers,
                content_length=content_length,
                transaction=transaction,
                receipt=receipt_id,
            )
        except LocalProtocolError as exc:
            raise session_error(exc) from exc
        self._write(data, now, message=receipt_id is None)
        if receipt_id is not None:
            self._await(receipt_id, f"SEND to {destination}", timeout, now)
        return receipt_id

    def subscribe(
        self,
        destination: str,
        *,
        ack: AckMode = "auto",
        id: str | None = None,
        headers: Headers | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
        now: float,
    ) -> tuple[Subscription, str | None]:
        """Subscribe; return the table's record (replayed on every reconnection) and receipt id.

        Raises:
            NotConnected, InvalidRequest: as for :meth:`send`.
        """
        timeout = self._check_timeout(timeout)
        self._require_ready()
        receipt_id = self._new_receipt(given=receipt)
        try:
            subscription, data = self._session.subscribe(
                destination, id=id, ack=ack, headers=headers, receipt=receipt_id
            )
        except LocalProtocolError as exc:
            raise session_error(exc) from exc
        self._write(data, now)
        self._await(receipt_id, f"SUBSCRIBE to {destination}", timeout, now, subscription.id)
        return subscription, receipt_id

    def unsubscribe(
        self,
        subscription: Subscription | str,
        *,
        receipt: bool | str = False,
        timeout: float | None = None,
        now: float,
    ) -> str | None:
        """End a subscription; without a connection it is only forgotten (not replayed).

        Queued messages of it that were not taken stay in the inbox.

        Raises:
            InvalidRequest: an unknown subscription, or a receipt without a connection.
        """
        timeout = self._check_timeout(timeout)
        if self._state is not _CONNECTED and receipt is not False:
            msg = f"no connection to ask a receipt on (the client is {self._state.value})"
            raise InvalidRequest(msg)
        receipt_id = self._new_receipt(given=receipt) if self._state is _CONNECTED else None
        sub_id = subscription.id if isinstance(subscription, Subscription) else subscription
        try:
            data = self._session.unsubscribe(sub_id, receipt=receipt_id)
        except LocalProtocolError as exc:
            raise session_error(exc) from exc
        if data:
            self._write(data, now)
            self._await(receipt_id, f"UNSUBSCRIBE {sub_id}", timeout, now)
        return receipt_id if data else None

    def ack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
        defer: bool = False,
        now: float,
    ) -> str | None:
        """Acknowledge *message*; return the receipt id (when one is asked).

        With *defer* (the adapter knows more messages wait) and no receipt, the ACK
        may wait up to ``ack_delay`` to leave with others (``coalesce_acks``).

        Raises:
            MessageStale: the message came on an earlier connection (refused at once:
                the broker delivers it again).
            NotConnected, InvalidRequest: as for :meth:`send` (an ``auto`` subscription's
                message, NACK on STOMP 1.0, ...).
        """
        return self._settle_message(
            message,
            positive_ack=True,
            transaction=transaction,
            receipt=receipt,
            timeout=timeout,
            defer=defer,
            now=now,
        )

    def nack(
        self,
        message: MessageReceived,
        *,
        transaction: str | None = None,
        receipt: bool | str = False,
        timeout: float | None = None,
        defer: bool = False,
        now: float,
    ) -> str | None:
        """NACK *message* (STOMP 1.1+); as :meth:`ack`."""
        return self._settle_message(
            message,
            positive_ack=False,
            transaction=transaction,
            receipt=receipt,
            timeout=timeout,
            defer=defer,
            now=now,
        )

    def settle_handled(self, message: MessageReceived, command: str, now: float) -> bool:
        """ACK (``"ack"``) or NACK (``"nack"``) a message a handler took, coalesced.

        The handler's outcome is final: an ACK or NACK the core refuses (a stale
        message, a connection gone) is logged, not raised; the broker delivers the
        message again. Returns whether it went into the outbound buffer.
        """
        settle = self.ack if command == "ack" else self.nack
        try:
            settle(message, defer=True, now=now)
        except ClientError as exc:
            self._log.debug("%s of %r not sent: %s", command, message.message_id, exc)
            return False
        return True

    def _settle_message(
        self,
        message: MessageReceived,
        *,
        positive_ack: bool,
        transaction: str | None,
        receipt: bool | str,
        timeout: float | None,
        defer: bool,
        now: float,
    ) -> str | None:
        session = self._session
        if not session.is_current(message):
            self.refuse_stale(message, "ACK" if positive_ack else "NACK")
        if timeout is not None:
            timeout = self._check_timeout(timeout)
        if self._state is not _CONNECTED or self._errors:
            self._require_ready()
        if transaction is not None:
            self._check_transaction(transaction)
        receipt_id = None if receipt is False else self._new_receipt(given=receipt)
        settle = session.ack if positive_ack else session.nack
        try:
            data = settle(message, transaction=transaction, receipt=receipt_id)
        except LocalProtocolError as exc:
            raise session_error(exc) from exc
        counters = self.counters
        if positive_ack:
            counters.messages_acked += 1
            self._recent_acks.append(message.message.message_id)
        else:
            counters.messages_nacked += 1
        if defer and receipt_id is None and self._settings.coalesce_acks:
            deferred = self._deferred
            if not deferred:
                self._deferred_at = now
            deferred.append(data)
            counters.frames_out += 1
            if len(deferred) >= _ACK_BATCH:
                self._move_deferred(now)
            return None
        self._write(data, now)
        if receipt_id is not None:
            command = "ACK" if positive_ack else "NACK"
            self._await(receipt_id, f"{command} of {message.message.message_id}", timeout, now)
        return receipt_id

    def drop_stale(self, message: MessageReceived) -> bool:
        """Whether an adapter must drop *message*, queued for a handler, after a lost connection.

        True for a message of an acknowledging subscription that came on an earlier
        connection: it can no longer be acknowledged and the broker delivers it again.
        It is counted in the next :class:`~stomp_core.Reconnected` report's ``discarded``.
        """
        subscription = message.subscription
        if subscription is None or subscription.ack == "auto" or self.is_current(message):
            return False
        self._discarded += 1
        self.counters.messages_discarded += 1
        return True

    def refuse_stale(self, message: MessageReceived, command: str = "ACK") -> None:
        """Raise :class:`MessageStale` when *message* came on an earlier connection.

        Adapters call it before they wait for a connection, so that such an ACK is
        refused at once, even while reconnecting.
        """
        if not self._session.is_current(message):
            msg = (
                f"cannot {command} message {message.message.message_id!r}: it came on an "
                "earlier connection, and the broker delivers it again on the current one"
            )
            raise MessageStale(msg)

    def begin(
        self,
        transaction: str | None = None,
        *,
        receipt: bool | str = False,
        timeout: float | None = None,
        now: float,
    ) -> tuple[str, str | None]:
        """Begin a transaction; return its id (``tx-N`` unless given) and the receipt id."""
        timeout = self._check_timeout(timeout)
        self._require_ready()
        receipt_id = self._new_receipt(given=receipt)
        try:
            transaction, data = self._session.begin(transaction, receipt=receipt_id)
        except LocalProtocolError as exc:
            raise session_error(exc) from exc
        self._aborted.discard(transaction)
        self._write(data, now)
        self._await(receipt_id, f"BEGIN {transaction}", timeout, now)
        return transaction, receipt_id

    def commit(
        self,
        transaction: str,
        *,
        receipt: bool | str = False,
        timeout: float | None = None,
        now: float,
    ) -> str | None:
        """Commit *transaction*; return the receipt id.

        Raises:
            ConnectionLost: the connection was lost and the broker rolled it back.
            NotConnected, InvalidRequest: as for :meth:`send`.
        """
        if transaction in self._aborted:
            msg = (
                f"cannot commit {transaction!r}: the connection was lost and the broker "
                "rolled it back"
            )
            raise ConnectionLost(msg)
        return self._end_transaction(
            transaction, commit=True, receipt=receipt, timeout=timeout, now=now
        )

    def abort(
        self,
        transaction: str,
        *,
        receipt: bool | str = False,
        timeout: float | None = None,
        now: float,
    ) -> str | None:
        """Abort *transaction*; a transaction rolled back with a lost connection ends quietly."""
        if transaction in self._aborted:
            self._aborted.discard(transaction)
            return None
        return self._end_transaction(
            transaction, commit=False, receipt=receipt, timeout=timeout, now=now
        )

    def _end_transaction(
        self,
        transaction: str,
        *,
        commit: bool,
        receipt: bool | str,
        timeout: float | None,
        now: float,
    ) -> str | None:
        timeout = self._check_timeout(timeout)
        self._require_ready()
        receipt_id = self._new_receipt(given=receipt)
        end = self._session.commit if commit else self._session.abort
        try:
            data = end(transaction, receipt=receipt_id)
        except LocalProtocolError as exc:
            raise session_error(exc) from exc
        self._write(data, now)
        command = "COMMIT" if commit else "ABORT"
        self._await(receipt_id, f"{command} {transaction}", timeout, now)
        return receipt_id

    def _discard_unackable(self) -> int:
        inbox = self._inbox
        kept = [m for m in inbox if m.subscription is not None and m.subscription.ack == "auto"]
        discarded = len(inbox) - len(kept)
        if discarded:
            inbox.clear()
            inbox.extend(kept)
            self._discarded += discarded
            self.counters.messages_discarded += discarded
        return discarded

    def next_message(self) -> MessageReceived | None:
        """The oldest received message not yet taken, or ``None``."""
        inbox = self._inbox
        return inbox.popleft() if inbox else None

    @property
    def messages_waiting(self) -> int:
        """How many received messages wait in the inbox."""
        return len(self._inbox)

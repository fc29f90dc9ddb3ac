"""Handlers per subscription, decided once for every client that runs them.

A client with handlers (stomp-twisted, stomp-asyncio) hands each message of a
subscription to a callable. What follows is decided here, as data, with time as an
input: how many handlers run at once (the rest wait in the subscription's queue),
how a handler's success or failure settles its message given the ack mode, the
version and the error destination (ACK, NACK, a copy to the error destination then
ACK, or on STOMP 1.0 the "poison pill": leave it unacknowledged and end the client),
when reading must pause and resume, and what a graceful end still waits for and
reports as unfinished. The adapter runs the handlers, sends the copies and writes
the acknowledgements the :class:`Dispatcher`'s effects ask for.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from stomp_commands import AckMode
from stomp_core._errors import HandlerFailed, InvalidRequest
from stomp_core._model import UnfinishedHandler
from stomp_frame import Version
from stomp_session import Connected, MessageReceived

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "ERROR_HEADER",
    "FORWARD_EXCLUDED_HEADERS",
    "PREFETCH_HEADERS",
    "Delivery",
    "DispatchEffect",
    "Dispatcher",
    "ErrorAction",
    "HandlerPoisoned",
    "HandlerState",
    "PauseReading",
    "ResumeReading",
    "RunHandler",
    "SettleMessage",
    "default_ack",
    "describe_failure",
    "forward_copy",
    "prefetch_headers",
]

DEFAULT_MAX_IN_FLIGHT: Final = 16
"""The default per-subscription limit on messages handled at once."""

PREFETCH_HEADERS: Final = ("activemq.prefetchSize", "prefetch-count")
"""The SUBSCRIBE headers (ActiveMQ's, RabbitMQ's) that bound the unacknowledged messages a
broker sends; set to ``max_in_flight`` unless given (and not for ``auto`` subscriptions)."""

ERROR_HEADER: Final = "handler-error"
"""The header added to a copy forwarded to an error destination: the failure's
description (``ExceptionType: message``, on one line, at most 1000 characters)."""

FORWARD_EXCLUDED_HEADERS: Final[frozenset[str]] = frozenset(
    {
        "message-id",
        "destination",
        "timestamp",
        "expires",
        "priority",
        "subscription",
        "ack",
        "redelivered",
        "content-length",
        # Set by the client's own parameters on the copy, or meaningless on it.
        "receipt",
        "transaction",
        "persistent",
        ERROR_HEADER,
    }
)
"""Headers of a failed message that are not copied when it is forwarded to an error
destination: the broker's own (``message-id``, ``destination``, ``timestamp``,
``expires``, ``priority``, ``subscription``, ``ack``, ``redelivered``), ``content-length``
(written anew), and those the copy sets itself (``persistent:true``, the error header)."""


class ErrorAction(enum.Enum):
    """What to do with a message whose handler raised (the same in every client)."""

    ACK = "ack"
    """Acknowledge it: the message is dropped."""
    NACK = "nack"
    """NACK it (STOMP 1.1+): the broker redelivers it or dead-letters it, per its policy.
    On STOMP 1.0, which has no NACK, this acts as :attr:`DISCONNECT`."""
    FORWARD = "forward"
    """Send a persistent copy to the subscription's error destination, then acknowledge it.
    Without an error destination this acts as the default without one."""
    DISCONNECT = "disconnect"
    """Leave it unacknowledged and disconnect gracefully (the "poison pill"): the broker
    delivers it again; the client ends with :class:`~stomp_core.HandlerFailed`."""


def describe_failure(error: BaseException) -> str:
    """*error* as ``Type: message`` on one line, at most 1000 characters (a header value)."""
    text = f"{type(error).__qualname__}: {error}" if str(error) else type(error).__qualname__
    text = " ".join(text.split())  # one line: no header can hold a line break
    return text if len(text) <= 1000 else text[:997] + "..."


def forward_copy(
    message: MessageReceived, error: BaseException
) -> tuple[list[tuple[str, str]], bool]:
    """The headers of *message*'s copy for an error destination; whether it has a length.

    The copy keeps the headers but :data:`FORWARD_EXCLUDED_HEADERS` (first value of a
    repeated one), and adds ``persistent:true`` and :data:`ERROR_HEADER`. A message that
    came without ``content-length`` is copied without one, unless its body holds a NUL.
    """
    frame = message.frame
    seen: set[str] = set()
    headers: list[tuple[str, str]] = []
    for name, value in frame.headers:
        if name not in FORWARD_EXCLUDED_HEADERS and name not in seen:
            seen.add(name)
            headers.append((name, value))
    headers += [("persistent", "true"), (ERROR_HEADER, describe_failure(error))]
    return headers, frame.has("content-length") or b"\0" in frame.body


def prefetch_headers(
    connected: Connected | None,
    ack: AckMode,
    max_in_flight: int,
    headers: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """The SUBSCRIBE headers of a handler subscription: *headers*, plus the prefetch ones.

    Unless *headers* set one or the mode is ``auto``, :data:`PREFETCH_HEADERS` are set to
    *max_in_flight*, so that the broker sends no more unacknowledged messages than the
    handlers take. Apache Artemis reads ``activemq.prefetchSize`` as a window of *bytes*
    (one message at a time for a small number), so it gets ``prefetch-count`` only.
    """
    pairs = list(headers)
    if ack == "auto" or any(name in PREFETCH_HEADERS for name, _ in pairs):
        return pairs
    server = connected.server if connected is not None else None
    names = (
        ("prefetch-count",)
        if server is not None and server.startswith("ActiveMQ-Artemis")
        else PREFETCH_HEADERS
    )
    return pairs + [(name, str(max_in_flight)) for name in names]


def default_ack(version: Version | None) -> AckMode:
    """A handler subscription's ack mode when none is given: ``client`` on STOMP 1.0."""
    return "client" if version is Version.V1_0 else "client-individual"


_Outcome = Literal["ack", "nack", "none", "hold"]
"""How a delivery is settled: ACK, NACK, nothing to write, or never (left unacknowledged)."""


class Delivery:
    """One message handed to a handler, from the handler's start until it is settled.

    Attributes:
        state: The subscription's :class:`HandlerState`.
        message: The message.
        started: When the handler started (the adapter's clock).
        handle: The adapter's handle on the running handler (a task, a ``Deferred``),
            which a graceful end cancels; ``None`` until the adapter sets it.
    """

    __slots__ = ("abandoned", "busy", "handle", "manual", "message", "outcome", "started", "state")

    def __init__(self, state: HandlerState, message: MessageReceived, started: float) -> None:
        self.state = state
        self.message = message
        self.started = started
        self.handle: object | None = None
        self.outcome: _Outcome | None = None
        self.manual = False
        """The handler acknowledged (or NACKed) the message itself."""
        self.abandoned = False
        """A graceful end stopped waiting for the handler."""
        self.busy = True
        """The handler, or the handling of its failure, is still running."""

    def __repr__(self) -> str:
        return (
            f"<Delivery of {self.message.message.message_id!r} to subscription "
            f"{self.state.id!r} busy={self.busy} outcome={self.outcome}>"
        )


@dataclass(frozen=True, slots=True)
class RunHandler:
    """Call the subscription's handler on ``delivery.message`` now."""

    delivery: Delivery


@dataclass(frozen=True, slots=True)
class SettleMessage:
    """Write the ACK or NACK of *message* (a refused one, of a lost connection, is only logged)."""

    message: MessageReceived
    command: Literal["ack", "nack"]


@dataclass(frozen=True, slots=True)
class PauseReading:
    """A subscription's queue is full: stop reading the connection (heart-beats go on)."""


@dataclass(frozen=True, slots=True)
class ResumeReading:
    """No queue is full any more: read the connection again."""


@dataclass(frozen=True, slots=True)
class HandlerPoisoned:
    """End the client gracefully with *failure*, the message left unacknowledged (STOMP 1.0)."""

    failure: HandlerFailed


DispatchEffect = RunHandler | SettleMessage | PauseReading | ResumeReading | HandlerPoisoned
"""What a :class:`Dispatcher` asks its adapter to do, in order."""


class HandlerState:
    """A handler subscription's state: its settings, queue and messages in flight.

    Attributes:
        id: The subscription id.
        destination: What it subscribes to.
        ack: Its ack mode.
        max_in_flight: The most messages its handler works on at once.
        error_destination: Where the messages whose handler failed are forwarded, if
            anywhere.
    """

    __slots__ = (
        "_accepting",
        "_in_flight",
        "_order",
        "_pausing",
        "_queue",
        "ack",
        "destination",
        "error_destination",
        "id",
        "max_in_flight",
    )

    def __init__(
        self,
        *,
        id: str,
        destination: str,
        ack: AckMode,
        max_in_flight: int,
        error_destination: str | None,
    ) -> None:
        given: object = max_in_flight
        if not isinstance(given, int) or isinstance(given, bool) or given < 1:
            msg = f"max_in_flight must be an int >= 1, got {given!r}"
            raise InvalidRequest(msg)
        self.id = id
        self.destination = destination
        self.ack: AckMode = ack
        self.max_in_flight = max_in_flight
        self.error_destination = error_destination
        self._queue: deque[MessageReceived] = deque()
        self._order: deque[Delivery] = deque()
        self._in_flight = 0
        self._accepting = True
        self._pausing = False

    def __repr__(self) -> str:
        return (
            f"<HandlerState {self.id!r} to {self.destination!r} ack={self.ack} "
            f"in_flight={self._in_flight}/{self.max_in_flight} queued={len(self._queue)}>"
        )

    @property
    def in_flight(self) -> int:
        """Messages handed to the handler and not yet settled (acknowledged, NACKed, ...)."""
        return self._in_flight

    @property
    def queued(self) -> int:
        """Messages received and waiting for a free place.

        At most ``max_in_flight`` plus one read's worth: then the client stops reading.
        """
        return len(self._queue)

    @property
    def active(self) -> bool:
        """Whether it still takes messages (not unsubscribed, client not shutting down)."""
        return self._accepting

    def fallback(self, version: Version | None) -> ErrorAction:
        """The action on a failure without an error destination.

        ``ACK`` (nothing to write) for ``auto``; NACK, or DISCONNECT on STOMP 1.0.
        """
        if self.ack == "auto":
            return ErrorAction.ACK
        if version is Version.V1_0:
            return ErrorAction.DISCONNECT
        return ErrorAction.NACK

    def default_action(self, version: Version | None) -> ErrorAction:
        """The action on a failure when no hook decides: forward if it can, else the fallback."""
        return ErrorAction.FORWARD if self.error_destination is not None else self.fallback(version)


class Dispatcher:
    """Every handler subscription of one client, and what their handlers' outcomes do.

    Calls change the state and queue effects; the adapter takes them with
    :meth:`next_effect` (or :meth:`effects`) after every call, in order, and does
    them: run a handler, write an ACK or NACK, pause or resume reading, end the client.

    Args:
        logger: Where handler failures are logged (the adapter's logger).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._states: dict[str, HandlerState] = {}
        self._busy: dict[int, Delivery] = {}
        self._pausers: set[str] = set()
        self._effects: deque[DispatchEffect] = deque()
        self._paused = False

    def __repr__(self) -> str:
        return (
            f"<Dispatcher {len(self._states)} subscription(s) busy={len(self._busy)} "
            f"paused={self._paused}>"
        )

    # -- what the adapter looks at -------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """Whether reading is paused because a queue is full (a new connection stays paused)."""
        return self._paused

    @property
    def busy(self) -> int:
        """Handlers running (or the handling of their failure): what a graceful end awaits."""
        return len(self._busy)

    @property
    def states(self) -> dict[str, HandlerState]:
        """The handler subscriptions by id (the adapter's to read, not to change)."""
        return self._states

    def get(self, subscription_id: str) -> HandlerState | None:
        """The handler subscription *subscription_id*, or ``None``."""
        return self._states.get(subscription_id)

    def next_effect(self) -> DispatchEffect | None:
        """The next thing to do, or ``None``."""
        effects = self._effects
        return effects.popleft() if effects else None

    def effects(self) -> Iterator[DispatchEffect]:
        """Every effect due, including those that doing one of them adds."""
        while (effect := self.next_effect()) is not None:
            yield effect

    # -- subscriptions ----------------------------------------------------------------------------

    def add(
        self,
        *,
        id: str,
        destination: str,
        ack: AckMode,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        error_destination: str | None = None,
    ) -> HandlerState:
        """A new handler subscription.

        Raises:
            InvalidRequest: *max_in_flight* below 1, or *id* taken.
        """
        if id in self._states:
            msg = f"subscription {id!r} already has a handler"
            raise InvalidRequest(msg)
        state = HandlerState(
            id=id,
            destination=destination,
            ack=ack,
            max_in_flight=max_in_flight,
            error_destination=error_destination,
        )
        self._states[id] = state
        return state

    def remove(self, subscription_id: str) -> int:
        """Forget a subscription (unsubscribed): :meth:`stop` it; return the messages dropped."""
        state = self._states.pop(subscription_id, None)
        return 0 if state is None else self.stop(state)

    def stop(self, state: HandlerState) -> int:
        """*state* takes no more messages: its queued ones are dropped unacknowledged.

        Handlers running go on. Returns how many were dropped (the broker delivers them
        again).
        """
        state._accepting = False
        dropped = len(state._queue)
        state._queue.clear()
        self._unpause(state)
        return dropped

    def stop_all(self) -> int:
        """A graceful end begins: :meth:`stop` every subscription; return the messages dropped."""
        return sum(self.stop(state) for state in self._states.values())

    def resume_all(self) -> None:
        """Read again, whatever the queues."""
        self._pausers.clear()
        if self._paused:
            self._paused = False
            self._effects.append(ResumeReading())

    # -- messages ---------------------------------------------------------------------------------

    def deliver(self, message: MessageReceived, now: float) -> bool:
        """Hand *message* to its subscription's handler now, or queue it.

        Returns ``False`` when no active handler subscription takes it (the adapter
        drops it unacknowledged, or keeps it for a pull consumer).
        """
        record = message.subscription
        state = self._states.get(record.id) if record is not None else None
        if state is None or not state._accepting:
            return False
        if state._in_flight < state.max_in_flight and not state._queue:
            self._start(state, message, now)
            return True
        state._queue.append(message)
        if len(state._queue) > state.max_in_flight and not state._pausing:
            state._pausing = True
            self._pausers.add(state.id)
            if not self._paused:
                self._paused = True
                self._effects.append(PauseReading())
        return True

    def purge(self, stale: Callable[[MessageReceived], bool], now: float) -> int:
        """Drop the queued messages *stale* says can no longer be acknowledged; return how many.

        Called when the connection is lost (with :meth:`ClientCore.drop_stale
        <stomp_core.ClientCore.drop_stale>`): the broker delivers them again.
        """
        dropped = 0
        for state in self._states.values():
            queue = state._queue
            kept = [message for message in queue if not stale(message)]
            if len(kept) != len(queue):
                dropped += len(queue) - len(kept)
                queue.clear()
                queue.extend(kept)
                self._pump(state, now)
        return dropped

    def manual(self, message: MessageReceived) -> None:
        """The handler of *message* settles it itself (its success no longer does)."""
        delivery = self._busy.get(id(message))
        if delivery is not None and delivery.message is message:
            delivery.manual = True

    def _start(self, state: HandlerState, message: MessageReceived, now: float) -> None:
        state._in_flight += 1
        delivery = Delivery(state, message, now)
        if state.ack == "client":
            state._order.append(delivery)
        self._busy[id(message)] = delivery
        self._effects.append(RunHandler(delivery))

    def _pump(self, state: HandlerState, now: float) -> None:
        queue = state._queue
        while queue and state._in_flight < state.max_in_flight and state._accepting:
            self._start(state, queue.popleft(), now)
        if state._pausing and len(queue) <= state.max_in_flight // 2:
            self._unpause(state)

    def _unpause(self, state: HandlerState) -> None:
        if not state._pausing:
            return
        state._pausing = False
        self._pausers.discard(state.id)
        if not self._pausers and self._paused:
            self._paused = False
            self._effects.append(ResumeReading())

    # -- outcomes ---------------------------------------------------------------------------------

    def succeeded(self, delivery: Delivery, now: float) -> None:
        """The handler of *delivery* returned: acknowledge (unless it did, or ``auto``)."""
        if delivery.abandoned:
            self._settle(delivery, "hold", now)
        elif delivery.manual or delivery.state.ack == "auto":
            self._settle(delivery, "none", now)
        else:
            self._settle(delivery, "ack", now)
        self._finished(delivery)

    def failed(self, delivery: Delivery, error: BaseException, now: float) -> bool:
        """The handler of *delivery* raised *error*.

        Returns ``True`` when an action must be chosen (the subscription's hook, or
        :meth:`HandlerState.default_action`), then carried out with :meth:`resolve` and
        :meth:`conclude`; ``False`` when it is settled already: a handler abandoned by a
        graceful end (left unacknowledged), or one that had settled its message itself
        (only logged).
        """
        state = delivery.state
        if delivery.abandoned:
            self._settle(delivery, "hold", now)
            self._finished(delivery)
            return False
        message_id = delivery.message.message.message_id
        if delivery.manual:
            self._log.warning(
                "the handler of subscription %r raised after settling message %r itself: %s",
                state.id,
                message_id,
                describe_failure(error),
            )
            self._settle(delivery, "none", now)
            self._finished(delivery)
            return False
        self._log.warning(
            "the handler of subscription %r failed on message %r: %s",
            state.id,
            message_id,
            describe_failure(error),
            exc_info=error,
        )
        return True

    def chosen(self, state: HandlerState, decided: object, version: Version | None) -> ErrorAction:
        """What a hook returned, checked.

        Anything but an :class:`ErrorAction` is logged, and the default action taken.
        """
        if isinstance(decided, ErrorAction):
            return decided
        self._log.error(
            "the on_error hook of subscription %r returned %r, not an ErrorAction; "
            "taking the default action",
            state.id,
            decided,
        )
        return state.default_action(version)

    def hook_failed(self, state: HandlerState, version: Version | None) -> ErrorAction:
        """The hook raised (logged with its traceback): the default action."""
        self._log.exception(
            "the on_error hook of subscription %r raised; taking the default action", state.id
        )
        return state.default_action(version)

    def resolve(
        self, delivery: Delivery, action: ErrorAction, version: Version | None
    ) -> ErrorAction:
        """The action to carry out for *action*.

        ``FORWARD`` without an error destination is the fallback; ``NACK`` on STOMP 1.0
        is ``DISCONNECT``. On ``FORWARD`` the adapter sends :func:`forward_copy` to
        ``state.error_destination`` with a receipt, then calls :meth:`conclude` with
        ``FORWARD`` (stored) or :meth:`forward_failed` (not).
        """
        state = delivery.state
        if action is ErrorAction.FORWARD and state.error_destination is None:
            self._log.error(
                "subscription %r has no error destination to forward message %r to",
                state.id,
                delivery.message.message.message_id,
            )
            action = state.fallback(version)
        if action is ErrorAction.NACK and version is Version.V1_0:
            action = ErrorAction.DISCONNECT
        return action

    def forward_failed(
        self, delivery: Delivery, error: BaseException, version: Version | None
    ) -> ErrorAction:
        """The copy could not be stored (ERROR, timeout, lost connection): the fallback."""
        self._log.error(
            "could not forward message %r to %r: %s",
            delivery.message.message.message_id,
            delivery.state.error_destination,
            error,
        )
        return self.resolve(delivery, delivery.state.fallback(version), version)

    def conclude(
        self,
        delivery: Delivery,
        action: ErrorAction,
        error: BaseException,
        version: Version | None,
        now: float,
    ) -> None:
        """Settle a failed delivery by *action* (``FORWARD``: its copy is stored, so ACK).

        ``DISCONNECT`` (or ``NACK`` on STOMP 1.0) leaves it unacknowledged and queues
        :class:`HandlerPoisoned`.
        """
        if action is ErrorAction.NACK and version is Version.V1_0:
            action = ErrorAction.DISCONNECT
        auto = delivery.state.ack == "auto"
        if action is ErrorAction.ACK or action is ErrorAction.FORWARD:
            self._settle(delivery, "none" if auto else "ack", now)
        elif action is ErrorAction.NACK:
            self._settle(delivery, "none" if auto else "nack", now)
        else:
            self._settle(delivery, "hold", now)
            failed = HandlerFailed(delivery.message, subscription=delivery.state.id, cause=error)
            self._effects.append(HandlerPoisoned(failed))
        self._finished(delivery)

    def recovery_failed(self, delivery: Delivery, error: BaseException, now: float) -> None:
        """Handling the failure itself failed: log it, leave the message unacknowledged."""
        self._log.error(
            "handling the failure of message %r of subscription %r failed; "
            "it is left unacknowledged",
            delivery.message.message.message_id,
            delivery.state.id,
            exc_info=error,
        )
        self._settle(delivery, "hold", now)
        self._finished(delivery)

    # -- a graceful end ---------------------------------------------------------------------------

    def abandon(self, now: float) -> list[tuple[Delivery, UnfinishedHandler]]:
        """A graceful end stops waiting: report each handler still running, and let it go.

        Each one is logged as a warning and marked abandoned (its outcome will settle
        nothing: the message stays unacknowledged); the adapter cancels its ``handle``.
        """
        unfinished: list[tuple[Delivery, UnfinishedHandler]] = []
        for delivery in list(self._busy.values()):
            message = delivery.message
            item = UnfinishedHandler(
                subscription=delivery.state.id,
                destination=message.destination,
                message_id=message.message.message_id,
                running_for=now - delivery.started,
            )
            unfinished.append((delivery, item))
            self._log.warning(
                "the handler of subscription %r still works on message %r after %.3f s: "
                "cancelled, the message is left unacknowledged",
                item.subscription,
                item.message_id,
                item.running_for,
            )
            delivery.abandoned = True
            self._finished(delivery)
        return unfinished

    # -- settling ---------------------------------------------------------------------------------

    def _finished(self, delivery: Delivery) -> None:
        if delivery.busy:
            delivery.busy = False
            self._busy.pop(id(delivery.message), None)

    def _settle(self, delivery: Delivery, outcome: _Outcome, now: float) -> None:
        state = delivery.state
        delivery.outcome = outcome
        if state.ack == "client":
            # Cumulative acks: settle in delivery order, so that acknowledging a message
            # never acknowledges an earlier one that is still running or has failed.
            order = state._order
            while order and order[0].outcome is not None and order[0].outcome != "hold":
                head = order.popleft()
                self._write(head.message, head.outcome)
                state._in_flight -= 1
        else:
            self._write(delivery.message, outcome)
            state._in_flight -= 1
        if state._queue and state._in_flight < state.max_in_flight:
            self._pump(state, now)

    def _write(self, message: MessageReceived, outcome: _Outcome | None) -> None:
        if outcome in ("ack", "nack"):
            self._effects.append(SettleMessage(message, outcome))

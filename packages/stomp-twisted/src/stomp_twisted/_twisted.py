"""Structural types of the Twisted objects used, and small Deferred helpers on any reactor."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from stomp_core import WaitTimeout
from stomp_twisted._model import ReactorLike

__all__ = [
    "Connector",
    "DelayedCall",
    "Transport",
    "call_later",
    "default_reactor",
    "failure_of",
    "sleep",
    "within",
]

_T = TypeVar("_T")


class DelayedCall(Protocol):
    """The part of ``IDelayedCall`` used here."""

    def cancel(self) -> None: ...
    def active(self) -> bool: ...
    def getTime(self) -> float: ...  # noqa: N802 - Twisted's name


class Transport(Protocol):
    """The part of ``ITCPTransport`` (and ``IPushProducer``) used here."""

    def write(self, data: bytes) -> None: ...
    def loseConnection(self) -> None: ...  # noqa: N802 - Twisted's name
    def abortConnection(self) -> None: ...  # noqa: N802 - Twisted's name
    def pauseProducing(self) -> None: ...  # noqa: N802 - Twisted's name
    def resumeProducing(self) -> None: ...  # noqa: N802 - Twisted's name


class Connector(Protocol):
    """The part of ``IConnector`` used here."""

    def disconnect(self) -> None: ...


def failure_of(error: BaseException) -> Failure:
    """A ``Failure`` wrapping *error* (typed: Twisted's constructor is not)."""
    return Failure(error)  # type: ignore[no-untyped-call]


def default_reactor() -> ReactorLike:
    """Return the global reactor (installing the default one if none is)."""
    from twisted.internet import reactor  # noqa: PLC0415 - importing it installs a reactor

    return cast(ReactorLike, reactor)


def call_later(
    reactor: ReactorLike,
    delay: float,
    function: Any,
    *args: object,
) -> DelayedCall:
    """``reactor.callLater``, typed."""
    return cast(DelayedCall, reactor.callLater(delay, function, *args))


def sleep(reactor: ReactorLike, seconds: float) -> Deferred[None]:
    """A ``Deferred`` that fires after *seconds*; cancelling it cancels the timer."""
    call: list[DelayedCall] = []

    def cancel(_: Deferred[None]) -> None:
        if call[0].active():
            call[0].cancel()

    done: Deferred[None] = Deferred(cancel)
    call.append(call_later(reactor, seconds, done.callback, None))
    return done


def within(
    reactor: ReactorLike, waited: Deferred[_T], seconds: float, awaited: str
) -> Deferred[_T]:
    """Fail *waited* with :class:`WaitTimeout` unless it fires within *seconds*.

    At the deadline *waited* is cancelled (so its canceller can stop the work),
    and the resulting ``CancelledError`` becomes the ``WaitTimeout``.
    """
    if waited.called:
        return waited
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        waited.cancel()

    timer = call_later(reactor, seconds, expire)

    def settle(result: _T | Failure) -> _T | Failure:
        if timer.active():
            timer.cancel()
        if expired and isinstance(result, Failure) and isinstance(result.value, CancelledError):
            return failure_of(WaitTimeout(awaited, seconds))
        return result

    return waited.addBoth(settle)

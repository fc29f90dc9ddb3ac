"""The errors of stomp-failover: one base class, a URI error and the policy's give-up."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from stomp_failover._model import Broker


class FailoverError(Exception):
    """Base class of every error this package raises."""


class UriError(FailoverError, ValueError):
    """A failover URI, or a model object built in code, is not valid.

    The message says what is wrong and quotes the offending part. A password is
    never part of it: user information is shown as ``user:***@``.

    Attributes:
        part: The offending part of the URI (an option, a broker, a host, a port...),
            with any password replaced by ``***``.
    """

    def __init__(self, message: str, *, part: str) -> None:
        super().__init__(message)
        self.part = part

    def __reduce__(self) -> tuple[Any, ...]:
        return (functools.partial(type(self), part=self.part), (str(self),))


class BrokersExhausted(FailoverError):
    """The budget of attempts is spent: the policy gives up.

    Raised by `ReconnectPolicy` instead of a next attempt, with the cause the client
    reported last (see `ReconnectPolicy.failed`) chained as ``__cause__``.

    Attributes:
        phase: ``"startup"`` if no connection was ever made, ``"reconnect"`` if the policy
            gave up after a lost connection.
        attempts: How many attempts this phase made (0 when ``maxReconnectAttempts=0``
            forbids reconnecting at all).
        brokers: The brokers tried in this phase, each once, in the order first tried.
        budget: The option that ran out, as the URI writes it: ``"maxReconnectAttempts=2"``.
        cause: The last cause the client reported, or None if it reported none.
    """

    def __init__(
        self,
        *,
        phase: Literal["startup", "reconnect"],
        attempts: int,
        budget: str,
        brokers: tuple[Broker, ...],
        cause: BaseException | None,
    ) -> None:
        verb = "connecting" if phase == "startup" else "reconnecting"
        tried = ", ".join(str(broker) for broker in brokers) if brokers else "no broker"
        message = (
            f"gave up {verb} after {attempts} attempt{'' if attempts == 1 else 's'}"
            f" ({budget}); tried {tried}"
        )
        if cause is not None:
            message += f"; last cause: {cause!r}"
        super().__init__(message)
        self.phase: Literal["startup", "reconnect"] = phase
        self.attempts = attempts
        self.brokers = brokers
        self.budget = budget
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = functools.partial(
            type(self),
            phase=self.phase,
            attempts=self.attempts,
            budget=self.budget,
            brokers=self.brokers,
            cause=self.cause,
        )
        return (rebuild, ())

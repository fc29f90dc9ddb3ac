"""The reconnect policy: which broker to try next, after what delay, and when to give up."""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from stomp_failover._errors import BrokersExhausted
from stomp_failover._model import Broker, format_ms

if TYPE_CHECKING:
    from stomp_failover._uri import FailoverUri


class RandomSource(Protocol):
    """What the policy needs of a random source; ``random.Random`` is one."""

    def random(self) -> float:
        """Return a float in [0.0, 1.0)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One connection attempt: wait `delay` seconds, then connect to `broker`.

    ``str(attempt)`` reads like ``reconnect attempt 3 (pass 2): tcp://b:61613 after 20 ms``.

    Attributes:
        broker: The broker to connect to.
        delay: Seconds to wait before connecting; 0.0 means at once.
        number: The attempt's number in its phase, from 1.
        pass_number: The pass over the broker list it belongs to, from 1.
        phase: ``"startup"`` before any connection succeeded, ``"reconnect"`` after one
            was lost.
    """

    broker: Broker
    delay: float
    number: int
    pass_number: int
    phase: Literal["startup", "reconnect"]

    def __str__(self) -> str:
        wait = "at once" if self.delay == 0 else f"after {format_ms(self.delay)} ms"
        return f"{self.phase} attempt {self.number} (pass {self.pass_number}): {self.broker} {wait}"


class ReconnectPolicy(Iterator[Attempt]):
    """The attempts to make for a failover URI, driven by the client.

    An iterator of `Attempt`: the client takes the next attempt, sleeps its delay,
    connects, and reports the outcome with `connected` or `failed`. Each pass tries
    every broker once: the priority brokers first if ``priorityBackup`` is on, each
    group shuffled if ``randomize`` is on. The first attempt of a pass waits the current
    delay (plus jitter), which grows by the back-off multiplier up to the maximum; the
    other attempts of a pass, and the very first attempt of all, do not wait. When the
    phase's budget of passes is spent, taking an attempt raises `BrokersExhausted`.

    After `connected`, the next attempt taken starts the reconnect phase: fresh delay,
    fresh budget (``maxReconnectAttempts`` passes, where the startup phase had
    ``1 + startupMaxReconnectAttempts``). The policy never sleeps, connects or
    resolves a name, and is not thread-safe.
    """

    __slots__ = (
        "_cause",
        "_connected",
        "_delay",
        "_index",
        "_number",
        "_order",
        "_passes",
        "_phase",
        "_rng",
        "_tried",
        "_uri",
    )

    def __init__(self, uri: FailoverUri, *, rng: RandomSource | None = None) -> None:
        """Start a policy in its startup phase.

        Args:
            uri: The brokers and options to follow.
            rng: The random source for shuffling and jitter; a fresh ``random.Random()``
                if None. Pass ``random.Random(seed)`` for a repeatable sequence.
        """
        self._uri = uri
        self._rng: RandomSource = random.Random() if rng is None else rng
        self._cause: BaseException | None = None
        self._connected = False
        self._begin("startup")

    def _begin(self, phase: Literal["startup", "reconnect"]) -> None:
        self._phase: Literal["startup", "reconnect"] = phase
        self._delay = self._uri.options.initial_reconnect_delay
        self._order: tuple[Broker, ...] = ()
        self._index = 0
        self._passes = 0
        self._number = 0
        self._tried: list[Broker] = []

    @property
    def uri(self) -> FailoverUri:
        """The failover URI this policy follows."""
        return self._uri

    def __next__(self) -> Attempt:
        """Return the next attempt.

        Raises:
            BrokersExhausted: The phase's budget is spent; raised again on every later
                call until `connected` is called.
        """
        if self._connected:
            self._connected = False
            self._begin("reconnect")
        if self._index == len(self._order):
            self._start_pass()
        broker = self._order[self._index]
        delay = 0.0
        if self._index == 0 and not (self._phase == "startup" and self._passes == 1):
            delay = self._next_delay()
        self._index += 1
        self._number += 1
        if self._passes == 1:
            self._tried.append(broker)
        return Attempt(
            broker=broker,
            delay=delay,
            number=self._number,
            pass_number=self._passes,
            phase=self._phase,
        )

    def connected(self) -> None:
        """Report that the last attempt connected.

        The next attempt taken after this (when the connection is lost) starts the
        reconnect phase, with the delay and the budget reset.
        """
        self._connected = True
        self._cause = None

    def failed(self, cause: BaseException) -> None:
        """Report why the last attempt failed, or why the connection was lost.

        The last cause reported is chained to `BrokersExhausted` when the policy gives up.

        Args:
            cause: The error the client met.
        """
        self._cause = cause

    def preview(self, count: int) -> tuple[Attempt, ...]:
        """The next attempts, as if each of them failed, without moving the policy.

        The preview runs on a copy of the policy and of its random source, so with a
        seeded ``random.Random`` it shows exactly the attempts to come.

        Args:
            count: How many attempts to show at most; fewer if the budget runs out.

        Returns:
            The attempts, in order.

        Raises:
            ValueError: ``count`` is negative.
        """
        if count < 0:
            msg = f"count must not be negative, not {count}"
            raise ValueError(msg)
        clone = copy.copy(self)
        clone._rng = copy.deepcopy(self._rng)
        clone._tried = list(self._tried)
        attempts: list[Attempt] = []
        with contextlib.suppress(BrokersExhausted):
            while len(attempts) < count:
                attempts.append(next(clone))
        return tuple(attempts)

    def __copy__(self) -> ReconnectPolicy:
        clone = ReconnectPolicy.__new__(ReconnectPolicy)
        for name in ReconnectPolicy.__slots__:
            setattr(clone, name, getattr(self, name))
        return clone

    def __repr__(self) -> str:
        return (
            f"<ReconnectPolicy {self._phase} pass {self._passes} attempt {self._number}"
            f" of {self._uri}>"
        )

    def _start_pass(self) -> None:
        options = self._uri.options
        if self._phase == "startup":
            name, budget = "startupMaxReconnectAttempts", options.startup_max_reconnect_attempts
            allowed = budget + 1
        else:
            name, budget = "maxReconnectAttempts", options.max_reconnect_attempts
            allowed = budget
        if budget != -1 and self._passes >= allowed:
            raise BrokersExhausted(
                phase=self._phase,
                attempts=self._number,
                budget=f"{name}={budget}",
                brokers=tuple(self._tried),
                cause=self._cause,
            ) from self._cause
        self._order = self._pass_order()
        self._index = 0
        self._passes += 1

    def _pass_order(self) -> tuple[Broker, ...]:
        brokers = self._uri.brokers
        options = self._uri.options
        first: list[Broker] = []
        rest = list(brokers)
        if options.priority_backup:
            if options.priority_uris:
                wanted = {broker.address for broker in options.priority_uris}
                first = [broker for broker in brokers if broker.address in wanted]
                rest = [broker for broker in brokers if broker.address not in wanted]
            else:
                first, rest = [brokers[0]], list(brokers[1:])
        if options.randomize:
            self._shuffle(first)
            self._shuffle(rest)
        return (*first, *rest)

    def _shuffle(self, brokers: list[Broker]) -> None:
        # Fisher-Yates on RandomSource.random(), so any source with random() will do.
        for i in range(len(brokers) - 1, 0, -1):
            j = min(int(self._unit() * (i + 1)), i)
            brokers[i], brokers[j] = brokers[j], brokers[i]

    def _next_delay(self) -> float:
        options = self._uri.options
        base = self._delay
        if options.use_exponential_back_off:
            self._delay = min(base * options.back_off_multiplier, options.max_reconnect_delay)
        jitter = options.reconnect_delay_jitter
        return base + jitter * self._unit() if jitter else base

    def _unit(self) -> float:
        return min(max(self._rng.random(), 0.0), 1.0)

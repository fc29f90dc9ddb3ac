"""Static checks of the public types, run by mypy (the types session); nothing runs here."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal

from stomp_failover import (
    Attempt,
    Broker,
    BrokersExhausted,
    FailoverError,
    FailoverOptions,
    FailoverUri,
    RandomSource,
    ReconnectPolicy,
    UriError,
)

if TYPE_CHECKING:
    from typing_extensions import assert_type


class Dice:
    """A random source that is not a random.Random."""

    def random(self) -> float:
        return 0.25


def check_public_types() -> None:
    uri = FailoverUri.parse("tcp://a:1")
    assert_type(uri, FailoverUri)
    assert_type(uri.brokers, tuple[Broker, ...])
    assert_type(uri.options, FailoverOptions)
    assert_type(str(uri), str)

    broker = uri.brokers[0]
    assert_type(broker.scheme, Literal["tcp", "ssl", "ws", "wss"])
    assert_type(broker.path, str)
    assert_type(broker.tls, bool)
    assert_type(broker.websocket, bool)
    assert_type(broker.host, str)
    assert_type(broker.port, int)
    assert_type(broker.address, tuple[str, int])
    assert_type(broker.options, Mapping[str, str])
    assert_type(broker.username, str | None)
    assert_type(broker.password, str | None)

    options = uri.options
    assert_type(options.initial_reconnect_delay, float)
    assert_type(options.use_exponential_back_off, bool)
    assert_type(options.max_reconnect_attempts, int)
    assert_type(options.priority_uris, tuple[Broker, ...])

    policy = uri.policy(rng=random.Random(0))
    assert_type(policy, ReconnectPolicy)
    assert_type(ReconnectPolicy(uri, rng=Dice()), ReconnectPolicy)
    assert_type(iter(policy), Iterator[Attempt])
    attempt = next(policy)
    assert_type(attempt, Attempt)
    assert_type(attempt.broker, Broker)
    assert_type(attempt.delay, float)
    assert_type(attempt.phase, Literal["startup", "reconnect"])
    assert_type(policy.preview(3), tuple[Attempt, ...])
    assert_type(policy.connected(), None)
    assert_type(policy.failed(OSError()), None)

    source: RandomSource = random.Random()
    source = Dice()
    assert_type(source.random(), float)

    try:
        next(policy)
    except BrokersExhausted as exhausted:
        assert_type(exhausted.phase, Literal["startup", "reconnect"])
        assert_type(exhausted.brokers, tuple[Broker, ...])
        assert_type(exhausted.cause, BaseException | None)
        assert_type(exhausted.attempts, int)
    except UriError as error:
        assert_type(error.part, str)
    except FailoverError:
        pass


def check_misuse_is_rejected() -> None:
    Broker(scheme="udp", host="a", port=1)  # type: ignore[arg-type]
    Broker("tcp", "a", 1)  # type: ignore[call-arg]
    FailoverOptions(randomize="false")  # type: ignore[arg-type]
    FailoverUri.parse(b"tcp://a:1")  # type: ignore[arg-type]
    ReconnectPolicy(FailoverUri.parse("tcp://a:1"), rng=object())  # type: ignore[arg-type]
    next(FailoverUri.parse("tcp://a:1").policy()).delay = 1.0  # type: ignore[misc]

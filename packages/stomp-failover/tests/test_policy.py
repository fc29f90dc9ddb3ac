"""The reconnect policy: order, delays, budgets, jitter, priorities and the give-up."""

from __future__ import annotations

import itertools
import pickle
import random

import pytest

from stomp_failover import (
    Attempt,
    Broker,
    BrokersExhausted,
    FailoverError,
    FailoverUri,
    ReconnectPolicy,
)


class FixedRandom:
    """A random source that always returns the same number."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def policy(text: str, rng: random.Random | FixedRandom | None = None) -> ReconnectPolicy:
    return FailoverUri.parse(text).policy(rng=rng if rng is not None else random.Random(0))


def plan(attempts: tuple[Attempt, ...] | list[Attempt]) -> list[tuple[str, float]]:
    return [(attempt.broker.host, round(attempt.delay * 1000, 6)) for attempt in attempts]


def take(source: ReconnectPolicy, count: int) -> list[Attempt]:
    return list(itertools.islice(source, count))


def drain(source: ReconnectPolicy) -> list[Attempt]:
    """Every attempt until the policy gives up."""
    attempts: list[Attempt] = []
    with pytest.raises(BrokersExhausted):
        attempts.extend(itertools.islice(source, 10_000))
    return attempts


ABC = "failover:(tcp://a:1,tcp://b:2,tcp://c:3)?randomize=false"


class TestStartupOrderAndDelays:
    def test_first_pass_tries_every_broker_in_order_at_once(self) -> None:
        assert plan(take(policy(ABC), 3)) == [("a", 0), ("b", 0), ("c", 0)]

    def test_each_later_pass_waits_before_its_first_attempt_only(self) -> None:
        assert plan(take(policy(ABC), 9)) == [
            ("a", 0), ("b", 0), ("c", 0),
            ("a", 10), ("b", 0), ("c", 0),
            ("a", 20), ("b", 0), ("c", 0),
        ]  # fmt: skip

    def test_delay_grows_by_the_multiplier_up_to_the_maximum(self) -> None:
        source = policy(
            "tcp://a:1?initialReconnectDelay=100&backOffMultiplier=3&maxReconnectDelay=1000"
        )
        assert [delay for _, delay in plan(take(source, 6))] == [0, 100, 300, 900, 1000, 1000]

    def test_without_exponential_back_off_the_delay_is_constant(self) -> None:
        source = policy("tcp://a:1?initialReconnectDelay=250&useExponentialBackOff=false")
        assert [delay for _, delay in plan(take(source, 5))] == [0, 250, 250, 250, 250]

    def test_a_long_run_never_overflows_the_delay(self) -> None:
        source = policy(f"tcp://a:1?backOffMultiplier=1e300&maxReconnectDelay=1{'0' * 300}")
        assert all(0 <= attempt.delay <= 1e297 for attempt in take(source, 50))

    def test_attempts_are_numbered_with_their_pass_and_phase(self) -> None:
        attempts = take(policy("failover:(tcp://a:1,tcp://b:2)"), 3)
        assert [(a.number, a.pass_number, a.phase) for a in attempts] == [
            (1, 1, "startup"),
            (2, 1, "startup"),
            (3, 2, "startup"),
        ]

    def test_attempt_str_reads_like_a_plan(self) -> None:
        first, second, third = take(
            policy("failover:(tcp://a:1,tcp://u:pw@b:2)?randomize=false"), 3
        )
        assert str(first) == "startup attempt 1 (pass 1): tcp://a:1 at once"
        assert str(second) == "startup attempt 2 (pass 1): tcp://u:***@b:2 at once"
        assert str(third) == "startup attempt 3 (pass 2): tcp://a:1 after 10 ms"

    def test_the_default_random_source_is_used_when_none_is_given(self) -> None:
        source = FailoverUri.parse("failover:(tcp://a:1,tcp://b:2)").policy()
        assert {attempt.broker.host for attempt in take(source, 2)} == {"a", "b"}


class TestStartupBudget:
    def test_zero_tries_each_broker_once_then_gives_up(self) -> None:
        source = policy(ABC + "&startupMaxReconnectAttempts=0")
        assert len(take(source, 3)) == 3
        with pytest.raises(BrokersExhausted) as caught:
            next(source)
        error = caught.value
        assert error.phase == "startup"
        assert error.attempts == 3
        assert [broker.host for broker in error.brokers] == ["a", "b", "c"]
        assert error.cause is None
        assert str(error) == (
            "gave up connecting after 3 attempts (startupMaxReconnectAttempts=0);"
            " tried tcp://a:1, tcp://b:2, tcp://c:3"
        )

    def test_n_allows_n_passes_after_the_first(self) -> None:
        source = policy(ABC + "&startupMaxReconnectAttempts=2")
        assert len(drain(source)) == 9

    def test_default_never_gives_up(self) -> None:
        assert len(take(policy(ABC), 10_000)) == 10_000

    def test_startup_is_not_limited_by_the_reconnect_budget(self) -> None:
        assert len(take(policy(ABC + "&maxReconnectAttempts=0"), 100)) == 100

    def test_exhaustion_is_raised_again_until_connected(self) -> None:
        source = policy("tcp://a:1?startupMaxReconnectAttempts=0")
        next(source)
        for _ in range(3):
            with pytest.raises(BrokersExhausted):
                next(source)

    def test_exhaustion_chains_the_last_reported_cause(self) -> None:
        source = policy("tcp://a:1?startupMaxReconnectAttempts=1")
        next(source)
        source.failed(ConnectionRefusedError("first"))
        next(source)
        last = ConnectionRefusedError(111, "Connection refused")
        source.failed(last)
        with pytest.raises(BrokersExhausted) as caught:
            next(source)
        assert caught.value.cause is last
        assert caught.value.__cause__ is last
        assert str(caught.value).endswith(
            "; last cause: ConnectionRefusedError(111, 'Connection refused')"
        )

    def test_exhaustion_survives_pickling(self) -> None:
        source = policy("tcp://a:1?startupMaxReconnectAttempts=0")
        next(source)
        source.failed(ConnectionRefusedError("down"))
        with pytest.raises(BrokersExhausted) as caught:
            next(source)
        copy = pickle.loads(pickle.dumps(caught.value))
        assert str(copy) == str(caught.value)
        assert (copy.phase, copy.attempts, copy.brokers, copy.budget) == (
            "startup",
            1,
            (Broker(scheme="tcp", host="a", port=1),),
            "startupMaxReconnectAttempts=0",
        )
        assert isinstance(copy.cause, ConnectionRefusedError)

    def test_exhaustion_is_a_failover_error_and_hides_passwords(self) -> None:
        source = policy("tcp://admin:S3cretPW@a:1?startupMaxReconnectAttempts=0")
        next(source)
        with pytest.raises(FailoverError) as caught:
            next(source)
        assert "S3cretPW" not in str(caught.value)
        assert "tcp://admin:***@a:1" in str(caught.value)


class TestReconnect:
    def test_after_connected_the_next_attempt_starts_the_reconnect_phase(self) -> None:
        source = policy(ABC)
        take(source, 4)
        source.connected()
        attempts = take(source, 4)
        assert [(a.number, a.pass_number, a.phase) for a in attempts] == [
            (1, 1, "reconnect"),
            (2, 1, "reconnect"),
            (3, 1, "reconnect"),
            (4, 2, "reconnect"),
        ]

    def test_the_first_reconnect_waits_the_initial_delay(self) -> None:
        source = policy(ABC)
        next(source)
        source.connected()
        assert plan(take(source, 4)) == [("a", 10), ("b", 0), ("c", 0), ("a", 20)]

    def test_a_successful_connection_resets_the_delay(self) -> None:
        source = policy("tcp://a:1?initialReconnectDelay=100")
        assert [d for _, d in plan(take(source, 5))] == [0, 100, 200, 400, 800]
        source.connected()
        assert [d for _, d in plan(take(source, 3))] == [100, 200, 400]
        source.connected()
        assert [d for _, d in plan(take(source, 1))] == [100]

    def test_zero_never_reconnects(self) -> None:
        source = policy(ABC + "&maxReconnectAttempts=0")
        next(source)
        source.connected()
        lost = ConnectionResetError("broker went away")
        source.failed(lost)
        with pytest.raises(BrokersExhausted) as caught:
            next(source)
        error = caught.value
        assert (error.phase, error.attempts, error.brokers, error.cause) == (
            "reconnect",
            0,
            (),
            lost,
        )
        assert str(error) == (
            "gave up reconnecting after 0 attempts (maxReconnectAttempts=0); tried no broker;"
            " last cause: ConnectionResetError('broker went away')"
        )

    def test_n_allows_n_passes_after_a_loss(self) -> None:
        source = policy(ABC + "&maxReconnectAttempts=2&startupMaxReconnectAttempts=0")
        next(source)
        source.connected()
        assert len(drain(source)) == 6

    def test_the_reconnect_budget_is_fresh_after_every_connection(self) -> None:
        source = policy("tcp://a:1?maxReconnectAttempts=2")
        next(source)
        for _ in range(3):
            source.connected()
            assert len(drain(source)) == 2

    def test_connected_after_exhaustion_starts_again(self) -> None:
        source = policy("tcp://a:1?startupMaxReconnectAttempts=0")
        next(source)
        with pytest.raises(BrokersExhausted):
            next(source)
        source.connected()
        assert next(source).phase == "reconnect"

    def test_connected_forgets_the_last_cause(self) -> None:
        source = policy("tcp://a:1?maxReconnectAttempts=0")
        next(source)
        source.failed(OSError("startup failure"))
        source.connected()
        with pytest.raises(BrokersExhausted) as caught:
            next(source)
        assert caught.value.cause is None


class TestJitter:
    def test_jitter_adds_up_to_its_value_to_each_delay(self) -> None:
        text = "tcp://a:1?initialReconnectDelay=100&reconnectDelayJitter=50"
        assert [d for _, d in plan(take(policy(text, FixedRandom(0.0)), 3))] == [0, 100, 200]
        assert [d for _, d in plan(take(policy(text, FixedRandom(0.5)), 3))] == [0, 125, 225]

    def test_jitter_may_go_above_the_maximum_delay(self) -> None:
        text = "tcp://a:1?initialReconnectDelay=100&maxReconnectDelay=100&reconnectDelayJitter=40"
        assert [d for _, d in plan(take(policy(text, FixedRandom(0.75)), 3))] == [0, 130, 130]

    def test_attempts_within_a_pass_get_no_jitter(self) -> None:
        text = ABC + "&reconnectDelayJitter=40"
        assert plan(take(policy(text, FixedRandom(0.5)), 4)) == [
            ("a", 0), ("b", 0), ("c", 0), ("a", 30),
        ]  # fmt: skip

    def test_a_random_source_out_of_its_range_is_clamped(self) -> None:
        text = "failover:(tcp://a:1,tcp://b:2)?reconnectDelayJitter=10"
        assert [d for _, d in plan(take(policy(text, FixedRandom(1.5)), 3))] == [0, 0, 20]
        assert [d for _, d in plan(take(policy(text, FixedRandom(-1.0)), 3))] == [0, 0, 10]


class TestOrder:
    def test_randomize_shuffles_every_pass(self) -> None:
        text = "failover:(tcp://a:1,tcp://b:2,tcp://c:3,tcp://d:4,tcp://e:5)"
        hosts = [attempt.broker.host for attempt in take(policy(text), 50)]
        passes = {tuple(hosts[i : i + 5]) for i in range(0, 50, 5)}
        assert all(sorted(order) == ["a", "b", "c", "d", "e"] for order in passes)
        assert len(passes) > 1

    def test_the_same_seed_gives_the_same_attempts(self) -> None:
        text = "failover:(tcp://a:1,tcp://b:2,tcp://c:3)?reconnectDelayJitter=100"
        first = take(policy(text, random.Random(42)), 30)
        assert take(policy(text, random.Random(42)), 30) == first

    def test_priority_backup_tries_the_first_broker_first(self) -> None:
        source = policy(
            "failover:(tcp://local:1,tcp://r1:2,tcp://r2:3,tcp://r3:4)?priorityBackup=true"
        )
        hosts = [attempt.broker.host for attempt in take(source, 40)]
        assert hosts[::4] == ["local"] * 10
        assert {tuple(hosts[i + 1 : i + 4]) for i in range(0, 40, 4)} != {("r1", "r2", "r3")}

    def test_priority_uris_are_tried_first_each_group_shuffled(self) -> None:
        source = policy(
            "failover:(tcp://r1:1,tcp://l1:2,tcp://r2:3,tcp://l2:4)"
            "?priorityBackup=true&priorityURIs=tcp://l1:2,tcp://l2:4"
        )
        hosts = [attempt.broker.host for attempt in take(source, 80)]
        heads = {tuple(hosts[i : i + 2]) for i in range(0, 80, 4)}
        tails = {tuple(hosts[i + 2 : i + 4]) for i in range(0, 80, 4)}
        assert heads == {("l1", "l2"), ("l2", "l1")}
        assert tails == {("r1", "r2"), ("r2", "r1")}

    def test_priority_without_randomize_keeps_the_given_order_in_each_group(self) -> None:
        source = policy(
            "failover:(tcp://r1:1,tcp://l1:2,tcp://r2:3,tcp://l2:4)?randomize=false"
            "&priorityBackup=true&priorityURIs=tcp://l2:4,tcp://l1:2"
        )
        assert [a.broker.host for a in take(source, 4)] == ["l1", "l2", "r1", "r2"]


class TestPreview:
    def test_preview_shows_the_attempts_to_come_without_moving_the_policy(self) -> None:
        source = policy("failover:(tcp://a:1,tcp://b:2,tcp://c:3)?reconnectDelayJitter=30")
        shown = source.preview(10)
        assert source.preview(10) == shown
        assert tuple(take(source, 10)) == shown

    def test_preview_from_the_middle_of_a_phase(self) -> None:
        source = policy(ABC)
        take(source, 2)
        assert plan(source.preview(2)) == [("c", 0), ("a", 10)]
        assert plan(take(source, 2)) == [("c", 0), ("a", 10)]

    def test_preview_after_connected_shows_the_reconnect_phase(self) -> None:
        source = policy(ABC)
        next(source)
        source.connected()
        assert [a.phase for a in source.preview(2)] == ["reconnect", "reconnect"]
        assert next(source).phase == "reconnect"

    def test_preview_stops_where_the_budget_ends(self) -> None:
        source = policy(ABC + "&startupMaxReconnectAttempts=1")
        assert len(source.preview(100)) == 6
        assert len(source.preview(0)) == 0

    def test_preview_of_a_negative_count_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="count must not be negative"):
            policy(ABC).preview(-1)


class TestPolicyObject:
    def test_policy_is_its_own_iterator(self) -> None:
        source = policy(ABC)
        assert iter(source) is source

    def test_policy_from_constructor_equals_policy_from_uri(self) -> None:
        uri = FailoverUri.parse(ABC)
        direct = ReconnectPolicy(uri, rng=random.Random(1))
        assert direct.uri is uri
        assert direct.preview(5) == uri.policy(rng=random.Random(1)).preview(5)

    def test_repr_shows_progress_but_no_password(self) -> None:
        source = policy("tcp://admin:S3cretPW@a:1")
        next(source)
        assert repr(source) == (
            "<ReconnectPolicy startup pass 1 attempt 1 of failover:(tcp://admin:***@a:1)>"
        )

    def test_attempts_are_frozen_values(self) -> None:
        attempt = next(policy(ABC))
        assert attempt == Attempt(
            broker=Broker(scheme="tcp", host="a", port=1),
            delay=0.0,
            number=1,
            pass_number=1,
            phase="startup",
        )
        with pytest.raises(AttributeError):
            attempt.delay = 1.0  # type: ignore[misc]

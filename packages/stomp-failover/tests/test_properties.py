"""Properties of the policy and the parser, checked with Hypothesis."""

from __future__ import annotations

import dataclasses
import itertools
import random
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stomp_failover import (
    Attempt,
    Broker,
    BrokersExhausted,
    FailoverOptions,
    FailoverUri,
    ReconnectPolicy,
    UriError,
)

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True)
ports = st.integers(min_value=1, max_value=65535)
utf8_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)


@st.composite
def brokers(draw: st.DrawFn) -> tuple[Broker, ...]:
    addresses = draw(st.lists(st.tuples(hosts, ports), min_size=1, max_size=6, unique=True))
    result = []
    for host, port in addresses:
        scheme = draw(st.sampled_from(["tcp", "ssl"]))
        options = {}
        if draw(st.booleans()):
            options["vhost"] = draw(utf8_text)
        if scheme == "ssl" and draw(st.booleans()):
            options["serverHostname"] = draw(hosts)
        username = draw(st.none() | utf8_text)
        result.append(
            Broker(
                scheme="ssl" if scheme == "ssl" else "tcp",
                host=host,
                port=port,
                options=options,
                username=username,
            )
        )
    return tuple(result)


@st.composite
def uris(draw: st.DrawFn) -> FailoverUri:
    listed = draw(brokers())
    initial = draw(st.integers(min_value=0, max_value=1000))
    priority_backup = draw(st.booleans())
    priority: list[Broker] = []
    if priority_backup:
        priority = draw(st.lists(st.sampled_from(listed), unique=True))
    options = FailoverOptions(
        initial_reconnect_delay=initial / 1000,
        max_reconnect_delay=draw(st.integers(min_value=initial, max_value=60_000)) / 1000,
        use_exponential_back_off=draw(st.booleans()),
        back_off_multiplier=draw(st.floats(min_value=1.0, max_value=10.0)),
        max_reconnect_attempts=draw(st.integers(min_value=-1, max_value=4)),
        startup_max_reconnect_attempts=draw(st.integers(min_value=-1, max_value=4)),
        reconnect_delay_jitter=draw(st.integers(min_value=0, max_value=500)) / 1000,
        randomize=draw(st.booleans()),
        priority_backup=priority_backup,
        priority_uris=tuple(Broker(scheme=b.scheme, host=b.host, port=b.port) for b in priority),
    )
    return FailoverUri(brokers=listed, options=options)


def with_options(uri: FailoverUri, **changes: object) -> FailoverUri:
    return dataclasses.replace(uri, options=dataclasses.replace(uri.options, **changes))  # type: ignore[arg-type]


def drain(source: ReconnectPolicy, limit: int) -> tuple[list[Attempt], bool]:
    """Up to ``limit`` attempts, and whether the policy gave up before the limit."""
    attempts: list[Attempt] = []
    try:
        attempts.extend(itertools.islice(source, limit))
    except BrokersExhausted:
        return attempts, True
    return attempts, False


def run(uri: FailoverUri, seed: int, script: list[bool]) -> list[Attempt]:
    """Drive a policy: for each step take an attempt and connect (True) or fail (False)."""
    source = uri.policy(rng=random.Random(seed))
    attempts: list[Attempt] = []
    for connects in script:
        try:
            attempts.append(next(source))
        except BrokersExhausted:
            source.connected()  # the client gives up and starts over, in this script
            continue
        if connects:
            source.connected()
        else:
            source.failed(OSError("refused"))
    return attempts


def parse_or_error(text: str) -> FailoverUri | UriError:
    try:
        return FailoverUri.parse(text)
    except UriError as error:
        return error


def passes(attempts: list[Attempt]) -> list[list[Attempt]]:
    """Group attempts by pass (a new phase starts new passes)."""
    groups: list[list[Attempt]] = []
    for attempt in attempts:
        if attempt.number == 1 or groups[-1][-1].pass_number != attempt.pass_number:
            groups.append([])
        groups[-1].append(attempt)
    return groups


scripts = st.lists(st.booleans(), max_size=120)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
fail_heavy_scripts = st.lists(st.sampled_from([False, False, False, False, True]), max_size=120)


class TestDelays:
    @given(uris(), seeds, fail_heavy_scripts)
    def test_delays_are_never_negative_and_never_exceed_the_maximum_plus_jitter(
        self, uri: FailoverUri, seed: int, script: list[bool]
    ) -> None:
        ceiling = uri.options.max_reconnect_delay + uri.options.reconnect_delay_jitter
        for attempt in run(uri, seed, script):
            assert 0.0 <= attempt.delay <= ceiling

    @given(uris(), seeds, fail_heavy_scripts)
    def test_only_the_first_attempt_of_a_pass_waits(
        self, uri: FailoverUri, seed: int, script: list[bool]
    ) -> None:
        for group in passes(run(uri, seed, script)):
            assert all(attempt.delay == 0.0 for attempt in group[1:])
            first = group[0]
            if first.phase == "startup" and first.pass_number == 1:
                assert first.delay == 0.0
            else:
                assert first.delay >= uri.options.initial_reconnect_delay

    @given(uris(), seeds, fail_heavy_scripts)
    def test_without_exponential_back_off_the_delay_is_constant(
        self, uri: FailoverUri, seed: int, script: list[bool]
    ) -> None:
        uri = with_options(uri, use_exponential_back_off=False, reconnect_delay_jitter=0.0)
        waits = {group[0].delay for group in passes(run(uri, seed, script))} - {0.0}
        assert waits <= {uri.options.initial_reconnect_delay}

    @given(uris(), seeds)
    def test_with_exponential_back_off_the_delay_grows_by_the_multiplier_up_to_the_maximum(
        self, uri: FailoverUri, seed: int
    ) -> None:
        uri = with_options(uri, reconnect_delay_jitter=0.0, startup_max_reconnect_attempts=-1)
        options = uri.options
        count = len(uri.brokers) * 12
        groups = passes(drain(uri.policy(rng=random.Random(seed)), count)[0])
        expected = options.initial_reconnect_delay
        for group in groups[1:]:
            assert group[0].delay == pytest.approx(expected)
            if options.use_exponential_back_off:
                expected = min(expected * options.back_off_multiplier, options.max_reconnect_delay)

    @given(uris(), seeds, st.integers(min_value=0, max_value=30))
    def test_a_successful_connection_resets_the_delay(
        self, uri: FailoverUri, seed: int, failures: int
    ) -> None:
        uri = with_options(uri, startup_max_reconnect_attempts=-1, max_reconnect_attempts=-1)
        source = uri.policy(rng=random.Random(seed))
        for _ in range(failures + 1):
            next(source)
        source.connected()
        delay = next(source).delay
        initial = uri.options.initial_reconnect_delay
        assert initial <= delay <= initial + uri.options.reconnect_delay_jitter


class TestBudgets:
    @given(uris(), seeds)
    def test_the_startup_budget_allows_exactly_one_pass_plus_its_value(
        self, uri: FailoverUri, seed: int
    ) -> None:
        budget = uri.options.startup_max_reconnect_attempts
        size = len(uri.brokers)
        attempts, gave_up = drain(uri.policy(rng=random.Random(seed)), size * 20)
        if budget == -1:
            assert (len(attempts), gave_up) == (size * 20, False)
        else:
            assert (len(attempts), gave_up) == (size * (1 + budget), True)

    @given(uris(), seeds, st.integers(min_value=1, max_value=30))
    def test_the_reconnect_budget_allows_exactly_its_value_in_passes_after_each_loss(
        self, uri: FailoverUri, seed: int, before: int
    ) -> None:
        uri = with_options(uri, startup_max_reconnect_attempts=-1)
        budget = uri.options.max_reconnect_attempts
        size = len(uri.brokers)
        source = uri.policy(rng=random.Random(seed))
        for _ in range(before):
            next(source)
        source.connected()
        if budget != 0:
            next(source)  # the first reconnect attempt connects...
            source.connected()  # ...and that connection is lost too: a fresh budget
        attempts, gave_up = drain(source, size * 20)
        assert all(attempt.phase == "reconnect" for attempt in attempts)
        if budget == -1:
            assert (len(attempts), gave_up) == (size * 20, False)
        else:
            assert (len(attempts), gave_up) == (size * budget, True)

    @given(uris(), seeds)
    def test_giving_up_lists_every_broker_tried_once(self, uri: FailoverUri, seed: int) -> None:
        uri = with_options(uri, startup_max_reconnect_attempts=0)
        source = uri.policy(rng=random.Random(seed))
        tried = [attempt.broker for attempt in itertools.islice(source, len(uri.brokers))]
        with pytest.raises(BrokersExhausted) as caught:
            next(source)
        assert caught.value.brokers == tuple(tried)
        assert caught.value.attempts == len(uri.brokers)


class TestOrder:
    @given(uris(), seeds, scripts)
    def test_every_pass_tries_every_broker_once(
        self, uri: FailoverUri, seed: int, script: list[bool]
    ) -> None:
        groups = passes(run(uri, seed, script))
        for index, group in enumerate(groups):
            tried = [attempt.broker for attempt in group]
            assert len(set(tried)) == len(tried)
            if index + 1 < len(groups) and groups[index + 1][0].number != 1:  # phase went on
                assert set(tried) == set(uri.brokers)

    @given(uris(), seeds, scripts)
    def test_without_randomize_the_order_is_the_given_order(
        self, uri: FailoverUri, seed: int, script: list[bool]
    ) -> None:
        uri = with_options(uri, randomize=False, priority_backup=False, priority_uris=())
        for group in passes(run(uri, seed, script)):
            assert tuple(a.broker for a in group) == uri.brokers[: len(group)]

    @given(uris(), seeds, scripts)
    def test_priority_brokers_come_first_in_every_pass(
        self, uri: FailoverUri, seed: int, script: list[bool]
    ) -> None:
        uri = with_options(uri, priority_backup=True)
        wanted = {b.address for b in uri.options.priority_uris} or {uri.brokers[0].address}
        count = sum(1 for b in uri.brokers if b.address in wanted)
        for group in passes(run(uri, seed, script)):
            flags = [attempt.broker.address in wanted for attempt in group]
            expected = [True] * count + [False] * (len(uri.brokers) - count)
            assert flags == expected[: len(group)]

    @given(uris(), seeds, scripts)
    def test_attempts_are_numbered_from_one_in_each_phase(
        self, uri: FailoverUri, seed: int, script: list[bool]
    ) -> None:
        attempts = run(uri, seed, script)
        if attempts:
            assert (attempts[0].number, attempts[0].pass_number) == (1, 1)
        for previous, attempt in itertools.pairwise(attempts):
            if attempt.number == 1:
                assert attempt.pass_number == 1
            else:
                assert attempt.number == previous.number + 1
                assert attempt.phase == previous.phase
                assert attempt.pass_number in (previous.pass_number, previous.pass_number + 1)

    @given(uris(), seeds, st.integers(min_value=0, max_value=40))
    def test_preview_shows_exactly_the_attempts_to_come(
        self, uri: FailoverUri, seed: int, count: int
    ) -> None:
        source = uri.policy(rng=random.Random(seed))
        shown = source.preview(count)
        attempts, _ = drain(source, count)
        assert tuple(attempts) == shown


class TestParsing:
    @given(uris())
    def test_str_parses_back_to_an_equal_uri(self, uri: FailoverUri) -> None:
        assert FailoverUri.parse(str(uri)) == uri

    @given(st.text(max_size=60))
    def test_any_text_parses_or_raises_uri_error(self, text: str) -> None:
        result = parse_or_error(text)
        assert isinstance(result, FailoverUri) or str(result)

    @given(st.text(alphabet="failover:()tcpsl/[]@?&=,.0123456789ab%#", max_size=60))
    def test_uri_like_text_parses_or_raises_uri_error(self, text: str) -> None:
        result = parse_or_error(text)
        assert isinstance(result, FailoverUri) or str(result)

    @given(
        utf8_text,
        st.sampled_from(
            [
                "tcp://admin:{pw}@h:61613",
                "failover:(tcp://admin:{pw}@h:61613,tcp://b:2)?randomize=false",
                "tcp://admin:{pw}@h:61613?bogus=1",
                "tcp://admin:{pw}@h:port",
                "tcp://admin:{pw}@h",
                "tcp://admin:{pw}@[::1:2",
                "failover:(tcp://admin:{pw}@h:1",
                "failover:(tcp://admin:{pw}@h:1)?randomize=yes",
                "failover:tcp://admin:{pw}@h:1,x:{pw}@k:2",
                "admin:{pw}@h:1",
                "ftp://admin:{pw}@h:1",
                "tcp://admin:{pw}@h:1/path",
            ]
        ),
    )
    def test_a_password_is_never_shown(self, secret: str, template: str) -> None:
        password = "S3cr3t" + secret
        text = template.format(pw=quote(password, safe=""))
        uri = parse_or_error(text)
        if isinstance(uri, UriError):
            shown = [str(uri), uri.part]
        else:
            assert uri.brokers[0].password == password
            shown = [str(uri), repr(uri), *map(str, uri.brokers), *map(repr, uri.brokers)]
            shown += [str(attempt) for attempt in uri.policy().preview(3)]
        for text_shown in shown:
            assert "S3cr3t" not in text_shown

"""stomp_twisted.testing.ReactorThread, on a reactor of each test's own (never the global one)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.selectreactor import SelectReactor

from stomp_twisted.testing import ReactorThread

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGCHLD]


@pytest.fixture
def own() -> Iterator[ReactorThread]:
    running = ReactorThread(SelectReactor(), name="test-reactor")
    yield running
    running.stop()


def test_a_scenario_runs_on_the_reactor_thread_with_the_reactor_and_its_result_comes_back(
    own: ReactorThread,
) -> None:
    async def scenario(reactor: Any) -> tuple[str, bool, int]:
        later: defer.Deferred[int] = defer.Deferred()
        reactor.callLater(0, later.callback, 42)
        return threading.current_thread().name, reactor is own.reactor, await later

    assert own.run(scenario) == ("test-reactor", True, 42)


def test_the_error_a_scenario_raises_is_raised_to_the_caller(own: ReactorThread) -> None:
    async def scenario(reactor: Any) -> None:
        raise ValueError("no such queue")

    with pytest.raises(ValueError, match="no such queue"):
        own.run(scenario)


def test_a_scenario_still_running_at_its_timeout_is_cancelled_and_fails(
    own: ReactorThread,
) -> None:
    cancelled: list[bool] = []

    async def scenario(reactor: Any) -> str:
        never: defer.Deferred[str] = defer.Deferred(lambda _: cancelled.append(True))
        # a bound on a broken run (no timeout at all), not a wait
        reactor.callLater(30, lambda: None if never.called else never.callback("not cancelled"))
        return await never

    with pytest.raises(defer.TimeoutError):
        own.run(scenario, timeout=0.01)
    assert cancelled == [True]
    assert own.run(_answer) == "still running"  # the reactor goes on after a timeout


async def _answer(reactor: Any) -> str:
    return "still running"


def test_the_thread_is_a_daemon_and_the_reactor_installs_no_signal_handler() -> None:
    before = [signal.getsignal(number) for number in SIGNALS]
    running = ReactorThread(SelectReactor())
    try:
        assert running.run(_answer) == "still running"
        assert running.thread.daemon
        assert running.thread.name == "twisted-reactor"
        assert [signal.getsignal(number) for number in SIGNALS] == before
    finally:
        running.stop()


def test_stop_ends_the_thread_and_a_later_scenario_is_refused() -> None:
    running = ReactorThread(SelectReactor())
    running.stop()
    assert not running.thread.is_alive()
    outcome: list[BaseException | str] = []

    def attempt() -> None:
        try:
            outcome.append(running.run(_answer))
        except RuntimeError as error:
            outcome.append(error)

    # in a thread of its own, as a run on a stopped reactor would never return
    caller = threading.Thread(target=attempt, daemon=True)
    caller.start()
    caller.join(30)  # a bound on a broken run, not a wait
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeError)
    assert "'twisted-reactor' is not running" in str(outcome[0])

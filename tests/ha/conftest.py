"""Fixtures of the failover tests against highly available brokers (scripts/brokers/ha.sh).

* ``setup``: a :class:`~tests.ha._setups.Setup`, the test runs once per set-up (ids
  ``activemq``, ``rabbitmq``, ``artemis``). A set-up that ``ha.sh`` did not report up skips the
  test, or fails it when ``STOMP_REQUIRE_HA`` is ``1`` (``nox -s ha`` sets it).
* ``results_dir``: where each run writes its JSON report (``STOMP_HA_RESULTS``, default
  ``<HA_DIR>/results``); ``scripts/brokers/ha_table.py`` renders them as a table.
* ``twisted_reactor``: the global reactor, running in a daemon thread for the whole session
  (``stomp_twisted.testing.ReactorThread``; Twisted is imported only by the tests that use it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.ha._setups import SETUP_NAMES, START_HINT, Setup, SetupName, ha_dir, load_setup

if TYPE_CHECKING:
    from stomp_twisted.testing import ReactorThread


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses ``setup`` once per set-up."""
    if "setup" in metafunc.fixturenames:
        names = list(SETUP_NAMES)
        metafunc.parametrize("setup", names, indirect=True, ids=names)


@pytest.fixture
def setup(request: pytest.FixtureRequest) -> Setup:
    """The set-up this run of the test is for, as ``ha.sh`` reported it."""
    name: SetupName = request.param
    found = load_setup(name)
    if found is None:
        msg = f"{name}: highly available set-up not running ({START_HINT} {name})"
        if os.environ.get("STOMP_REQUIRE_HA", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"{msg} (required by STOMP_REQUIRE_HA)", pytrace=False)
        pytest.skip(msg)
    return found


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """Where the runs write their reports."""
    if directory := os.environ.get("STOMP_HA_RESULTS"):
        return Path(directory)
    return ha_dir() / "results"


@pytest.fixture(scope="session")
def twisted_reactor() -> Iterator[ReactorThread]:
    """The global reactor in a thread (it can run once per process)."""
    from stomp_twisted.testing import ReactorThread

    running = ReactorThread()
    yield running
    running.stop()

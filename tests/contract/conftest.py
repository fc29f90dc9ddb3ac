"""Fixtures: one test broker per test, and a client of each kind (the parameter) against it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stomp_testing import BrokerCore, TestBroker
from tests.contract._drivers import Driver, SyncDriver, TwistedDriver

FAST: dict[str, Any] = {
    "connect_timeout": 2.0,
    "connected_timeout": 2.0,
    "receipt_timeout": 3.0,
    "write_timeout": 2.0,
    "disconnect_timeout": 2.0,
}
"""Timeouts short enough for tests, long enough for a loaded machine."""

KINDS: dict[str, Callable[..., Driver]] = {"sync": SyncDriver, "twisted": TwistedDriver}


@pytest.fixture(scope="session")
def _twisted_reactor() -> Iterator[None]:
    """The global reactor, running in a thread for the whole session."""
    from twisted.internet import reactor

    running: Any = reactor
    thread = threading.Thread(
        target=running.run, kwargs={"installSignalHandlers": False}, daemon=True
    )
    thread.start()
    yield
    running.callFromThread(running.stop)
    thread.join(5)


@pytest.fixture
def broker() -> Iterator[TestBroker]:
    with TestBroker(BrokerCore(name="mq")) as running:
        yield running


MakeClient = Callable[..., Driver]


@pytest.fixture(params=sorted(KINDS))
def make_client(request: pytest.FixtureRequest, broker: TestBroker) -> Iterator[MakeClient]:
    """Make a client of the parametrized kind (on *uri*, by default the broker's)."""
    if request.param == "twisted":
        request.getfixturevalue("_twisted_reactor")
    made: list[Driver] = []

    def make(uri: str | None = None, **options: Any) -> Driver:
        driver: Driver = KINDS[request.param](uri or broker.uri, **{**FAST, **options})
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


@pytest.fixture
def client(make_client: MakeClient) -> Driver:
    """A connected client of the parametrized kind."""
    made = make_client()
    made.connect()
    return made

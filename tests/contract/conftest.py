"""Fixtures: one test broker per test, and a client of each kind (the parameter) against it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stomp_testing import BrokerCore, TestBroker
from tests.contract._drivers import (
    AsyncioDriver,
    Driver,
    HandlerDriver,
    SyncDriver,
    TwistedDriver,
)

FAST: dict[str, Any] = {
    "connect_timeout": 2.0,
    "connected_timeout": 2.0,
    "receipt_timeout": 3.0,
    "write_timeout": 2.0,
    "disconnect_timeout": 2.0,
}
"""Timeouts short enough for tests, long enough for a loaded machine."""

KINDS: dict[str, Callable[..., Driver]] = {
    "asyncio": AsyncioDriver,
    "sync": SyncDriver,
    "twisted": TwistedDriver,
}
"""Every client the contract runs against: adding a client is adding a driver here."""


@pytest.fixture(scope="session")
def _twisted_reactor() -> Iterator[None]:
    """The global reactor, running in a thread for the whole session."""
    from stomp_twisted.testing import ReactorThread

    running = ReactorThread()
    yield
    running.stop(timeout=5)


@pytest.fixture(scope="session")
def _asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread for the whole session."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


TRANSPORTS: dict[str, str | None] = {"tcp": None, "ws": "/ws"}
"""Every transport the contract runs over: plain TCP, and STOMP over WebSocket on a path."""


@pytest.fixture(params=sorted(TRANSPORTS))
def broker(request: pytest.FixtureRequest) -> Iterator[TestBroker]:
    """The test broker, over each transport (its ``uri`` is ``tcp://`` or ``ws://``)."""
    with TestBroker(BrokerCore(name="mq"), websocket=TRANSPORTS[request.param]) as running:
        yield running


MakeClient = Callable[..., Driver]


HANDLER_KINDS = sorted(name for name, kind in KINDS.items() if getattr(kind, "handlers", False))
"""The clients with handlers per subscription: the handler contract runs on these."""


def _maker(request: pytest.FixtureRequest, broker: TestBroker) -> Iterator[MakeClient]:
    extra: dict[str, Any] = {}
    if request.param == "twisted":
        request.getfixturevalue("_twisted_reactor")
    elif request.param == "asyncio":
        extra["loop"] = request.getfixturevalue("_asyncio_loop")
    made: list[Driver] = []

    def make(uri: str | None = None, **options: Any) -> Driver:
        driver = KINDS[request.param](uri or broker.uri, **{**FAST, **extra, **options})
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


@pytest.fixture(params=sorted(KINDS))
def make_client(request: pytest.FixtureRequest, broker: TestBroker) -> Iterator[MakeClient]:
    """Make a client of the parametrized kind (on *uri*, by default the broker's)."""
    yield from _maker(request, broker)


MakeHandlerClient = Callable[..., HandlerDriver]


@pytest.fixture(params=HANDLER_KINDS)
def make_handler_client(
    request: pytest.FixtureRequest, broker: TestBroker
) -> Iterator[MakeHandlerClient]:
    """Make a client with handlers, of the parametrized kind (its driver is a HandlerDriver)."""
    yield from _maker(request, broker)  # type: ignore[misc]


@pytest.fixture
def client(make_client: MakeClient) -> Driver:
    """A connected client of the parametrized kind."""
    made = make_client()
    made.connect()
    return made


@pytest.fixture
def handler_client(make_handler_client: MakeHandlerClient) -> HandlerDriver:
    """A connected client with handlers, of the parametrized kind."""
    made = make_handler_client()
    made.connect()
    return made

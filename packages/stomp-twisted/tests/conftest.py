"""Fixtures: a simulated reactor and broker, clients on them, and a guard on lost errors."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any, Protocol, cast

import pytest
from twisted.logger import LogEvent, globalLogPublisher

from stomp_twisted import Client
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

ADDRESS = "tcp://mq:61613"


@pytest.fixture(autouse=True)
def no_unhandled_errors() -> Iterator[None]:
    """Fail a test that leaves a Deferred with an unhandled error behind."""
    seen: list[LogEvent] = []

    def observe(event: LogEvent) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            seen.append(event)

    globalLogPublisher.addObserver(cast(Any, observe))
    try:
        yield
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(cast(Any, observe))
    assert not seen, [str(event.get("log_failure")) for event in seen]


@pytest.fixture
def reactor() -> SimulatedReactor:
    return SimulatedReactor()


@pytest.fixture
def broker(reactor: SimulatedReactor) -> SimulatedBroker:
    server = SimulatedBroker(name="mq")
    server.listen(61613, interface="mq", reactor=reactor)
    return server


class ClientMaker(Protocol):
    def __call__(self, uri: str = ADDRESS, **options: Any) -> Client: ...


@pytest.fixture
def new_client(reactor: SimulatedReactor) -> ClientMaker:
    """Make a client on the simulated network; no heart-beats unless asked for."""

    def make(uri: str = ADDRESS, **options: Any) -> Client:
        options.setdefault("heart_beat", (0, 0))
        return Client(uri, reactor=reactor, **options)

    return make


@pytest.fixture
def client(reactor: SimulatedReactor, broker: SimulatedBroker, new_client: ClientMaker) -> Client:
    """A connected client (STOMP 1.2, no heart-beats)."""
    connected = new_client()
    reactor.run_until(connected.connect())
    return connected

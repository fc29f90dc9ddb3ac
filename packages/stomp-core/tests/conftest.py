"""A sans-I/O loopback: the client core and the test broker's core, wired with a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from stomp_core import (
    ClientCore,
    ClientEnded,
    ClientSettings,
    CloseTransport,
    ConnectionDropped,
    ConnectionMade,
    CoreEvent,
    OpenTransport,
    RequestDone,
)
from stomp_testing import BrokerConnection, BrokerCore

URI = "tcp://mq.test:61613"


class Loopback:
    """Moves bytes between a :class:`ClientCore` and a :class:`BrokerCore` until both are quiet.

    Time only moves when the test says so (:meth:`advance`): every run is the same.
    """

    def __init__(self, broker: BrokerCore, uri: str = URI, **settings: Any) -> None:
        self.broker = broker
        self.now = 0.0
        self.core = ClientCore(uri, ClientSettings.make(**settings))
        self.connection: BrokerConnection | None = None
        self.events: list[CoreEvent] = []
        self.reachable = True
        """False: the next transports fail to open (the broker is down)."""
        self.broker_reads = True
        """False: bytes the client writes stay unwritten (a broker that stopped reading)."""
        self.ws_path: str | None = None
        """The path the broker serves WebSocket on (default: the one the client asks for)."""

    @property
    def done(self) -> dict[str, object]:
        """Settled receipts: ``{receipt_id: error or None}``."""
        return {e.receipt_id: e.error for e in self.events if isinstance(e, RequestDone)}

    def of(self, kind: type[Any]) -> list[Any]:
        """The events of one kind, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    def pump(self) -> None:
        """Exchange everything that can be exchanged at the current time."""
        core = self.core
        for _ in range(1000):
            moved = False
            while (event := core.next_event()) is not None:
                moved = True
                self.events.append(event)
                self._on(event)
            connection = self.connection
            if connection is not None and self.broker_reads and core.output_size:
                data = core.data_to_send(self.now)
                connection.receive_data(data, self.now)
                moved = True
            if connection is not None:
                data = connection.data_to_send()
                if data:
                    core.receive_data(data, self.now)
                    moved = True
                    while (event := core.next_event()) is not None:  # the core reacts first
                        self.events.append(event)
                        self._on(event)
                if connection.should_close and self.connection is connection:
                    self.connection = None
                    connection.connection_lost(self.now)
                    core.transport_closed(self.now)
                    moved = True
            if not moved:
                return
        pytest.fail("the loopback never became quiet")

    def _on(self, event: CoreEvent) -> None:
        if isinstance(event, OpenTransport):
            if self.reachable:
                broker = event.broker
                path = self.ws_path or broker.path if broker.websocket else None
                self.connection = self.broker.open_connection(self.now, websocket=path)
                self.core.transport_opened(self.now)
            else:
                self.core.transport_failed(ConnectionRefusedError("refused"), self.now)
        elif isinstance(event, CloseTransport | ClientEnded):
            connection, self.connection = self.connection, None
            if connection is not None:
                connection.connection_lost(self.now)
        else:
            assert isinstance(event, ConnectionMade | ConnectionDropped | RequestDone)

    def advance(self, seconds: float) -> None:
        """Let *seconds* pass, firing the client's and the broker's timers on time."""
        end = self.now + seconds
        while True:
            deadlines = [d for d in (self.core.next_deadline(), self._broker_deadline()) if d]
            due = min((d for d in deadlines if d <= end), default=None)
            if due is None:
                break
            self.now = max(self.now, due)
            self.core.handle_timer(self.now)
            if self.connection is not None:
                self.connection.handle_timer(self.now)
            self.pump()
        self.now = end
        self.pump()

    def _broker_deadline(self) -> float | None:
        return None if self.connection is None else self.connection.next_deadline()

    def drop(self) -> None:
        """The broker side goes away without a word."""
        connection, self.connection = self.connection, None
        assert connection is not None
        connection.connection_lost(self.now)
        self.core.transport_closed(self.now)
        self.pump()

    def start(self) -> None:
        self.core.start(self.now)
        self.pump()


@pytest.fixture
def broker() -> BrokerCore:
    return BrokerCore(name="mq")


@pytest.fixture
def loop(broker: BrokerCore) -> Loopback:
    """A connected loopback with default settings."""
    wired = Loopback(broker)
    wired.start()
    return wired


@pytest.fixture
def make_loop(broker: BrokerCore) -> Any:
    """``make_loop(uri=..., **settings)``: a loopback not yet started."""

    def make(uri: str = URI, **settings: Any) -> Loopback:
        return Loopback(broker, uri, **settings)

    return make


@pytest.fixture(scope="session")
def loopback_type() -> type[Loopback]:
    """The :class:`Loopback` class (for property tests, which make one per example)."""
    return Loopback

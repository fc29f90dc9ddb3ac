"""One blocking test API over every client, so that each behaviour is written once.

The contract tests call a :class:`Driver`; each client gets one: stomp-sync directly,
stomp-twisted through a reactor running in a thread (``blockingCallFromThread``),
stomp-asyncio through an event loop running in a thread. Every client talks to the same
:class:`stomp_testing.TestBroker` over a loopback socket.

Capabilities: a driver whose ``handlers`` is true is also a :class:`HandlerDriver`
(stomp-twisted, stomp-asyncio: handlers per subscription); the handler contract runs on
those only, and the sync client is not parametrized there at all.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, Generic, Protocol, TypeVar

from stomp_core import ClientState, Counters, DisconnectResult, Reconnected
from stomp_session import Connected, MessageReceived

_T = TypeVar("_T")

HOLD: Final = "hold"
"""What a contract handler returns to keep its message until :meth:`HandlerDriver.release`."""

ContractHandler = Callable[[MessageReceived], "str | None"]
"""A handler of the contract: called in the client's thread; it returns (success), raises
(failure), or returns :data:`HOLD` (it runs on until the test releases it)."""


class Driver(Protocol):
    """What a contract test does with a client (every call blocks until it is done)."""

    name: str
    reconnects: list[Reconnected]

    def connect(self) -> Connected: ...
    def send(self, destination: str, body: bytes = b"", **options: Any) -> None: ...
    def subscribe(self, destination: str, ack: str = "auto", **options: Any) -> str: ...
    def unsubscribe(self, subscription: str) -> None: ...
    def receive(self, timeout: float) -> MessageReceived | None: ...
    def ack(self, message: MessageReceived, **options: Any) -> None: ...
    def nack(self, message: MessageReceived, **options: Any) -> None: ...
    def begin(self, transaction: str | None = None) -> str: ...
    def commit(self, transaction: str, **options: Any) -> None: ...
    def abort(self, transaction: str, **options: Any) -> None: ...
    def disconnect(self) -> DisconnectResult: ...
    def close(self) -> None: ...
    def is_current(self, message: MessageReceived) -> bool: ...
    def in_background(self, call: Callable[[], _T]) -> Background[_T]: ...
    @property
    def state(self) -> ClientState: ...
    @property
    def counters(self) -> Counters: ...
    @property
    def connected(self) -> Connected | None: ...


class HandlerDriver(Driver, Protocol):
    """A client with handlers per subscription (``handlers`` is true)."""

    def subscribe_handler(
        self, destination: str, handler: ContractHandler, **options: Any
    ) -> str: ...
    def release(self, message: MessageReceived, error: BaseException | None = None) -> None: ...
    def shut_down(self, timeout: float) -> DisconnectResult: ...
    def ended(self, timeout: float) -> DisconnectResult: ...
    def in_flight(self, subscription: str) -> int: ...


class Background(Generic[_T]):
    """A call running in a thread of its own; :meth:`result` waits for it."""

    def __init__(self, call: Callable[[], _T]) -> None:
        self._outcome: queue.Queue[tuple[bool, Any]] = queue.Queue()

        def run() -> None:
            try:
                self._outcome.put((True, call()))
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                self._outcome.put((False, exc))

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float) -> _T:
        """The call's result (or its exception raised); ``TimeoutError`` if still running."""
        try:
            ok, value = self._outcome.get(timeout=timeout)
        except queue.Empty:
            msg = f"the call was still running after {timeout} s"
            raise TimeoutError(msg) from None
        if ok:
            return value  # type: ignore[no-any-return]
        raise value


class SyncDriver:
    """stomp-sync: called directly."""

    name = "sync"
    handlers = False

    def __init__(self, uri: str, **options: Any) -> None:
        from stomp_sync import Client

        self.reconnects: list[Reconnected] = []
        options.setdefault("on_reconnect", self.reconnects.append)
        # The serving thread reads while the test is busy, as a Twisted reactor does.
        options.setdefault("heart_beat_thread", True)
        self.client = Client(uri, **options)

    def connect(self) -> Connected:
        return self.client.connect(timeout=10)

    def send(self, destination: str, body: bytes = b"", **options: Any) -> None:
        self.client.send(destination, body, **options)

    def subscribe(self, destination: str, ack: str = "auto", **options: Any) -> str:
        options.pop("max_in_flight", None)  # handlers' concurrency: not a pull consumer's
        return self.client.subscribe(destination, ack=ack, **options).id  # type: ignore[arg-type]

    def unsubscribe(self, subscription: str) -> None:
        self.client.unsubscribe(subscription)

    def receive(self, timeout: float) -> MessageReceived | None:
        return self.client.receive(timeout)

    def ack(self, message: MessageReceived, **options: Any) -> None:
        self.client.ack(message, **options)

    def nack(self, message: MessageReceived, **options: Any) -> None:
        self.client.nack(message, **options)

    def begin(self, transaction: str | None = None) -> str:
        return self.client.begin(transaction)

    def commit(self, transaction: str, **options: Any) -> None:
        self.client.commit(transaction, **options)

    def abort(self, transaction: str, **options: Any) -> None:
        self.client.abort(transaction, **options)

    def disconnect(self) -> DisconnectResult:
        return self.client.disconnect()

    def close(self) -> None:
        self.client.close()

    def is_current(self, message: MessageReceived) -> bool:
        return self.client.is_current(message)

    def in_background(self, call: Callable[[], _T]) -> Background[_T]:
        return Background(call)

    @property
    def state(self) -> ClientState:
        return self.client.state

    @property
    def counters(self) -> Counters:
        return self.client.counters

    @property
    def connected(self) -> Connected | None:
        return self.client.connected


class TwistedDriver:
    """stomp-twisted: its calls made in the reactor's thread, their Deferreds awaited.

    Messages are taken by a handler into a queue; on an acknowledging subscription the
    handler waits until the test settles the message (as a manual ``ack``/``nack``).
    """

    name = "twisted"
    handlers = True

    def __init__(self, uri: str, **options: Any) -> None:
        from twisted.internet import reactor
        from twisted.internet.threads import blockingCallFromThread

        from stomp_twisted import Client

        self._reactor = reactor
        self._call = blockingCallFromThread
        self.reconnects: list[Reconnected] = []
        options.setdefault("on_reconnect", self.reconnects.append)
        self.inbox: queue.Queue[MessageReceived] = queue.Queue()
        self._gates: dict[int, Any] = {}
        self.client = self._in_reactor(lambda: Client(uri, **options))

    def _in_reactor(self, call: Callable[[], Any]) -> Any:
        return self._call(self._reactor, call)

    def connect(self) -> Connected:
        return self._in_reactor(self.client.connect)  # type: ignore[no-any-return]

    def send(self, destination: str, body: bytes = b"", **options: Any) -> None:
        self._in_reactor(lambda: self.client.send(destination, body, **options))

    def subscribe(self, destination: str, ack: str = "auto", **options: Any) -> str:
        from twisted.internet.defer import Deferred

        def handler(message: MessageReceived) -> Any:
            if ack == "auto":
                self.inbox.put(message)
                return None
            gate: Deferred[None] = Deferred()
            self._gates[id(message)] = gate
            self.inbox.put(message)
            return gate

        options.setdefault("max_in_flight", 1000)
        sub = self._in_reactor(
            lambda: self.client.subscribe(destination, handler, ack=ack, **options)
        )
        return sub.id  # type: ignore[no-any-return]

    def unsubscribe(self, subscription: str) -> None:
        self._in_reactor(lambda: self.client.unsubscribe(subscription))

    def subscribe_handler(self, destination: str, handler: ContractHandler, **options: Any) -> str:
        from twisted.internet.defer import Deferred

        def run(message: MessageReceived) -> Any:
            if handler(message) != HOLD:
                return None
            gate: Deferred[None] = Deferred()
            self._gates[id(message)] = gate
            return gate

        options.setdefault("receipt", True)
        sub = self._in_reactor(lambda: self.client.subscribe(destination, run, **options))
        return sub.id  # type: ignore[no-any-return]

    def release(self, message: MessageReceived, error: BaseException | None = None) -> None:
        def act() -> None:
            gate = self._gates.pop(id(message))
            if error is None:
                gate.callback(None)
            else:
                gate.errback(error)

        self._in_reactor(act)

    def shut_down(self, timeout: float) -> DisconnectResult:
        return self._in_reactor(lambda: self.client.disconnect(timeout=timeout))  # type: ignore[no-any-return]

    def ended(self, timeout: float) -> DisconnectResult:
        from twisted.internet.defer import Deferred

        done: queue.Queue[tuple[bool, Any]] = queue.Queue()

        def observe() -> None:
            watched: Deferred[Any] = self.client.disconnected
            watched.addCallbacks(
                lambda result: done.put((True, result)),
                lambda failure: done.put((False, failure.value)),
            )

        self._reactor.callFromThread(observe)
        ok, value = done.get(timeout=timeout)
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def in_flight(self, subscription: str) -> int:
        return self._in_reactor(lambda: self.client.subscriptions[subscription].in_flight)  # type: ignore[no-any-return]

    def receive(self, timeout: float) -> MessageReceived | None:
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def _settle(self, message: MessageReceived, settle: Callable[..., Any], options: Any) -> None:
        def act() -> Any:
            try:
                return settle(message, **options)
            finally:
                gate = self._gates.pop(id(message), None)
                if gate is not None and not gate.called:
                    gate.callback(None)

        self._in_reactor(act)

    def ack(self, message: MessageReceived, **options: Any) -> None:
        self._settle(message, self.client.ack, options)

    def nack(self, message: MessageReceived, **options: Any) -> None:
        self._settle(message, self.client.nack, options)

    def begin(self, transaction: str | None = None) -> str:
        return self._in_reactor(lambda: self.client.begin(transaction))  # type: ignore[no-any-return]

    def commit(self, transaction: str, **options: Any) -> None:
        self._in_reactor(lambda: self.client.commit(transaction, **options))

    def abort(self, transaction: str, **options: Any) -> None:
        self._in_reactor(lambda: self.client.abort(transaction, **options))

    def disconnect(self) -> DisconnectResult:
        return self._in_reactor(lambda: self.client.disconnect(timeout=5))  # type: ignore[no-any-return]

    def close(self) -> None:
        self._in_reactor(self.client.close)

    def is_current(self, message: MessageReceived) -> bool:
        return self._in_reactor(lambda: self.client.is_current(message))  # type: ignore[no-any-return]

    def in_background(self, call: Callable[[], _T]) -> Background[_T]:
        return Background(call)

    @property
    def state(self) -> ClientState:
        return self._in_reactor(lambda: self.client.state)  # type: ignore[no-any-return]

    @property
    def counters(self) -> Counters:
        return self._in_reactor(lambda: self.client.counters)  # type: ignore[no-any-return]

    @property
    def connected(self) -> Connected | None:
        return self._in_reactor(lambda: self.client.connected)  # type: ignore[no-any-return]


class AsyncioDriver:
    """stomp-asyncio: its coroutines run on an event loop in another thread, and awaited."""

    name = "asyncio"
    handlers = True

    def __init__(self, uri: str, *, loop: asyncio.AbstractEventLoop, **options: Any) -> None:
        from stomp_asyncio import Client

        self._loop = loop
        self._gates: dict[int, asyncio.Future[None]] = {}
        self.reconnects: list[Reconnected] = []
        options.setdefault("on_reconnect", self.reconnects.append)

        async def make() -> Client:
            return Client(uri, **options)

        self.client = self._run(make())

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _now(self, call: Callable[[], _T]) -> _T:
        async def run() -> _T:
            return call()

        return self._run(run())

    def connect(self) -> Connected:
        return self._run(self.client.connect(timeout=10))

    def send(self, destination: str, body: bytes = b"", **options: Any) -> None:
        self._run(self.client.send(destination, body, **options))

    def subscribe(self, destination: str, ack: str = "auto", **options: Any) -> str:
        options.pop("max_in_flight", None)  # handlers' concurrency: not a pull consumer's
        return self._run(self.client.subscribe(destination, ack=ack, **options)).id  # type: ignore[arg-type]

    def unsubscribe(self, subscription: str) -> None:
        self._run(self.client.unsubscribe(subscription))

    def subscribe_handler(self, destination: str, handler: ContractHandler, **options: Any) -> str:
        gates = self._gates

        async def run(message: MessageReceived) -> None:
            if handler(message) != HOLD:
                return
            gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            gates[id(message)] = gate
            await gate

        options.setdefault("receipt", True)
        return self._run(self.client.subscribe(destination, run, **options)).id

    def release(self, message: MessageReceived, error: BaseException | None = None) -> None:
        def act() -> None:
            gate = self._gates.pop(id(message))
            if error is None:
                gate.set_result(None)
            else:
                gate.set_exception(error)

        self._now(act)

    def shut_down(self, timeout: float) -> DisconnectResult:
        return self._run(self.client.disconnect(timeout=timeout))

    def ended(self, timeout: float) -> DisconnectResult:
        async def wait() -> DisconnectResult:
            return await asyncio.wait_for(self.client.disconnected, timeout)

        return self._run(wait())

    def in_flight(self, subscription: str) -> int:
        return self._now(lambda: self.client.handlers[subscription].in_flight)

    def receive(self, timeout: float) -> MessageReceived | None:
        return self._run(self.client.receive(timeout))

    def ack(self, message: MessageReceived, **options: Any) -> None:
        self._run(self.client.ack(message, **options))

    def nack(self, message: MessageReceived, **options: Any) -> None:
        self._run(self.client.nack(message, **options))

    def begin(self, transaction: str | None = None) -> str:
        return self._run(self.client.begin(transaction))

    def commit(self, transaction: str, **options: Any) -> None:
        self._run(self.client.commit(transaction, **options))

    def abort(self, transaction: str, **options: Any) -> None:
        self._run(self.client.abort(transaction, **options))

    def disconnect(self) -> DisconnectResult:
        return self._run(self.client.disconnect())

    def close(self) -> None:
        self._now(self.client.close)

    def is_current(self, message: MessageReceived) -> bool:
        return self._now(lambda: self.client.is_current(message))

    def in_background(self, call: Callable[[], _T]) -> Background[_T]:
        return Background(call)

    @property
    def state(self) -> ClientState:
        return self._now(lambda: self.client.state)

    @property
    def counters(self) -> Counters:
        return self._now(lambda: self.client.counters)

    @property
    def connected(self) -> Connected | None:
        return self._now(lambda: self.client.connected)

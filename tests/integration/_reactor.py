"""The global Twisted reactor in a daemon thread, shared by every integration test module.

A reactor can only run once per process: the session-scoped ``twisted_reactor`` fixture
(conftest.py) starts it once, for all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from twisted.internet.defer import Deferred
from twisted.internet.threads import blockingCallFromThread

T = TypeVar("T")
Scenario = Callable[[Any], Coroutine[Any, Any, T]]


class ReactorThread:
    """The global reactor, running in a daemon thread; scenarios run on it."""

    def __init__(self) -> None:
        from twisted.internet import reactor

        self.reactor: Any = cast(Any, reactor)
        self.thread = threading.Thread(
            target=self.reactor.run,
            kwargs={"installSignalHandlers": False},
            name="twisted-reactor",
            daemon=True,
        )
        self.thread.start()

    def run(self, scenario: Scenario[T], timeout: float = 60.0) -> T:
        """Run ``scenario(reactor)`` on the reactor thread; return its result or raise."""

        def start() -> Deferred[T]:
            running = Deferred.fromCoroutine(scenario(self.reactor))
            return running.addTimeout(timeout, self.reactor)

        blocking: Any = blockingCallFromThread  # its generic signature cannot see T
        result: T = blocking(self.reactor, start)
        return result

    def stop(self) -> None:
        self.reactor.callFromThread(self.reactor.stop)
        self.thread.join(timeout=10)

"""A real reactor running in a daemon thread, on which blocking test code runs coroutines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from twisted.internet.defer import Deferred
from twisted.internet.threads import blockingCallFromThread

from stomp_twisted._twisted import default_reactor

__all__ = ["ReactorThread"]

_T = TypeVar("_T")


class ReactorThread:
    """A Twisted reactor running in a daemon thread; blocking code runs scenarios on it.

    A scenario is an ``async def`` that takes the reactor; :meth:`run` starts it on the
    reactor's thread and blocks until it ends, with a timeout, so that a test against real
    sockets stays a plain function (no plugin, no greenlets) and a hung scenario fails
    instead of hanging. The reactor runs without signal handlers (only the main thread may
    install them), in a daemon thread (a reactor that does not stop does not keep the
    process alive).

    The global reactor can run once per process: a test suite makes one ``ReactorThread``
    for the whole session (a session-scoped fixture) and :meth:`stop` s it at the end.

    Args:
        reactor: the reactor to run; by default the global one, ``twisted.internet.reactor``.
            A reactor of one's own that nothing installed (``SelectReactor()``) runs too.
        name: the name of the thread.
    """

    def __init__(self, reactor: Any = None, *, name: str = "twisted-reactor") -> None:
        self.reactor: Any = cast(Any, default_reactor() if reactor is None else reactor)
        """The reactor the scenarios run on, and are given."""
        self.thread = threading.Thread(
            target=self.reactor.run,
            kwargs={"installSignalHandlers": False},
            name=name,
            daemon=True,
        )
        """The daemon thread the reactor runs in."""
        self.thread.start()

    def run(self, scenario: Callable[[Any], Coroutine[Any, Any, _T]], timeout: float = 60.0) -> _T:
        """Run ``scenario(reactor)`` on the reactor thread; return its result or raise its error.

        Args:
            scenario: an ``async def`` taking the reactor.
            timeout: seconds after which the scenario is cancelled; it then fails with
                ``twisted.internet.defer.TimeoutError``.

        Raises:
            RuntimeError: the reactor thread is no longer running (after :meth:`stop`),
                so the scenario could never run.
        """
        if not self.thread.is_alive():
            msg = f"the reactor thread {self.thread.name!r} is not running: cannot run a scenario"
            raise RuntimeError(msg)

        def start() -> Deferred[_T]:
            running = Deferred.fromCoroutine(scenario(self.reactor))
            return running.addTimeout(timeout, self.reactor)

        blocking: Any = blockingCallFromThread  # its generic signature cannot see _T
        result: _T = blocking(self.reactor, start)
        return result

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the reactor and wait up to *timeout* seconds for its thread to end."""
        self.reactor.callFromThread(self.reactor.stop)
        self.thread.join(timeout=timeout)

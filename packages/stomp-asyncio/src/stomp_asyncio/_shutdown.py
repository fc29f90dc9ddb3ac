"""The end of the asyncio client: the graceful shutdown, and the end that callers await."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from stomp_asyncio._handlers import Handlers
from stomp_asyncio._link import Link
from stomp_core import ClientCore, ClientEnded, ClientError, ClientState, DisconnectResult

logger = logging.getLogger("stomp_asyncio")


class Shutdown:
    """How the client ends: one shutdown task at most, and the futures of its end.

    A shutdown is asked for (:meth:`~stomp_asyncio.Client.disconnect`), or starts when
    something ends the client (a handler's poison pill, the core giving up): either way
    the handlers get their time, then DISCONNECT goes out and the client closes. Its end,
    a :class:`~stomp_core.DisconnectResult` or the error that ended the client, settles
    every future :meth:`observe` handed out, before or after.
    """

    def __init__(self, core: ClientCore, link: Link, handlers: Handlers) -> None:
        self._core = core
        self._link = link
        self._handlers = handlers
        self._task: asyncio.Task[DisconnectResult] | None = None
        self._end: DisconnectResult | ClientError | None = None
        self._waiters: list[asyncio.Future[DisconnectResult]] = []

    def observe(self) -> asyncio.Future[DisconnectResult]:
        """A new future of the end: its result, or the error that ended the client."""
        future: asyncio.Future[DisconnectResult] = self._link.loop.create_future()
        end = self._end
        if end is None:
            self._waiters.append(future)
        elif isinstance(end, DisconnectResult):
            future.set_result(end)
        else:
            future.set_exception(end)
        return future

    def begin(
        self, reason: ClientError | None, timeout: float | None
    ) -> asyncio.Task[DisconnectResult]:
        """Start the shutdown (once; a later call returns the same task).

        *reason* is what ends the client (``None``: a requested disconnect); *timeout*
        bounds the handlers' drain and DISCONNECT's receipt (default *disconnect_timeout*).
        """
        task = self._task
        if task is None:
            task = self._task = self._link.loop.create_task(self._shut_down(reason, timeout))
            task.add_done_callback(_retrieve)
        elif reason is not None:
            logger.info("already shutting down; also: %s", reason)
        return task

    async def _shut_down(
        self, reason: ClientError | None, timeout: float | None
    ) -> DisconnectResult:
        core, link, handlers = self._core, self._link, self._handlers
        if reason is not None:
            logger.warning("shutting down: %s", reason)
        dropped = handlers.stop_all()
        if dropped:
            logger.info("%d queued message(s) left unhandled and unacknowledged", dropped)
        if core.ready:
            handlers.dispatcher.resume_all()
            handlers.run()
            now = link.now()
            for state in handlers.dispatcher.states.values():
                if state.ack == "auto":
                    with contextlib.suppress(ClientError):
                        core.unsubscribe(state.id, now=now)
            link.process()
        wait = core.settings.disconnect_timeout if timeout is None else timeout
        unfinished = await handlers.drain(wait)
        receipt = False
        if core.state is not ClientState.CLOSED:
            core.disconnect(link.now(), timeout=timeout)
            link.process()
            await link.wait(lambda: core.state is ClientState.CLOSED, None)
            await link.closed(core.settings.disconnect_timeout)
            ended = link.ended
            receipt = ended is not None and ended.confirmed
        result = DisconnectResult(receipt=receipt, unfinished=unfinished)
        if reason is None:
            self._finish(result)
        else:
            reason.unfinished = unfinished
            self._finish(reason)
        return result

    def _finish(self, end: DisconnectResult | ClientError) -> None:
        if self._end is not None:
            return
        self._end = end
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if future.done():
                continue
            if isinstance(end, DisconnectResult):
                future.set_result(end)
            else:
                future.set_exception(end)

    def client_ended(self, event: ClientEnded) -> None:
        """The core ended the client (closed, or it gave up)."""
        if self._task is not None:
            return
        if event.error is not None:
            # Not asked for: the handlers still get their time, then the end says why.
            self.begin(event.error, None)
        else:  # close(): at once
            self._handlers.stop_all()
            self._finish(DisconnectResult(receipt=False))


def _retrieve(task: asyncio.Task[DisconnectResult]) -> None:
    """Mark a shutdown's failure retrieved (it is reported through ``disconnected``)."""
    if not task.cancelled():
        task.exception()


__all__ = ["Shutdown"]

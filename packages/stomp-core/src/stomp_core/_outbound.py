"""The client's one outbound buffer: every byte to write, ACK coalescing, back-pressure."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from stomp_core._errors import ConnectionLost
from stomp_core._model import ClientSettings, Counters
from stomp_core._trace import trace_out

if TYPE_CHECKING:
    from stomp_websocket import WebSocketCodec

__all__ = ["Outbound"]

# pending_output joins small frames at the head of the buffer into one write of at most
# about this many bytes: few system calls for many small frames, and a bounded copy per
# call however much is buffered (a peer that stops reading must not make each call
# copy the whole buffer again).
_JOIN_UP_TO = 65536


class Outbound:
    """The part of :class:`~stomp_core.ClientCore` that holds the bytes to write.

    Every byte leaves through it (h2's ``data_to_send``): frames in order, coalesced
    ACKs (which wait at most ``ack_delay``, and go first when anything else is
    written), and a size the adapters wait on (``max_outgoing``) before writing more.
    """

    _settings: ClientSettings
    _log: logging.Logger
    counters: Counters
    # The WebSocket codec of the connection (ws:// and wss://), else None: every frame
    # becomes one message of it; _ws_in decodes what is read (in stomp_core._core).
    _ws_out: WebSocketCodec | None
    _ws_in: WebSocketCodec | None

    def _init_outbound(self) -> None:
        self._out: deque[bytes] = deque()
        self._out_size = 0
        self._out_head = 0
        self._out_since = 0.0
        self._deferred: list[bytes] = []
        self._deferred_at = 0.0
        self._sends_buffered = 0
        self._sends_unwritten = 0
        self._ws_out = self._ws_in = None

    def _append(self, data: bytes, now: float) -> None:
        if self._ws_out is not None:
            data = self._ws_out.frame(data)
        if not self._out_size:
            self._out_since = now
        self._out.append(data)
        self._out_size += len(data)

    def _append_raw(self, data: bytes, now: float) -> None:
        """Bytes that are no STOMP frame (the WebSocket upgrade, pongs, the close)."""
        if not self._out_size:
            self._out_since = now
        self._out.append(data)
        self._out_size += len(data)

    def _write(self, data: bytes, now: float, *, message: bool = False) -> None:
        if self._deferred:
            self._move_deferred(now)
        self._append(data, now)
        if message:
            self._sends_buffered += 1
        self.counters.frames_out += 1
        if self._log.isEnabledFor(logging.DEBUG):
            trace_out(self._log, data)

    def _move_deferred(self, now: float) -> None:
        deferred = self._deferred
        if self._ws_out is not None:  # one WebSocket message per frame
            for frame in deferred:
                self._append(frame, now)
            deferred.clear()
            return
        data = b"".join(deferred)
        deferred.clear()
        self._append(data, now)

    def _clear_output(self) -> None:
        """Drop what was not written (the connection is gone); remember lost SENDs."""
        if self._sends_buffered and self._out_size > self._out_head:
            self._sends_unwritten += self._sends_buffered
        self._sends_buffered = 0
        self._out.clear()
        self._out_size = 0
        self._out_head = 0
        self._deferred.clear()

    def _raise_unwritten(self) -> None:
        """Raise once for SENDs without receipt dropped unwritten with a lost connection.

        A SEND with a receipt learns its fate from the receipt; one without learns it
        here, from the next SEND, so that nothing is lost without the caller hearing.
        """
        count = self._sends_unwritten
        if count:
            self._sends_unwritten = 0
            msg = (
                f"{count} SEND(s) without receipt were still unwritten when the connection "
                "was lost, so the broker never got them: send them again (only a receipt "
                "proves that the broker has a message)"
            )
            raise ConnectionLost(msg)

    def flush(self, now: float) -> None:
        """Move coalesced ACKs to the outbound buffer now (before the adapter waits)."""
        if self._deferred:
            self._move_deferred(now)

    @property
    def output_size(self) -> int:
        """Bytes waiting in the outbound buffer."""
        return self._out_size - self._out_head

    @property
    def has_room(self) -> bool:
        """Whether the outbound buffer takes more (else calls that write wait for room)."""
        return self._out_size - self._out_head < self._settings.max_outgoing

    def pending_output(self) -> memoryview:
        """The next bytes to write, oldest first; report what went with :meth:`output_written`.

        It may be only the head of the buffer (up to about 64 KiB of small frames joined,
        or one larger frame): write it, report it, and ask again while
        :attr:`output_size` says more is waiting.
        """
        out = self._out
        if not out:
            return memoryview(b"")
        head = self._out_head
        first = out[0]
        if len(out) > 1 and len(first) - head < _JOIN_UP_TO:
            out.popleft()
            parts = [memoryview(first)[head:] if head else first]
            size = len(first) - head
            while out and size < _JOIN_UP_TO:
                chunk = out.popleft()
                parts.append(chunk)
                size += len(chunk)
            first = b"".join(parts)
            out.appendleft(first)
            self._out_size -= head
            self._out_head = head = 0
        view = memoryview(first)
        return view[head:] if head else view

    def output_written(self, count: int, now: float) -> None:
        """*count* bytes of :meth:`pending_output` were written."""
        if count <= 0:
            return
        self.counters.bytes_out += count
        self._out_since = now
        head = self._out_head + count
        if head >= self._out_size:
            self._out.clear()
            self._out_size = 0
            self._out_head = 0
            self._sends_buffered = 0
            return
        out = self._out
        while head >= len(out[0]):
            written = out.popleft()
            head -= len(written)
            self._out_size -= len(written)
        self._out_head = head

    def data_to_send(self, now: float) -> bytes:
        """Take every byte to write (for transports that buffer themselves)."""
        out = self._out
        if not out:
            return b""
        head = self._out_head
        if len(out) == 1:
            data = out[0][head:] if head else out[0]
        else:
            first = out.popleft()
            out.appendleft(first[head:] if head else first)
            data = b"".join(out)
        self.output_written(len(data), now)
        return data

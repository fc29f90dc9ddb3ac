"""The scripted misbehaviour of a test broker, switched on and off at any time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Faults"]

GARBAGE: bytes = b"\x00\x01\x02 not STOMP \xff\xfe\n\n\x00"
"""What :meth:`Faults.send_garbage` sends by default: bytes no STOMP parser accepts."""


@dataclass(frozen=True, slots=True)
class _CommandError:
    message: str
    destination: str | None
    close: bool


class Faults:
    """The scripted misbehaviour of a :class:`~stomp_testing.BrokerCore`; all off at first.

    Faults apply to the connections already open and to new ones, from the next byte
    the broker handles, until :meth:`clear`. Those that fire once (:meth:`drop_on`,
    :meth:`close_mid_frame`, :meth:`send_garbage`) clear themselves when they fire.
    Every method is thread-safe (a socket shell's loop reads them while a test sets them).

    >>> from stomp_testing import Faults
    >>> faults = Faults()
    >>> faults.withhold_receipts("DISCONNECT")
    >>> faults.receipt_withheld("DISCONNECT"), faults.receipt_withheld("SEND")
    (True, False)
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._watchers: list[Callable[[], None]] = []
        self._reset()

    @contextmanager
    def _changing(self) -> Iterator[None]:
        with self._lock:
            yield
        for watcher in list(self._watchers):
            watcher()

    def _watch(self, watcher: Callable[[], None]) -> None:
        """Call *watcher* after every change (a shell wakes its loop to apply it)."""
        self._watchers.append(watcher)

    def _reset(self) -> None:
        self.silent_on_connect = False
        """CONNECT gets no answer at all (the client's CONNECTED timeout fires)."""
        self.connect_error: str | None = None
        """CONNECT gets an ERROR with this ``message``."""
        self.connect_error_closes = True
        """Close the connection after the ERROR for CONNECT (``False``: keep it open,
        as RabbitMQ does until the client hangs up)."""
        self.drop_command: str | None = None
        """When the :attr:`drop_nth` frame of this command arrives, the connection is
        dropped (aborted) before the frame is processed; then this fault clears."""
        self.drop_nth = 1
        self.heart_beating = True
        """``False``: the broker sends no heart-beats (a silent broker)."""
        self.receipts = True
        """``False``: frames are processed but no RECEIPT is sent, and DISCONNECT is
        left unanswered (the connection stays open)."""
        self.reading = True
        """``False``: the broker takes no more bytes (its shell stops reading the socket,
        so the client's writes back up)."""
        self.stop_reading_after: str | None = None
        """Stop reading a connection once a frame of this command was handled on it."""
        self._withheld: frozenset[str] = frozenset()
        self._errors: dict[str, _CommandError] = {}
        self._drop_seen = 0
        self._stalled: set[int] = set()
        self._cut: str | None = None
        self._garbage: tuple[str | None, bytes] | None = None

    # -- switching faults on -------------------------------------------------------------------

    def never_answer(self) -> None:
        """Never answer CONNECT."""
        with self._changing():
            self.silent_on_connect = True

    def error_on_connect(self, message: str = "Bad CONNECT", *, close: bool = True) -> None:
        """Answer CONNECT with an ERROR, then close (or, with ``close=False``, keep it open)."""
        with self._changing():
            self.connect_error = message
            self.connect_error_closes = close

    def error_on(
        self,
        command: str,
        message: str,
        *,
        destination: str | None = None,
        close: bool = False,
    ) -> None:
        """Answer every *command* frame (to *destination*, or any) with an ERROR instead.

        The ERROR carries *message* and the frame's ``receipt`` as ``receipt-id``; the
        frame is not processed (a SEND is not stored). With *close* the broker closes
        the connection after the ERROR, as the spec says a server may.
        """
        with self._changing():
            self._errors[command] = _CommandError(message, destination, close)

    def error_on_send(
        self,
        message: str = "Access refused",
        *,
        destination: str | None = None,
        close: bool = False,
    ) -> None:
        """Answer SEND (to *destination*, or any) with an ERROR; optionally close then."""
        self.error_on("SEND", message, destination=destination, close=close)

    def drop_on(self, command: str, nth: int = 1) -> None:
        """Drop the connection when the *nth* frame of *command* arrives from now on.

        Raises:
            ValueError: *nth* is below 1.
        """
        if nth < 1:
            msg = f"nth must be at least 1, got {nth}"
            raise ValueError(msg)
        with self._changing():
            self.drop_command = command
            self.drop_nth = nth
            self._drop_seen = 0

    def stop_heart_beating(self) -> None:
        """Send no more heart-beats (a silent broker)."""
        with self._changing():
            self.heart_beating = False

    def withhold_receipts(self, *commands: str) -> None:
        """Process frames but send no RECEIPT (for *commands* only, if any are named).

        A withheld DISCONNECT receipt also leaves the connection open.
        """
        with self._changing():
            if commands:
                self._withheld = self._withheld | frozenset(commands)
            else:
                self.receipts = False

    def stop_reading(self, *, after: str | None = None) -> None:
        """Take no more bytes: now, or on each connection once a frame of *after* was handled.

        A connection that stopped reading keeps what it was given unprocessed; its
        shell stops reading the socket, so the client's writes back up until its
        buffers are full. :meth:`clear` resumes reading.
        """
        with self._changing():
            if after is None:
                self.reading = False
            else:
                self.stop_reading_after = after

    def close_mid_frame(self, command: str = "MESSAGE") -> None:
        """Send only the first half of the next *command* frame, then close the connection."""
        with self._changing():
            self._cut = command

    def send_garbage(self, *, instead_of: str | None = None, data: bytes = GARBAGE) -> None:
        """Send *data* (not STOMP by default) instead of the next *instead_of* frame.

        Without *instead_of*: instead of the next frame the broker sends, whatever it
        is (see :meth:`~stomp_testing.BrokerConnection.send_bytes` to write bytes on one
        connection now).
        """
        with self._changing():
            self._garbage = (instead_of, data)

    def clear(self) -> None:
        """Turn every fault off (connections that stopped reading read again)."""
        with self._changing():
            self._reset()

    # -- reading them (for the broker) ---------------------------------------------------------

    def receipt_withheld(self, command: str) -> bool:
        """Whether the RECEIPT for a frame of *command* is withheld."""
        with self._lock:
            return not self.receipts or command in self._withheld

    def command_error(self, command: str, destination: str | None) -> tuple[str, bool] | None:
        """The ERROR ``(message, close)`` a frame of *command* to *destination* gets, if any."""
        with self._lock:
            error = self._errors.get(command)
            if error is None or error.destination not in (None, destination):
                return None
            return (error.message, error.close)

    @property
    def send_error(self) -> str | None:
        """The ERROR message a SEND gets (see :meth:`error_on_send`), if any."""
        with self._lock:
            error = self._errors.get("SEND")
            return None if error is None else error.message

    @property
    def send_error_destination(self) -> str | None:
        """The destination whose SENDs get an ERROR; ``None``: any."""
        with self._lock:
            error = self._errors.get("SEND")
            return None if error is None else error.destination

    @property
    def send_error_closes(self) -> bool:
        """Whether the connection is closed after the ERROR for a SEND."""
        with self._lock:
            error = self._errors.get("SEND")
            return error is not None and error.close

    def _should_drop(self, command: str) -> bool:
        with self._lock:
            if self.drop_command != command:
                return False
            self._drop_seen += 1
            if self._drop_seen < self.drop_nth:
                return False
            self.drop_command = None
            return True

    def _is_reading(self, connection: int) -> bool:
        with self._lock:
            return self.reading and connection not in self._stalled

    def _handled(self, connection: int, command: str) -> None:
        with self._lock:
            if self.stop_reading_after == command:
                self._stalled.add(connection)

    def _take_cut(self, command: str) -> bool:
        with self._lock:
            if self._cut != command:
                return False
            self._cut = None
            return True

    def _take_garbage(self, command: str) -> bytes | None:
        with self._lock:
            if self._garbage is None or self._garbage[0] not in (None, command):
                return None
            data = self._garbage[1]
            self._garbage = None
            return data

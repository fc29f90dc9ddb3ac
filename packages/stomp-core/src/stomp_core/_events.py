"""What the core tells its adapter: transport instructions and outcomes (a closed union)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from stomp_core._errors import ClientError
from stomp_core._model import Reconnected
from stomp_failover import Attempt, Broker
from stomp_session import Connected

__all__ = [
    "ClientEnded",
    "CloseTransport",
    "ConnectionDropped",
    "ConnectionMade",
    "CoreEvent",
    "OpenTransport",
    "RequestDone",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenTransport:
    """Open a transport to *broker* (TCP, then TLS for ``ssl``).

    Then call :meth:`ClientCore.transport_opened <stomp_core.ClientCore.transport_opened>`
    or :meth:`~stomp_core.ClientCore.transport_failed`. The core times the attempt out
    itself (``connect_timeout``), with a :class:`CloseTransport`.

    Attributes:
        broker: Where to connect.
        attempt: The policy's attempt (number, phase) for logs.
        timeout: Seconds the core allows for it.
    """

    broker: Broker
    attempt: Attempt
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseTransport:
    """Close the transport (or stop opening it).

    Attributes:
        abort: Close at once, dropping unwritten bytes; otherwise write what
            :meth:`~stomp_core.ClientCore.pending_output` holds first.
    """

    abort: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionMade:
    """A connection is up: requests that waited for it can go on.

    Attributes:
        broker: The broker connected to.
        connected: Its CONNECTED.
        reconnected: The report of what the previous connection's loss cost, when this
            connection replaces a lost one; ``None`` for the first.
    """

    broker: Broker
    connected: Connected
    reconnected: Reconnected | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestDone:
    """A frame sent with a receipt is settled.

    Attributes:
        receipt_id: The receipt id.
        error: ``None`` when the RECEIPT came; else why not (a
            :class:`~stomp_core.BrokerError`, :class:`~stomp_core.ConnectionLost` or
            :class:`~stomp_core.WaitTimeout`).
    """

    receipt_id: str
    error: ClientError | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionDropped:
    """The connection was lost; the core reconnects if it may (see the state).

    Attributes:
        broker: The broker it was to.
        cause: Why.
    """

    broker: Broker
    cause: ClientError


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientEnded:
    """The client is :attr:`~stomp_core.ClientState.CLOSED`: every waiter must end.

    Attributes:
        error: ``None`` after a requested disconnect or close; else why it ended
            (:class:`~stomp_core.ConnectFailed`, :class:`~stomp_core.BrokerError`,
            :class:`~stomp_core.ConnectionLost`, :class:`~stomp_core.WaitTimeout`).
        confirmed: Whether the broker confirmed a DISCONNECT.
    """

    error: ClientError | None
    confirmed: bool = False


CoreEvent: TypeAlias = (
    OpenTransport | CloseTransport | ConnectionMade | RequestDone | ConnectionDropped | ClientEnded
)
"""Everything the core tells its adapter (match it with ``assert_never``)."""

"""The client's life cycle across connections: its states, inputs and transition table."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["CLIENT_TRANSITIONS", "ClientInput", "ClientState"]


class ClientState(enum.Enum):
    """Where a client is in its life, across any number of connections."""

    IDLE = "idle"
    """Made; not started."""
    CONNECTING = "connecting"
    """Making the first connection: attempts from the failover policy."""
    CONNECTED = "connected"
    """A connection is up (CONNECTED received): requests go out at once."""
    RECONNECTING = "reconnecting"
    """The connection was lost; attempts from the failover policy. Requests wait."""
    DISCONNECTING = "disconnecting"
    """A graceful end was asked: DISCONNECT written (or about to be), awaiting its RECEIPT."""
    CLOSED = "closed"
    """Ended: disconnected, closed, refused, or the policy gave up. ``start`` begins anew."""

    __hash__ = object.__hash__  # identity: a C slot, looked up on every step


class ClientInput(enum.Enum):
    """What moves a client from one state to the next."""

    START = "start"
    """The caller asked to connect."""
    CONNECTED = "connected"
    """A connection attempt got CONNECTED."""
    LOST = "lost"
    """The connection (or an attempt) ended, and the policy allows another attempt."""
    GIVE_UP = "give up"
    """The connection ended for good: the policy gave up, the broker refused, or
    auto-reconnect is off."""
    DISCONNECT = "disconnect"
    """The caller asked for a graceful end."""
    DISCONNECTED = "disconnected"
    """The broker confirmed DISCONNECT (or the wait for it ended)."""
    CLOSE = "close"
    """The caller asked to close at once."""

    __hash__ = object.__hash__


_S = ClientState
_I = ClientInput
_ATTEMPTING = (_S.CONNECTING, _S.RECONNECTING)

_TABLE: dict[tuple[ClientState, ClientInput], ClientState] = {
    (_S.IDLE, _I.START): _S.CONNECTING,
    (_S.CLOSED, _I.START): _S.CONNECTING,
    **{(state, _I.CONNECTED): _S.CONNECTED for state in _ATTEMPTING},
    **{(state, _I.LOST): state for state in _ATTEMPTING},
    (_S.CONNECTED, _I.LOST): _S.RECONNECTING,
    **{(state, _I.GIVE_UP): _S.CLOSED for state in (*_ATTEMPTING, _S.CONNECTED)},
    (_S.CONNECTED, _I.DISCONNECT): _S.DISCONNECTING,
    # Nothing to say goodbye on: stop connecting.
    **{(state, _I.DISCONNECT): _S.CLOSED for state in (_S.IDLE, *_ATTEMPTING)},
    (_S.DISCONNECTING, _I.DISCONNECT): _S.DISCONNECTING,
    (_S.DISCONNECTING, _I.DISCONNECTED): _S.CLOSED,
    (_S.DISCONNECTING, _I.LOST): _S.CLOSED,
    (_S.DISCONNECTING, _I.GIVE_UP): _S.CLOSED,
    (_S.CLOSED, _I.DISCONNECT): _S.CLOSED,
    **{(state, _I.CLOSE): _S.CLOSED for state in ClientState},
}

CLIENT_TRANSITIONS: Final[Mapping[tuple[ClientState, ClientInput], ClientState]] = MappingProxyType(
    _TABLE
)
"""Every allowed ``(state, input) -> next state`` of a client; the core looks every step up
here, and a pair not in it is an error of the core's caller."""

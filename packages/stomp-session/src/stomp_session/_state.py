"""The connection's states, its inputs, the table of allowed transitions, and its steps."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from stomp_session._errors import LocalProtocolError, RemoteProtocolError

__all__ = ["REMOTE_INPUTS", "TRANSITIONS", "Input", "State", "StateMachine"]

logger = logging.getLogger("stomp_session")


class State(enum.Enum):
    """Where a :class:`~stomp_session.Session` is in the life of a connection."""

    DISCONNECTED = "disconnected"
    """No transport: the initial state, and the state after :meth:`connection_lost`."""
    CONNECTING = "connecting"
    """CONNECT written; waiting for CONNECTED."""
    CONNECTED = "connected"
    """CONNECTED received: frames may be sent."""
    DISCONNECTING = "disconnecting"
    """DISCONNECT written; waiting for its RECEIPT (messages may still arrive)."""
    CLOSED = "closed"
    """The STOMP conversation is over (DISCONNECT receipt, ERROR while connecting, dead
    peer, broken protocol): close the transport, then call ``connection_lost``."""

    # Members are singletons compared by identity, so the identity hash is consistent with
    # equality, and it is a C slot: Enum's own hashes the name in Python, and the session
    # looks (state, input) up in TRANSITIONS for every frame.
    __hash__ = object.__hash__


class Input(enum.Enum):
    """Something that happens to a session: a caller's action or a received frame."""

    # The caller's actions.
    CONNECT = "connect"
    SEND = "send"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    ACK = "ack"
    NACK = "nack"
    BEGIN = "begin"
    COMMIT = "commit"
    ABORT = "abort"
    DISCONNECT = "disconnect"
    RECEIVE_DATA = "receive_data"
    TIMER = "handle_timer"
    CONNECTION_LOST = "connection_lost"
    # What the broker sends, and what the session finds out.
    RECV_CONNECTED = "CONNECTED"
    RECV_MESSAGE = "MESSAGE"
    RECV_RECEIPT = "RECEIPT"
    RECV_DISCONNECT_RECEIPT = "RECEIPT for DISCONNECT"
    """A RECEIPT answering the pending DISCONNECT (any other RECEIPT is RECV_RECEIPT)."""
    RECV_ERROR = "ERROR"
    RECV_HEART_BEAT = "heart-beat"
    PROTOCOL_FAILURE = "protocol failure"
    PEER_DEAD = "peer dead"

    __hash__ = object.__hash__  # as State's


REMOTE_INPUTS: Final[frozenset[Input]] = frozenset(
    {
        Input.RECV_CONNECTED,
        Input.RECV_MESSAGE,
        Input.RECV_RECEIPT,
        Input.RECV_DISCONNECT_RECEIPT,
        Input.RECV_ERROR,
        Input.RECV_HEART_BEAT,
        Input.PROTOCOL_FAILURE,
        Input.PEER_DEAD,
    }
)
"""Inputs that come from the broker: when one is not allowed, the *broker* is wrong."""

_S = State
_I = Input
_CONNECTED_ACTIONS: tuple[Input, ...] = (
    *(_I.SEND, _I.SUBSCRIBE, _I.UNSUBSCRIBE, _I.ACK, _I.NACK, _I.BEGIN, _I.COMMIT, _I.ABORT),
)
_RECEIVING: tuple[Input, ...] = (
    *(_I.RECEIVE_DATA, _I.RECV_MESSAGE, _I.RECV_RECEIPT, _I.RECV_ERROR, _I.RECV_HEART_BEAT),
    _I.TIMER,
)

_TABLE: dict[tuple[State, Input], State] = {
    # Every state: the transport may die at any time (a no-op when there is none).
    **{(state, _I.CONNECTION_LOST): _S.DISCONNECTED for state in State},
    # Timers may fire in every state; they only act while a connection is open.
    **{(state, _I.TIMER): state for state in State},
    # Forgetting a subscription needs no connection (it is not replayed); in
    # CONNECTED an UNSUBSCRIBE frame is also sent.
    **{
        (state, _I.UNSUBSCRIBE): state
        for state in (_S.DISCONNECTED, _S.CONNECTING, _S.CONNECTED, _S.CLOSED)
    },
    (_S.DISCONNECTED, _I.CONNECT): _S.CONNECTING,
    (_S.CONNECTING, _I.RECEIVE_DATA): _S.CONNECTING,
    (_S.CONNECTING, _I.RECV_HEART_BEAT): _S.CONNECTING,
    (_S.CONNECTING, _I.RECV_CONNECTED): _S.CONNECTED,
    # Spec 1.2: "If the server cannot successfully process the CONNECT frame, it MUST
    # return an ERROR frame and then close the connection." (RabbitMQ closes only 10 s
    # later: the client must not wait for it.)
    (_S.CONNECTING, _I.RECV_ERROR): _S.CLOSED,
    (_S.CONNECTING, _I.PROTOCOL_FAILURE): _S.CLOSED,
    **{(_S.CONNECTED, action): _S.CONNECTED for action in _CONNECTED_ACTIONS},
    **{(_S.CONNECTED, received): _S.CONNECTED for received in _RECEIVING},
    (_S.CONNECTED, _I.DISCONNECT): _S.DISCONNECTING,
    (_S.CONNECTED, _I.PROTOCOL_FAILURE): _S.CLOSED,
    (_S.CONNECTED, _I.PEER_DEAD): _S.CLOSED,
    # Spec 1.2: after DISCONNECT "the client MUST NOT send any more frames", but the
    # server may still deliver until it has processed it.
    **{(_S.DISCONNECTING, received): _S.DISCONNECTING for received in _RECEIVING},
    (_S.DISCONNECTING, _I.RECV_DISCONNECT_RECEIPT): _S.CLOSED,
    (_S.DISCONNECTING, _I.PROTOCOL_FAILURE): _S.CLOSED,
    (_S.DISCONNECTING, _I.PEER_DEAD): _S.CLOSED,
    # After the conversation ended, late bytes are discarded unread.
    (_S.CLOSED, _I.RECEIVE_DATA): _S.CLOSED,
}

TRANSITIONS: Final[Mapping[tuple[State, Input], State]] = MappingProxyType(_TABLE)
"""Every allowed ``(state, input) -> next state``; a pair not in it is an error.

A caller's input missing from the table raises
:class:`~stomp_session.LocalProtocolError`; a broker's input missing from it is a
:class:`~stomp_session.RemoteProtocolError`. The session looks every step up here.
"""


class StateMachine:
    """The base of :class:`~stomp_session.Session`: its state, which only a step changes.

    Every input is looked up in :data:`TRANSITIONS`. One the table does not allow in the
    current state raises, and changes nothing: a caller's input as
    :class:`~stomp_session.LocalProtocolError` (with a hint), a broker's as
    :class:`~stomp_session.RemoteProtocolError`.
    """

    __slots__ = ("_state",)  # set by Session.__init__

    _state: State

    def _next_state(self, event: Input) -> State:
        try:
            return TRANSITIONS[self._state, event]
        except KeyError:
            pass
        if event in REMOTE_INPUTS:
            msg = f"the broker sent {event.value} while the session is {self._state.value}"
            raise RemoteProtocolError(msg) from None
        hint = {
            State.DISCONNECTED: "call connect() first",
            State.CONNECTING: "wait for CONNECTED",
            State.DISCONNECTING: "no frame may follow DISCONNECT",
            State.CLOSED: "close the transport and call connection_lost()",
        }.get(self._state, "")
        msg = f"{event.value}() is not allowed while the session is {self._state.value}"
        raise LocalProtocolError(f"{msg}: {hint}" if hint else msg)

    def _enter(self, state: State, cause: Input) -> None:
        if state is not self._state:
            logger.debug("state %s -> %s on %s", self._state.value, state.value, cause.value)
            self._state = state

    def _step(self, event: Input) -> None:
        self._enter(self._next_state(event), event)

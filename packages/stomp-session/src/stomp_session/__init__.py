r"""stomp-session: one STOMP connection as a sans-I/O state machine; time is an input.

Feed it the bytes your transport reads and the time; it returns typed events and
the bytes to write. Every action returns the bytes to write. It keeps the state
(:data:`TRANSITIONS`), negotiates the version and heart-beats, tracks receipts,
transactions and subscriptions, and replays the subscriptions after a reconnect.
It does no I/O and never reads a clock: ask :meth:`Session.next_deadline` when to
call :meth:`Session.handle_timer`.

>>> from stomp_session import Session
>>> session = Session(host="/", heart_beat=(10000, 10000))
>>> session.connect(now=0.0)[:8]
b'CONNECT\n'
>>> out = session.receive_data(b"CONNECTED\nversion:1.2\nheart-beat:5000,5000\n\n\0", now=0.1)
>>> out.events[0].version, session.next_deadline()
(<Version.V1_2: '1.2'>, 10.1)
"""

from __future__ import annotations

from stomp_session._errors import LocalProtocolError, RemoteProtocolError, SessionError
from stomp_session._events import (
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    MessageReceived,
    Output,
    PeerDead,
    ProtocolFailure,
    ReceiptLost,
    ReceiptReceived,
    Subscription,
    TransactionAborted,
)
from stomp_session._session import DEFAULT_HEART_BEAT_GRACE, Session
from stomp_session._state import REMOTE_INPUTS, TRANSITIONS, Input, State

__all__ = [
    "DEFAULT_HEART_BEAT_GRACE",
    "REMOTE_INPUTS",
    "TRANSITIONS",
    "Connected",
    "Disconnected",
    "ErrorReceived",
    "Event",
    "Input",
    "LocalProtocolError",
    "MessageReceived",
    "Output",
    "PeerDead",
    "ProtocolFailure",
    "ReceiptLost",
    "ReceiptReceived",
    "RemoteProtocolError",
    "Session",
    "SessionError",
    "State",
    "Subscription",
    "TransactionAborted",
]

__version__ = "0.1.0"

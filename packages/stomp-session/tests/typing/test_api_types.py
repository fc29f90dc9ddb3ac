"""Static checks of the public API's types (mypy checks these functions; pytest runs them)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, NoReturn

from stomp_commands import ErrorInfo, MessageInfo
from stomp_frame import Frame, Version
from stomp_session import (
    TRANSITIONS,
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    Input,
    MessageReceived,
    Output,
    PeerDead,
    ProtocolFailure,
    ReceiptLost,
    ReceiptReceived,
    RemoteProtocolError,
    Session,
    State,
    Subscription,
    TransactionAborted,
)

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:

    def assert_type(value: object, _type: object) -> object:
        return value


if sys.version_info >= (3, 11):
    from typing import assert_never
else:

    def assert_never(value: NoReturn, /) -> NoReturn:
        msg = f"unhandled value: {value!r}"
        raise AssertionError(msg)


def describe(event: Event) -> str:
    """Every event type is handled: adding one to the union fails mypy here."""
    if isinstance(event, Connected):
        return f"connected {event.version}"
    if isinstance(event, MessageReceived):
        return f"message {event.message.message_id}"
    if isinstance(event, ReceiptReceived):
        return f"receipt {event.receipt_id}"
    if isinstance(event, ErrorReceived):
        return f"error {event.message}"
    if isinstance(event, Disconnected):
        return "disconnected"
    if isinstance(event, PeerDead):
        return f"peer dead after {event.silent_for}"
    if isinstance(event, ProtocolFailure):
        return f"failure {event.error}"
    if isinstance(event, ReceiptLost):
        return f"lost {event.receipt_id}"
    if isinstance(event, TransactionAborted):
        return f"aborted {event.transaction}"
    assert_never(event)


def test_session_api_types() -> None:
    session = Session(host="/", login="u", passcode="p", heart_beat=(0, 0))
    assert_type(session.connect(0.0), bytes)
    out = session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", 0.0)
    assert_type(out, Output)
    assert_type(out.events, tuple[Event, ...])
    assert_type(out.data, bytes)
    assert_type(out.close, bool)
    assert describe(out.events[0]) == "connected 1.2"
    sub, data = session.subscribe("/q", ack="client")
    assert_type(sub, Subscription)
    assert_type(data, bytes)
    assert_type(session.send("/q", b"x"), bytes)
    tx, _ = session.begin()
    assert_type(tx, str)
    assert_type(session.commit(tx), bytes)
    assert_type(session.unsubscribe(sub), bytes)
    assert_type(session.next_deadline(), float | None)
    assert_type(session.handle_timer(1.0), Output)
    assert_type(session.state, State)
    assert_type(session.version, Version | None)
    assert_type(session.subscriptions, Mapping[str, Subscription])
    assert_type(session.transactions, frozenset[str])
    assert_type(session.disconnect(receipt="r"), bytes)
    assert_type(session.connection_lost(2.0), Output)
    assert_type(TRANSITIONS[State.DISCONNECTED, Input.CONNECT], State)


def test_event_field_types() -> None:
    frame = Frame("MESSAGE", {"destination": "/q", "message-id": "m", "subscription": "s"})
    session = Session(host="/")
    session.connect(0.0)
    session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", 0.0)
    (event,) = session.receive_data(
        b"MESSAGE\ndestination:/q\nmessage-id:m\nsubscription:s\n\n\0", 0.0
    ).events
    assert isinstance(event, MessageReceived)
    assert_type(event.message, MessageInfo)
    assert_type(event.subscription, Subscription | None)
    assert_type(event.generation, int)
    assert_type(event.body, bytes)
    assert event.frame == frame
    error = ErrorReceived(
        error=ErrorInfo(message=None, receipt_id=None, body=b"", frame=Frame("ERROR")), command=None
    )
    assert_type(error.receipt_id, str | None)
    failure = ProtocolFailure(error=RemoteProtocolError("x"))
    assert_type(failure.error, RemoteProtocolError)
    assert describe(failure) == "failure x"

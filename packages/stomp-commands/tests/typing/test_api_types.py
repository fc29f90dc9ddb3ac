"""Static checks of the public API's types (mypy checks these functions; pytest runs them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import stomp_commands as sc
from stomp_frame import Frame, Version

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:

    def assert_type(value: object, _type: object) -> object:
        return value


def test_builders_return_frames() -> None:
    v = Version.V1_2
    assert_type(sc.connect(host="/"), Frame)
    assert_type(sc.send(v, "/q", b""), Frame)
    assert_type(sc.subscribe(v, "/q", id="s"), Frame)
    assert_type(sc.unsubscribe(v, id="s"), Frame)
    assert_type(sc.begin(v, "t"), Frame)
    assert_type(sc.commit(v, "t"), Frame)
    assert_type(sc.abort(v, "t"), Frame)
    assert_type(sc.disconnect(v, receipt="r"), Frame)
    assert_type(sc.heart_beat(), bytes)


def test_readers_return_typed_views() -> None:
    connected = sc.read_connected(Frame("CONNECTED", {"version": "1.2"}), sc.ALL_VERSIONS)
    assert_type(connected, sc.ConnectedInfo)
    assert_type(connected.version, Version)
    assert_type(connected.heart_beat, tuple[int, int])
    assert_type(connected.session_id, str | None)
    message = sc.read_message(
        Frame("MESSAGE", {"destination": "/q", "message-id": "m", "subscription": "s"}),
        Version.V1_2,
    )
    assert_type(message, sc.MessageInfo)
    assert_type(message.ack_id, str | None)
    assert_type(message.body, bytes)
    assert_type(sc.ack(Version.V1_1, message), Frame)
    assert_type(sc.nack(Version.V1_1, message.frame), Frame)
    assert_type(sc.read_receipt(Frame("RECEIPT", {"receipt-id": "r"})).receipt_id, str)
    error = sc.read_error(Frame("ERROR"))
    assert_type(error.message, str | None)
    assert_type(error.text, str)


def test_errors_are_one_family() -> None:
    assert issubclass(sc.LocalCommandError, sc.CommandError)
    assert issubclass(sc.LocalCommandError, ValueError)
    assert issubclass(sc.RemoteCommandError, sc.CommandError)
    mode: sc.AckMode = "client-individual"
    assert mode in sc.ACK_MODES

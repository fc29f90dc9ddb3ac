"""The fast paths of SEND and ACK/NACK write exactly what the full path writes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stomp_commands as commands
from stomp_frame import Limits, Version, serialize
from stomp_session import MessageReceived, Session

# Text the escaping must handle: separators, backslashes, CR/LF and non-ASCII (no NUL).
TEXT = st.text(
    st.sampled_from(["a", "/", ":", "\\", "\n", "\r", "é", "€", "x", "-", " "]), min_size=1
).filter(lambda text: not text.startswith(" "))


def connected(version: Version, limits: Limits | None = None) -> Session:
    session = Session(host="/", limits=limits)  # every version offered
    session.connect(0.0)
    session.receive_data(f"CONNECTED\nversion:{version}\n\n\x00".encode(), 0.0)
    return session


@settings(max_examples=200)
@given(
    version=st.sampled_from([Version.V1_0, Version.V1_1, Version.V1_2]),
    destination=TEXT,
    bodies=st.lists(st.binary(max_size=64), min_size=1, max_size=4),
)
def test_a_plain_send_is_written_as_the_full_path_writes_it(
    version: Version, destination: str, bodies: list[bytes]
) -> None:
    session = connected(version)
    for body in bodies:  # the first takes the full path; the next ones the fast one
        try:
            expected = serialize(commands.send(version, destination, body), version)
        except (commands.LocalCommandError, ValueError):
            continue  # a destination the version cannot carry: refused on both paths
        assert session.send(destination, body) == expected


def test_the_prefixes_are_forgotten_at_the_next_connection_whose_version_may_differ() -> None:
    session = connected(Version.V1_2)
    session.send("/queue/a\rb", b"1")
    assert (
        session.send("/queue/a\rb", b"22")
        == b"SEND\ndestination:/queue/a\\rb\ncontent-length:2\n\n22\x00"
    )
    session.connection_lost(1.0)
    session.connect(2.0)
    session.receive_data(b"CONNECTED\nversion:1.0\n\n\x00", 2.0)
    # 1.0 does not escape: a prefix kept from the 1.2 connection would write "\\r".
    assert (
        session.send("/queue/a:b", b"") == b"SEND\ndestination:/queue/a:b\ncontent-length:0\n\n\x00"
    )
    assert (
        session.send("/queue/a:b", b"4")
        == b"SEND\ndestination:/queue/a:b\ncontent-length:1\n\n4\x00"
    )


def test_a_send_too_large_for_the_limits_is_refused_on_the_fast_path_too() -> None:
    session = connected(Version.V1_2, Limits(max_frame_size=4096))
    session.send("/queue/a", b"small")
    with pytest.raises(Exception, match="max_frame_size"):
        session.send("/queue/a", b"x" * 5000)


def message(session: Session, ack_id: str, sub_id: str) -> MessageReceived:
    escaped = (
        ack_id.replace("\\", "\\\\").replace(":", "\\c").replace("\n", "\\n").replace("\r", "\\r")
    )
    raw = (
        f"MESSAGE\nsubscription:{sub_id}\nmessage-id:m-1\ndestination:/queue/a\n"
        f"ack:{escaped}\ncontent-length:0\n\n\x00"
    ).encode()
    (event,) = session.receive_data(raw, 1.0).events
    assert isinstance(event, MessageReceived)
    return event


@settings(max_examples=200)
@given(ack_id=TEXT, nack=st.booleans())
def test_an_ack_is_written_as_the_full_path_writes_it(ack_id: str, nack: bool) -> None:
    session = connected(Version.V1_2)
    subscription, _ = session.subscribe("/queue/a", ack="client-individual")
    received = message(session, ack_id, subscription.id)
    build = commands.nack if nack else commands.ack
    expected = serialize(build(Version.V1_2, received.message), Version.V1_2)
    assert (session.nack if nack else session.ack)(received) == expected

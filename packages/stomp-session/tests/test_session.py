"""The session against canned broker byte streams (ActiveMQ and RabbitMQ shapes, each version)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from stomp_commands import RemoteCommandError
from stomp_frame import Frame, Limits, ParseError, Parser, Version
from stomp_session import (
    DEFAULT_HEART_BEAT_GRACE,
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    LocalProtocolError,
    MessageReceived,
    Output,
    PeerDead,
    ProtocolFailure,
    ReceiptLost,
    ReceiptReceived,
    RemoteProtocolError,
    Session,
    State,
    TransactionAborted,
)

SECRET = "pa55-w0rd"

ACTIVEMQ_CONNECTED = (
    b"CONNECTED\nserver:ActiveMQ/5.17.2\nheart-beat:10000,10000\n"
    b"session:ID:host-41231-1700000000000-3:1\nversion:1.2\n\n\0"
)
RABBITMQ_CONNECTED = (
    b"CONNECTED\nserver:RabbitMQ/3.10.8\nsession:session-Zm9vYmFy\n"
    b"heart-beat:10000,10000\nversion:1.2\n\n\0"
)


def client_frames(data: bytes, version: Version = Version.V1_2) -> list[Frame]:
    """What a broker would read from *data*."""
    return [f for f in Parser(version).feed(data) if isinstance(f, Frame)]


def connected(version: str | None = "1.2") -> tuple[Session, Output]:
    session = Session(host="/", login="guest", passcode=SECRET)
    session.connect(0.0)
    headers = b"" if version is None else b"version:" + version.encode() + b"\n"
    out = session.receive_data(b"CONNECTED\n" + headers + b"\n\0", 0.0)
    assert session.state is State.CONNECTED
    return session, out


def message_bytes(sub: str, message_id: str = "m-1", ack: str | None = None, **extra: str) -> bytes:
    lines = [f"subscription:{sub}", "destination:/queue/a", f"message-id:{message_id}"]
    if ack is not None:
        lines.append(f"ack:{ack}")
    lines += [f"{k.replace('_', '-')}:{v}" for k, v in extra.items()]
    return ("MESSAGE\n" + "\n".join(lines) + "\n\nbody\0").encode()


def state_of(session: Session) -> State:
    """The state, read through a call so that mypy does not keep an earlier narrowing."""
    return session.state


def only(out: Output) -> object:
    assert len(out.events) == 1, out.events
    return out.events[0]


class TestConnect:
    def test_connect_writes_connect_with_the_virtual_host_and_credentials(self) -> None:
        session = Session(host="vhost-a", login="guest", passcode=SECRET, heart_beat=(1000, 2000))
        (frame,) = client_frames(session.connect(0.0))
        assert frame.command == "CONNECT"
        assert frame.get("accept-version") == "1.0,1.1,1.2"
        assert frame.get("host") == "vhost-a"
        assert frame.get("passcode") == SECRET
        assert frame.get("heart-beat") == "1000,2000"
        assert session.state is State.CONNECTING
        assert session.version is None

    def test_one_connection_can_use_another_virtual_host_and_credentials(self) -> None:
        session = Session(host="vhost-a", login="guest", passcode=SECRET, heart_beat=(1000, 2000))
        (frame,) = client_frames(session.connect(0.0, host="vhost-b", login="bob", passcode="s3"))
        assert (frame.get("host"), frame.get("login"), frame.get("passcode")) == (
            "vhost-b",
            "bob",
            "s3",
        )
        assert frame.get("heart-beat") == "1000,2000"
        assert frame.get("accept-version") == "1.0,1.1,1.2"
        session.connection_lost(1.0)
        (again,) = client_frames(session.connect(2.0))
        assert (again.get("host"), again.get("login"), again.get("passcode")) == (
            "vhost-a",
            "guest",
            SECRET,
        )

    def test_a_virtual_host_override_keeps_the_credentials(self) -> None:
        session = Session(host="vhost-a", login="guest", passcode=SECRET)
        (frame,) = client_frames(session.connect(0.0, host="other"))
        assert (frame.get("host"), frame.get("login"), frame.get("passcode")) == (
            "other",
            "guest",
            SECRET,
        )

    def test_a_passcode_override_without_its_login_is_refused(self) -> None:
        session = Session(host="/", login="guest", passcode=SECRET)
        with pytest.raises(LocalProtocolError, match="needs the login") as info:
            session.connect(0.0, passcode="new" + SECRET)
        assert SECRET not in str(info.value)
        assert session.state is State.DISCONNECTED

    def test_an_override_connect_cannot_carry_is_refused(self) -> None:
        session = Session(host="/")
        with pytest.raises(LocalProtocolError, match="never escaped"):
            session.connect(0.0, host="a\nb")
        assert session.state is State.DISCONNECTED

    def test_the_stomp_command_can_open_the_connection(self) -> None:
        session = Session(host="/", connect_command="STOMP")
        assert client_frames(session.connect(0.0))[0].command == "STOMP"

    def test_connect_twice_is_a_local_error(self) -> None:
        session = Session(host="/")
        session.connect(0.0)
        with pytest.raises(LocalProtocolError, match="not allowed while the session is connecting"):
            session.connect(0.0)

    def test_receiving_without_a_connection_is_a_local_error(self) -> None:
        with pytest.raises(LocalProtocolError, match="call connect"):
            Session(host="/").receive_data(b"\n", 0.0)

    def test_settings_connect_cannot_carry_are_refused_at_construction(self) -> None:
        with pytest.raises(LocalProtocolError, match="never escaped") as info:
            Session(host="/", passcode="a\nb" + SECRET)
        assert SECRET not in str(info.value)

    @pytest.mark.parametrize("grace", [0.5, float("nan"), float("inf"), True, "2"])
    def test_a_grace_below_one_or_not_a_number_is_refused(self, grace: object) -> None:
        with pytest.raises(LocalProtocolError, match="heart_beat_grace"):
            Session(host="/", heart_beat_grace=grace)  # type: ignore[arg-type]

    def test_activemq_connected(self) -> None:
        session = Session(host="/", heart_beat=(10000, 10000))
        session.connect(0.0)
        event = only(session.receive_data(ACTIVEMQ_CONNECTED, 0.5))
        assert isinstance(event, Connected)
        assert event.version is Version.V1_2
        assert event.server == "ActiveMQ/5.17.2"
        assert event.session_id == "ID:host-41231-1700000000000-3:1"
        assert event.heart_beat == (10000, 10000)
        assert session.version is Version.V1_2
        assert session.heart_beat == (10000, 10000)

    def test_rabbitmq_connected(self) -> None:
        session = Session(host="/")
        session.connect(0.0)
        event = only(session.receive_data(RABBITMQ_CONNECTED, 0.5))
        assert isinstance(event, Connected)
        assert event.server == "RabbitMQ/3.10.8"
        assert event.heart_beat == (0, 0)

    def test_connected_split_into_single_bytes(self) -> None:
        session = Session(host="/")
        session.connect(0.0)
        events: list[Event] = []
        for i in range(len(RABBITMQ_CONNECTED)):
            events += session.receive_data(RABBITMQ_CONNECTED[i : i + 1], 0.0).events
        assert [type(e) for e in events] == [Connected]

    def test_a_missing_version_means_10(self) -> None:
        session, _ = connected(version=None)
        assert session.version is Version.V1_0

    def test_a_version_not_offered_is_a_protocol_failure(self) -> None:
        session = Session(host="/", versions=(Version.V1_2,))
        session.connect(0.0)
        out = session.receive_data(b"CONNECTED\nversion:1.1\n\n\0", 0.0)
        event = only(out)
        assert isinstance(event, ProtocolFailure)
        assert isinstance(event.error.__cause__, RemoteCommandError)
        assert out.close
        assert session.state is State.CLOSED

    def test_the_parser_switches_to_the_negotiated_version_within_the_same_chunk(self) -> None:
        session = Session(host="/")
        session.connect(0.0)
        session.receive_data(b"CONNECTED\nversion:1.1\n\n\0", 0.0)
        sub, _ = session.subscribe("/queue/a", ack="client")
        session.connection_lost(1.0)
        session.connect(1.0)
        chunk = b"CONNECTED\nversion:1.2\n\n\0" + message_bytes(
            sub.id, message_id="ID\\cbroker-1\\c1", ack="ID\\cbroker-7\\c3"
        )
        out = session.receive_data(chunk, 1.0)
        assert [type(e) for e in out.events] == [Connected, MessageReceived]
        message = out.events[1]
        assert isinstance(message, MessageReceived)
        assert message.message.message_id == "ID:broker-1:1"
        assert client_frames(session.ack(message))[0].get("id") == "ID:broker-7:3"

    def test_a_10_session_does_not_unescape(self) -> None:
        session, _ = connected(version=None)
        session.subscribe("/queue/a", id="0", ack="client")
        out = session.receive_data(message_bytes("0", message_id="T_0@@session-x\\c1@@1"), 0.0)
        message = only(out)
        assert isinstance(message, MessageReceived)
        ack = client_frames(session.ack(message), Version.V1_0)[0]
        assert ack.headers == (("message-id", "T_0@@session-x\\c1@@1"),)

    def test_error_while_connecting_ends_the_conversation(self) -> None:
        session = Session(host="localhost", passcode=SECRET)
        session.connect(0.0)
        out = session.receive_data(
            b"ERROR\nmessage:Bad CONNECT\ncontent-type:text/plain\nversion:1.0,1.1,1.2\n"
            b"content-length:41\n\nVirtual host 'localhost' access denied\n\0\0\0",
            0.0,
        )
        event = out.events[0]
        assert isinstance(event, ErrorReceived)
        assert event.message == "Bad CONNECT"
        assert out.close
        assert session.state is State.CLOSED
        assert session.receive_data(b"garbage", 0.1) == Output(close=True)

    def test_a_message_before_connected_is_a_protocol_failure(self) -> None:
        session = Session(host="/")
        session.connect(0.0)
        event = only(session.receive_data(message_bytes("0"), 0.0))
        assert isinstance(event, ProtocolFailure)
        assert "MESSAGE while the session is connecting" in str(event.error)

    def test_heart_beats_before_connected_are_accepted(self) -> None:
        session = Session(host="/")
        session.connect(0.0)
        assert session.receive_data(b"\n\r\n", 0.0) == Output()


class TestProtocolFailures:
    def test_garbage_keeps_the_events_before_it(self) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="0")
        out = session.receive_data(message_bytes("0") + b"NOT-A-COMMAND\n\n\0", 0.0)
        assert isinstance(out.events[0], MessageReceived)
        failure = out.events[1]
        assert isinstance(failure, ProtocolFailure)
        assert isinstance(failure.error, RemoteProtocolError)
        assert isinstance(failure.error.__cause__, ParseError)
        assert out.close
        assert session.state is State.CLOSED

    def test_a_message_without_message_id_is_a_protocol_failure(self) -> None:
        session, _ = connected()
        out = session.receive_data(b"MESSAGE\nsubscription:0\ndestination:/q\n\n\0", 0.0)
        event = only(out)
        assert isinstance(event, ProtocolFailure)
        assert "message-id" in str(event.error)

    def test_a_client_command_from_the_broker_is_a_protocol_failure(self) -> None:
        session, _ = connected()
        event = only(session.receive_data(b"SEND\ndestination:/q\n\n\0", 0.0))
        assert isinstance(event, ProtocolFailure)
        assert "only a client may send" in str(event.error)

    def test_a_second_connected_is_a_protocol_failure(self) -> None:
        session, _ = connected()
        event = only(session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", 0.0))
        assert isinstance(event, ProtocolFailure)

    def test_a_receipt_without_receipt_id_is_a_protocol_failure(self) -> None:
        session, _ = connected()
        assert isinstance(only(session.receive_data(b"RECEIPT\n\n\0", 0.0)), ProtocolFailure)


class TestReceipts:
    def test_a_receipt_resolves_the_pending_request(self) -> None:
        session, _ = connected()
        session.send("/queue/a", b"x", receipt="r-1")
        assert session.pending_receipts == {"r-1": "SEND"}
        event = only(session.receive_data(b"RECEIPT\nreceipt-id:r-1\n\n\0", 0.0))
        assert event == ReceiptReceived(receipt_id="r-1", command="SEND")
        assert session.pending_receipts == {}

    @pytest.mark.parametrize("receipt_first", [True, False])
    def test_receipt_before_or_after_the_message(self, receipt_first: bool) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="0")
        session.send("/queue/a", b"x", receipt="r-1")
        receipt = b"RECEIPT\nreceipt-id:r-1\n\n\0"
        # RabbitMQ copies the SEND's receipt header into the MESSAGE: it must be ignored.
        message = message_bytes("0", receipt="r-1")
        chunk = receipt + message if receipt_first else message + receipt
        out = session.receive_data(chunk, 0.0)
        kinds = [type(e) for e in out.events]
        expected = [ReceiptReceived, MessageReceived]
        assert kinds == (expected if receipt_first else expected[::-1])
        assert session.pending_receipts == {}

    def test_an_error_with_receipt_id_fails_the_pending_receipt(self) -> None:
        session, _ = connected()
        session.send("/queue/a", b"x", receipt="r-9", transaction=None)
        out = session.receive_data(
            b"ERROR\nmessage:Unexpected ACK received\nreceipt-id:r-9\n\n"
            b"java.lang.IllegalStateException\0",
            0.0,
        )
        event = only(out)
        assert isinstance(event, ErrorReceived)
        assert event.command == "SEND"
        assert event.receipt_id == "r-9"
        assert session.pending_receipts == {}
        assert not out.close
        assert session.state is State.CONNECTED

    def test_an_unrequested_receipt_is_reported_without_a_command(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        session, _ = connected()
        with caplog.at_level(logging.WARNING, logger="stomp_session"):
            event = only(session.receive_data(b"RECEIPT\nreceipt-id:zz\n\n\0", 0.0))
        assert event == ReceiptReceived(receipt_id="zz", command=None)
        assert "'zz' was not asked for" in caplog.text

    def test_a_receipt_id_already_pending_is_refused(self) -> None:
        session, _ = connected()
        session.send("/queue/a", receipt="r")
        with pytest.raises(LocalProtocolError, match="already pending"):
            session.subscribe("/queue/a", receipt="r")
        assert session.subscriptions == {}

    def test_every_action_can_ask_for_a_receipt(self) -> None:
        session, _ = connected()
        sub, data = session.subscribe("/queue/a", id="0", ack="client", receipt="r1")
        assert client_frames(data)[0].get("receipt") == "r1"
        tx, _ = session.begin(receipt="r2")
        message = only(session.receive_data(message_bytes("0", ack="a1"), 0.0))
        assert isinstance(message, MessageReceived)
        session.ack(message, transaction=tx, receipt="r3")
        session.commit(tx, receipt="r4")
        session.unsubscribe(sub, receipt="r5")
        assert session.pending_receipts == {
            "r1": "SUBSCRIBE",
            "r2": "BEGIN",
            "r3": "ACK",
            "r4": "COMMIT",
            "r5": "UNSUBSCRIBE",
        }

    def test_pending_receipts_are_reported_lost_with_the_connection(self) -> None:
        session, _ = connected()
        session.send("/queue/a", receipt="r-1")
        out = session.connection_lost(1.0)
        assert out.events == (ReceiptLost(receipt_id="r-1", command="SEND"),)
        assert session.pending_receipts == {}


class TestHeartBeats:
    @pytest.mark.parametrize(
        ("client", "server", "expected"),
        [
            ((0, 0), (10000, 10000), (0, 0)),
            ((4000, 6000), (0, 0), (0, 0)),
            ((4000, 6000), (5000, 3000), (4000, 6000)),
            ((4000, 6000), (7000, 8000), (8000, 7000)),
            ((4000, 0), (7000, 8000), (8000, 0)),
            ((0, 6000), (7000, 8000), (0, 7000)),
        ],
    )
    def test_intervals_are_negotiated_per_the_spec(
        self, client: tuple[int, int], server: tuple[int, int], expected: tuple[int, int]
    ) -> None:
        session = Session(host="/", heart_beat=client)
        session.connect(0.0)
        hb = f"{server[0]},{server[1]}".encode()
        event = only(
            session.receive_data(b"CONNECTED\nversion:1.2\nheart-beat:" + hb + b"\n\n\0", 0)
        )
        assert isinstance(event, Connected)
        assert event.heart_beat == expected

    def test_no_heart_beats_means_no_deadline(self) -> None:
        session, _ = connected()
        assert session.next_deadline() is None
        assert session.handle_timer(1e9) == Output()

    def test_no_heart_beats_on_10(self) -> None:
        session = Session(host="/", heart_beat=(1000, 1000))
        session.connect(0.0)
        session.receive_data(b"CONNECTED\nheart-beat:1000,1000\n\n\0", 0.0)
        assert session.heart_beat == (0, 0)
        assert session.next_deadline() is None

    def test_a_heart_beat_is_sent_every_send_interval(self) -> None:
        session = Session(host="/", heart_beat=(1000, 0))
        session.connect(0.0)
        session.receive_data(b"CONNECTED\nversion:1.2\nheart-beat:0,1000\n\n\0", 10.0)
        assert session.next_deadline() == 11.0
        assert session.handle_timer(10.999) == Output()
        assert session.handle_timer(11.0) == Output(data=b"\n")
        assert session.next_deadline() == 12.0
        # A late timer sends one beat, not a burst, and schedules from now.
        assert session.handle_timer(15.5) == Output(data=b"\n")
        assert session.next_deadline() == 16.5

    def test_the_peer_is_dead_after_grace_times_the_receive_interval(self) -> None:
        session = Session(host="/", heart_beat=(0, 1000))
        session.connect(0.0)
        session.receive_data(b"CONNECTED\nversion:1.2\nheart-beat:1000,0\n\n\0", 0.0)
        limit = 1.0 * DEFAULT_HEART_BEAT_GRACE
        assert session.next_deadline() == limit
        assert session.handle_timer(limit - 0.01) == Output()
        out = session.handle_timer(limit)
        assert out.events == (PeerDead(silent_for=limit, limit=limit),)
        assert out.close
        assert session.state is State.CLOSED
        assert session.next_deadline() is None

    def test_received_data_postpones_the_dead_line(self) -> None:
        session = Session(host="/", heart_beat=(0, 1000), heart_beat_grace=2.0)
        session.connect(0.0)
        session.receive_data(b"CONNECTED\nversion:1.2\nheart-beat:1000,0\n\n\0", 0.0)
        session.receive_data(b"\n", 1.5)
        assert session.next_deadline() == 3.5
        assert session.handle_timer(3.0) == Output()
        assert isinstance(only(session.handle_timer(3.5)), PeerDead)

    def test_activemq_first_beat_at_twice_the_interval_is_not_a_dead_peer(self) -> None:
        # BROKERS.md: ActiveMQ's first beat comes ~2x the interval after CONNECTED.
        session = Session(host="/", heart_beat=(5000, 5000))
        session.connect(0.0)
        session.receive_data(b"CONNECTED\nversion:1.2\nheart-beat:5000,5000\n\n\0", 0.0)
        now = 0.0
        sent = 0
        while now < 10.2:
            now = min(session.next_deadline() or 10.2, 10.2)
            out = session.handle_timer(now)
            assert not out.events
            sent += out.data.count(b"\n")
        session.receive_data(b"\n", 10.2)
        assert session.state is State.CONNECTED
        assert sent == 2

    def test_heart_beats_continue_while_disconnecting(self) -> None:
        session = Session(host="/", heart_beat=(1000, 0))
        session.connect(0.0)
        session.receive_data(b"CONNECTED\nversion:1.2\nheart-beat:0,1000\n\n\0", 0.0)
        session.disconnect()
        assert session.handle_timer(1.0).data == b"\n"


class TestTransactions:
    def test_begin_generates_an_id_and_sends_inside_it(self) -> None:
        session, _ = connected()
        tx, data = session.begin()
        assert client_frames(data)[0].headers == (("transaction", tx),)
        assert session.transactions == {tx}
        frame = client_frames(session.send("/queue/a", b"x", transaction=tx))[0]
        assert frame.get("transaction") == tx
        assert client_frames(session.commit(tx))[0].command == "COMMIT"
        assert session.transactions == frozenset()

    def test_abort_closes_the_transaction(self) -> None:
        session, _ = connected()
        session.begin("t1")
        assert client_frames(session.abort("t1"))[0].headers == (("transaction", "t1"),)
        with pytest.raises(LocalProtocolError, match="no open transaction 't1'"):
            session.commit("t1")

    def test_sending_in_an_unknown_transaction_is_refused(self) -> None:
        session, _ = connected()
        with pytest.raises(LocalProtocolError, match="no open transaction"):
            session.send("/queue/a", transaction="nope")

    def test_beginning_an_open_transaction_again_is_refused(self) -> None:
        session, _ = connected()
        session.begin("t1")
        with pytest.raises(LocalProtocolError, match="already open"):
            session.begin("t1")

    def test_open_transactions_are_aborted_not_replayed_when_the_connection_is_lost(self) -> None:
        session, _ = connected()
        session.begin("t1")
        session.begin("t2")
        out = session.connection_lost(1.0)
        assert out.events == (
            TransactionAborted(transaction="t1"),
            TransactionAborted(transaction="t2"),
        )
        session.connect(2.0)
        out = session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", 2.0)
        assert out.data == b""
        assert session.transactions == frozenset()
        with pytest.raises(LocalProtocolError, match="no open transaction"):
            session.send("/queue/a", transaction="t1")


class TestSubscriptions:
    def test_ids_are_generated_and_unique(self) -> None:
        session, _ = connected()
        first, _ = session.subscribe("/queue/a")
        second, _ = session.subscribe("/queue/b")
        assert first.id != second.id
        assert set(session.subscriptions) == {first.id, second.id}

    def test_a_given_id_in_use_is_refused(self) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="x")
        with pytest.raises(LocalProtocolError, match="already in use"):
            session.subscribe("/queue/b", id="x")

    def test_replay_after_reconnect_sends_exactly_the_first_headers(self) -> None:
        session, _ = connected()
        _, first = session.subscribe(
            "/queue/a", headers={"selector": "x = 1", "activemq.prefetchSize": "1"}
        )
        _, second = session.subscribe("/queue/b", ack="client-individual", receipt="r")
        session.connection_lost(1.0)
        session.connect(2.0)
        out = session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", 2.0)
        replayed = client_frames(out.data)
        original = client_frames(first + second)
        assert replayed[0] == original[0]
        assert replayed[0].get("ack") == "auto"
        # The receipt of the first SUBSCRIBE is not asked again.
        assert replayed[1].headers == tuple(p for p in original[1].headers if p[0] != "receipt")
        event = out.events[0]
        assert isinstance(event, Connected)
        assert event.resubscribed == tuple(session.subscriptions)

    def test_a_subscription_the_new_version_cannot_carry_is_reported_not_replayed(self) -> None:
        session, _ = connected()
        sub, _ = session.subscribe("/queue/a", headers={"note": "two\nlines"})
        session.connection_lost(1.0)
        session.connect(1.0)
        out = session.receive_data(b"CONNECTED\n\n\0", 1.0)
        event = only(out)
        assert isinstance(event, Connected)
        assert event.not_replayed == (sub,)
        assert out.data == b""
        assert session.subscriptions == {}

    def test_unsubscribe_removes_it_from_the_table_and_the_replay(self) -> None:
        session, _ = connected()
        sub, _ = session.subscribe("/queue/a")
        frame = client_frames(session.unsubscribe(sub))[0]
        assert frame.headers == (("id", sub.id),)
        session.connection_lost(1.0)
        session.connect(1.0)
        assert session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", 1.0).data == b""

    def test_unsubscribe_without_a_connection_only_forgets(self) -> None:
        session, _ = connected()
        sub, _ = session.subscribe("/queue/a")
        session.connection_lost(1.0)
        with pytest.raises(LocalProtocolError, match="no connection to ask a receipt on"):
            session.unsubscribe(sub.id, receipt="r")
        assert session.unsubscribe(sub.id) == b""
        assert session.subscriptions == {}

    def test_unsubscribing_an_unknown_id_is_refused(self) -> None:
        session, _ = connected()
        with pytest.raises(LocalProtocolError, match="no subscription 'zz'"):
            session.unsubscribe("zz")

    def test_the_version_decides_what_a_subscription_may_be(self) -> None:
        session, _ = connected(version=None)
        with pytest.raises(LocalProtocolError, match="client-individual") as info:
            session.subscribe("/queue/a", ack="client-individual")
        assert info.value.__cause__ is not None
        assert session.subscriptions == {}


class TestMessagesAndAcks:
    def test_a_message_knows_its_subscription(self) -> None:
        session, _ = connected()
        sub, _ = session.subscribe("/queue/a", ack="client")
        event = only(session.receive_data(message_bytes(sub.id, ack="a"), 0.0))
        assert isinstance(event, MessageReceived)
        assert event.subscription == sub
        assert event.destination == "/queue/a"
        assert event.body == b"body"
        assert event.frame.command == "MESSAGE"

    def test_a_message_for_an_unknown_subscription_has_none(self) -> None:
        session, _ = connected()
        event = only(session.receive_data(message_bytes("gone"), 0.0))
        assert isinstance(event, MessageReceived)
        assert event.subscription is None

    @pytest.mark.parametrize(
        ("version", "expected"),
        [
            (None, (("message-id", "m-1"),)),
            ("1.1", (("subscription", "0"), ("message-id", "m-1"))),
            ("1.2", (("id", "tok"),)),
        ],
    )
    def test_ack_is_built_for_the_negotiated_version(
        self, version: str | None, expected: tuple[tuple[str, str], ...]
    ) -> None:
        session, _ = connected(version=version)
        session.subscribe("/queue/a", id="0", ack="client")
        event = only(session.receive_data(message_bytes("0", ack="tok"), 0.0))
        assert isinstance(event, MessageReceived)
        wire = Version(version) if version else Version.V1_0
        assert client_frames(session.ack(event), wire)[0].headers == expected

    def test_rabbitmq_message_is_acked_with_its_ack_token(self) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="T_0", ack="client-individual")
        wire = (
            b"MESSAGE\nsubscription:T_0\ndestination:/queue/a\n"
            b"message-id:T_0@@session-Zm9v@@1\nredelivered:true\n"
            b"ack:T_0@@session-Zm9v@@1\ncontent-length:5\n\nhello\0"
        )
        event = only(session.receive_data(wire, 0.0))
        assert isinstance(event, MessageReceived)
        assert event.message.redelivered
        nack = client_frames(session.nack(event))[0]
        assert nack.command == "NACK"
        assert nack.headers == (("id", "T_0@@session-Zm9v@@1"),)

    def test_nack_is_refused_on_10(self) -> None:
        session, _ = connected(version=None)
        session.subscribe("/queue/a", id="0", ack="client")
        event = only(session.receive_data(message_bytes("0"), 0.0))
        assert isinstance(event, MessageReceived)
        with pytest.raises(LocalProtocolError, match=r"NACK does not exist in STOMP 1\.0"):
            session.nack(event)

    def test_ack_of_a_message_from_a_previous_connection_is_refused(self) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="0", ack="client")
        event = only(session.receive_data(message_bytes("0", ack="tok"), 0.0))
        assert isinstance(event, MessageReceived)
        session.connection_lost(1.0)
        session.connect(1.0)
        session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", 1.0)
        with pytest.raises(LocalProtocolError, match="earlier connection"):
            session.ack(event)

    def test_ack_of_a_message_from_another_session_is_refused(self) -> None:
        session, _ = connected()
        other, _ = connected()
        other.subscribe("/queue/a", id="0", ack="client")
        event = only(other.receive_data(message_bytes("0", ack="tok"), 0.0))
        assert isinstance(event, MessageReceived)
        with pytest.raises(LocalProtocolError, match="earlier connection"):
            session.ack(event)

    def test_ack_of_an_auto_subscription_message_is_refused(self) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="0")
        event = only(session.receive_data(message_bytes("0", ack="tok"), 0.0))
        assert isinstance(event, MessageReceived)
        with pytest.raises(LocalProtocolError, match="ack mode is auto"):
            session.ack(event)

    def test_messages_still_arrive_while_disconnecting_but_cannot_be_acked(self) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="0", ack="client")
        session.disconnect()
        event = only(session.receive_data(message_bytes("0", ack="t"), 0.0))
        assert isinstance(event, MessageReceived)
        with pytest.raises(LocalProtocolError, match="no frame may follow DISCONNECT"):
            session.ack(event)


class TestDisconnect:
    def test_disconnect_waits_for_its_receipt(self) -> None:
        session, _ = connected()
        frame = client_frames(session.disconnect())[0]
        receipt = frame.get("receipt")
        assert receipt is not None
        assert session.state is State.DISCONNECTING
        out = session.receive_data(f"RECEIPT\nreceipt-id:{receipt}\n\n\0".encode(), 0.0)
        assert out.events == (Disconnected(receipt_id=receipt),)
        assert out.close
        assert state_of(session) is State.CLOSED
        assert session.connection_lost(1.0) == Output()
        assert state_of(session) is State.DISCONNECTED

    @pytest.mark.parametrize("receipt", [5, ""])
    def test_a_bad_receipt_id_is_refused_and_the_session_stays_connected(
        self, receipt: object
    ) -> None:
        session, _ = connected()
        with pytest.raises(LocalProtocolError, match="receipt"):
            session.disconnect(receipt=receipt)  # type: ignore[arg-type]
        assert session.state is State.CONNECTED
        assert client_frames(session.disconnect(receipt="bye"))[0].get("receipt") == "bye"

    def test_other_receipts_still_resolve_while_disconnecting(self) -> None:
        session, _ = connected()
        session.send("/queue/a", receipt="r1")
        session.disconnect(receipt="bye")
        out = session.receive_data(
            b"RECEIPT\nreceipt-id:r1\n\n\0RECEIPT\nreceipt-id:bye\n\n\0", 0.0
        )
        assert out.events == (
            ReceiptReceived(receipt_id="r1", command="SEND"),
            Disconnected(receipt_id="bye"),
        )

    def test_an_error_answering_disconnect_leaves_it_to_the_transport(self) -> None:
        session, _ = connected()
        session.disconnect(receipt="bye")
        out = session.receive_data(b"ERROR\nmessage:x\nreceipt-id:bye\n\n\0", 0.0)
        event = only(out)
        assert isinstance(event, ErrorReceived)
        assert event.command == "DISCONNECT"
        assert session.state is State.DISCONNECTING

    def test_connection_lost_when_already_disconnected_is_harmless(self) -> None:
        session = Session(host="/")
        assert session.connection_lost(0.0) == Output()
        assert session.state is State.DISCONNECTED


class TestSecrets:
    def test_the_passcode_never_appears_in_reprs_logs_or_errors(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.DEBUG, logger="stomp_session"):
            session = Session(host="/", login="guest", passcode=SECRET, heart_beat=(1, 1))
            texts = [repr(session)]
            session.connect(0.0)
            out = session.receive_data(
                b"ERROR\nmessage:Bad CONNECT\n\nAccess refused for user 'guest'\0", 0.0
            )
            texts += [repr(session), repr(out)]
            actions: list[Callable[[], object]] = [
                lambda: session.connect(0.0),
                lambda: session.send("/queue/a"),
            ]
            for action in actions:
                with pytest.raises(LocalProtocolError) as info:
                    action()
                texts.append(str(info.value))
        texts.append(caplog.text)
        assert caplog.records
        for text in texts:
            assert SECRET not in text


class TestLocalErrorsFromTheCommandsLayer:
    def test_a_header_10_cannot_carry_is_a_local_error(self) -> None:
        session, _ = connected(version=None)
        with pytest.raises(LocalProtocolError, match=r"STOMP 1\.0 cannot escape") as info:
            session.send("/queue/a", headers={"note": "two\nlines"})
        assert info.value.__cause__ is not None

    def test_a_header_that_cannot_be_encoded_is_a_local_error(self) -> None:
        session, _ = connected()
        with pytest.raises(LocalProtocolError, match="UTF-8"):
            session.send("/queue/a", receipt="r", headers={"x": "\ud800"})
        assert session.pending_receipts == {}

    def test_empty_ids_are_local_errors(self) -> None:
        session, _ = connected()
        sub, _ = session.subscribe("/queue/a")
        with pytest.raises(LocalProtocolError, match="receipt"):
            session.unsubscribe(sub, receipt="")
        with pytest.raises(LocalProtocolError, match="transaction"):
            session.begin("")
        assert session.transactions == frozenset()

    def test_generated_ids_skip_ids_the_caller_took(self) -> None:
        session, _ = connected()
        session.subscribe("/queue/a", id="sub-1")
        generated, _ = session.subscribe("/queue/b")
        assert generated.id == "sub-2"


class TestOutgoingLimits:
    """What the client writes is held to the same Limits as what it reads."""

    def connected(self, **limits: int) -> Session:
        session = Session(host="/", limits=Limits(**limits))
        session.connect(now=0.0)
        session.receive_data(b"CONNECTED\nversion:1.2\n\n\0", now=0.0)
        return session

    def test_a_frame_larger_than_max_frame_size_is_refused(self) -> None:
        session = self.connected(max_frame_size=1000)
        session.send("/queue/a", b"x" * 900)
        with pytest.raises(LocalProtocolError, match=r"more than Limits.max_frame_size \(1000\)"):
            session.send("/queue/a", b"x" * 1000)

    def test_too_many_headers_are_refused(self) -> None:
        session = self.connected(max_headers=5)
        session.send("/queue/a", headers={f"h{n}": "v" for n in range(3)})
        with pytest.raises(
            LocalProtocolError, match=r"has 7 headers, more than Limits.max_headers"
        ):
            session.send("/queue/a", headers={f"h{n}": "v" for n in range(5)})

    def test_a_header_line_longer_than_max_header_line_is_refused(self) -> None:
        session = self.connected(max_header_line=100)
        session.send("/queue/a", headers={"h": "v" * 90})
        with pytest.raises(LocalProtocolError, match=r"104-byte header line"):
            session.send("/queue/a", headers={"h": "v" * 102})

# mypy: disable-error-code="unreachable"
# (mypy narrows a property read before a call changed it: these checks are reachable)
"""The sans-I/O broker core, driven directly: a test plays the client with bytes and a clock."""

from __future__ import annotations

import pytest

from stomp_frame import Frame, HeartBeat, Parser, Version, serialize
from stomp_testing import GARBAGE, BrokerConnection, BrokerCore, Faults


class Client:
    """A bare STOMP peer on one connection of the core: writes frames, parses the answers."""

    def __init__(self, broker: BrokerCore, now: float = 0.0) -> None:
        self.broker = broker
        self.connection: BrokerConnection = broker.open_connection(now)
        self.parser = Parser(Version.V1_0)
        self.frames: list[Frame] = []
        self.beats = 0
        self.raw = b""

    def send(
        self,
        command: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        now: float = 0.0,
    ) -> None:
        data = serialize(Frame(command, headers or {}, body), self.parser.version)
        self.connection.receive_data(data, now)
        self.pump()

    def pump(self) -> None:
        """Take what every connection of the broker has to send (as a shell would)."""
        data = self.connection.data_to_send()
        self.raw += data
        self.parser.receive_data(data)
        for event in self.parser.events():
            if isinstance(event, HeartBeat):
                self.beats += 1
                continue
            self.frames.append(event)
            if event.command == "CONNECTED":
                self.parser.version = Version(event.get("version", "1.0"))

    def last(self, command: str) -> Frame:
        return [f for f in self.frames if f.command == command][-1]

    def commands(self) -> list[str]:
        return [f.command for f in self.frames]


def connect(broker: BrokerCore, version: str | None = "1.2", **headers: str) -> Client:
    client = Client(broker)
    connect_headers = {"host": "/", **headers}
    if version is not None:
        connect_headers["accept-version"] = version
    client.send("CONNECT", connect_headers)
    return client


def pump(*clients: Client) -> None:
    for client in clients:
        client.pump()


@pytest.fixture
def broker() -> BrokerCore:
    return BrokerCore(name="mq")


class TestNegotiation:
    def test_the_newest_common_version_is_chosen(self, broker: BrokerCore) -> None:
        assert connect(broker, "1.0,1.1").last("CONNECTED").get("version") == "1.1"
        assert connect(broker, None).last("CONNECTED").get("version") == "1.0"
        broker.versions = (Version.V1_0,)
        assert connect(broker, "1.0,1.2").last("CONNECTED").get("version") == "1.0"

    def test_no_common_version_is_an_error_naming_the_supported_ones_then_close(
        self, broker: BrokerCore
    ) -> None:
        broker.versions = (Version.V1_0, Version.V1_1)
        refused = connect(broker, "1.2")
        error = refused.last("ERROR")
        assert error.get("version") == "1.0,1.1"
        assert error.get("message") == "Supported protocol versions are 1.0,1.1"
        assert refused.connection.should_close
        assert not refused.connection.should_abort

    def test_connected_names_the_server_and_a_counted_session(self) -> None:
        broker = BrokerCore(name="b", first_id=7, server="test/1")
        first = connect(broker).last("CONNECTED")
        second = connect(broker).last("CONNECTED")
        assert (first.get("server"), first.get("session")) == ("test/1", "b-session-7")
        assert second.get("session") == "b-session-8"

    def test_credentials_and_vhosts_are_checked(self, broker: BrokerCore) -> None:
        broker.users = {"u": "p"}
        broker.vhosts = frozenset({"/"})
        assert connect(broker, login="u", passcode="x").last("ERROR").get("message") == (
            "Bad credentials"
        )
        denied = connect(broker, login="u", passcode="p", host="other").last("ERROR")
        assert denied.get("message") == "Virtual host 'other' access denied"
        assert connect(broker, login="u", passcode="p").last("CONNECTED").get("version") == "1.2"

    def test_the_same_inputs_give_the_same_bytes(self) -> None:
        def run() -> bytes:
            broker = BrokerCore(name="d")
            client = connect(broker)
            client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
            broker.publish("/queue/a", b"x", {"k": "v"})
            client.pump()
            return client.raw

        assert run() == run()
        assert b"message-id:d-1\n" in run()
        assert b"ack:d-ack-1\n" in run()


class TestRefusals:
    def test_frames_before_connect_are_refused_and_closed(self, broker: BrokerCore) -> None:
        client = Client(broker)
        client.send("SEND", {"destination": "/queue/a"})
        assert client.last("ERROR").get("message") == "SEND before CONNECT"
        assert client.connection.should_close

    def test_garbage_is_refused_and_closed(self, broker: BrokerCore) -> None:
        client = connect(broker)
        client.connection.receive_data(b"\x00\x01 nonsense\n\n\0", 0.0)
        client.pump()
        assert client.last("ERROR").get("message", "").startswith("malformed frame")
        assert client.connection.should_close

    def test_a_second_connect_and_server_commands_are_refused_and_closed(
        self, broker: BrokerCore
    ) -> None:
        client = connect(broker)
        client.send("CONNECT", {"accept-version": "1.2", "host": "mq"})
        assert client.last("ERROR").get("message") == "already connected"
        client = connect(broker)
        client.send("MESSAGE", {"destination": "/queue/a"})
        assert client.last("ERROR").get("message") == "unknown or server command MESSAGE"
        assert client.connection.should_close

    def test_bad_frames_get_an_error_with_the_receipt_id_and_the_connection_stays(
        self, broker: BrokerCore
    ) -> None:
        client = connect(broker)
        checks = [
            ("SEND", {}, "Missing destination"),
            ("SUBSCRIBE", {"id": "1"}, "Missing destination"),
            ("SUBSCRIBE", {"destination": "/queue/a"}, "Missing id"),
            (
                "SUBSCRIBE",
                {"destination": "/queue/a", "id": "1", "ack": "x"},
                "Invalid ack mode 'x'",
            ),
            ("UNSUBSCRIBE", {"id": "9"}, "No subscription '9'"),
            ("ACK", {"id": "nope"}, "Unexpected ACK for 'nope'"),
            ("BEGIN", {}, "Missing transaction"),
            ("COMMIT", {"transaction": "t"}, "Bad transaction: 't' is not open"),
            ("ABORT", {"transaction": "t"}, "Bad transaction: 't' is not open"),
            ("SEND", {"destination": "/q", "transaction": "t"}, "Bad transaction: 't' is not open"),
        ]
        for number, (command, headers, message) in enumerate(checks):
            client.send(command, {**headers, "receipt": f"r{number}"})
            error = client.last("ERROR")
            assert (error.get("message"), error.get("receipt-id")) == (message, f"r{number}")
            assert error.body == message.encode()
        client.send("BEGIN", {"transaction": "t"})
        client.send("BEGIN", {"transaction": "t", "receipt": "again"})
        assert client.last("ERROR").get("message") == "Transaction 't' is already open"
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1"})
        client.send("SUBSCRIBE", {"destination": "/queue/b", "id": "1", "receipt": "dup"})
        assert client.last("ERROR").get("message") == "Duplicate subscription id '1'"
        assert client.connection.is_open
        assert client.connection.transactions == ("t",)
        assert client.connection.subscriptions == {"1": "/queue/a"}

    def test_without_strict_acks_an_unknown_ack_is_ignored(self) -> None:
        broker = BrokerCore(strict_acks=False)
        client = connect(broker)
        client.send("ACK", {"id": "a0", "receipt": "r"})
        assert client.commands() == ["CONNECTED", "RECEIPT"]
        client.send("ACK", {"id": "a0", "transaction": "nope", "receipt": "t"})
        assert client.last("ERROR").get("message") == "Bad transaction: 'nope' is not open"


class TestDelivery:
    def test_queues_go_round_robin_and_topics_to_everyone(self, broker: BrokerCore) -> None:
        one, two = connect(broker), connect(broker)
        for client in (one, two):
            client.send("SUBSCRIBE", {"destination": "/queue/q", "id": "q", "ack": "auto"})
            client.send("SUBSCRIBE", {"destination": "/topic/t", "id": "t", "ack": "auto"})
        for n in range(4):
            broker.publish("/queue/q", str(n).encode())
        broker.publish("/topic/t", b"all", {"kind": "news"})
        broker.publish("/topic/nobody", b"gone")
        pump(one, two)

        def got(client: Client, destination: str) -> list[bytes]:
            return [f.body for f in client.frames if f.get("destination") == destination]

        assert got(one, "/queue/q") == [b"0", b"2"]
        assert got(two, "/queue/q") == [b"1", b"3"]
        assert got(one, "/topic/t") == got(two, "/topic/t") == [b"all"]
        assert one.last("MESSAGE").get("kind") == "news"
        assert broker.queued("/topic/nobody") == ()

    def test_a_queue_keeps_messages_until_a_subscriber_comes(self, broker: BrokerCore) -> None:
        client = connect(broker)
        client.send("SEND", {"destination": "/queue/a", "k": "v", "receipt": "r"}, b"x")
        (waiting,) = broker.queued("/queue/a")
        assert waiting.headers == (("destination", "/queue/a"), ("message-id", "mq-1"), ("k", "v"))
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "s"})
        message = client.last("MESSAGE")
        assert message.headers == (
            ("subscription", "s"),
            ("destination", "/queue/a"),
            ("message-id", "mq-1"),
            ("k", "v"),
            ("content-length", "1"),
        )
        assert broker.queued("/queue/a") == ()

    @pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
    def test_the_ack_header_is_1_2_s_and_acks_name_the_message_per_version(
        self, broker: BrokerCore, version: str
    ) -> None:
        client = connect(broker, version)
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "s", "ack": "client"})
        broker.publish("/queue/a", b"x")
        client.pump()
        message = client.last("MESSAGE")
        if version == "1.2":
            assert message.get("ack") == "mq-ack-1"
            client.send("ACK", {"id": "mq-ack-1"})
        else:
            assert not message.has("ack")
            client.send("ACK", {"message-id": "mq-1", "subscription": "s"})
        assert broker.unacknowledged() == ()
        assert client.last("MESSAGE") is message

    def test_client_acks_are_cumulative_and_individual_ones_are_not(
        self, broker: BrokerCore
    ) -> None:
        client = connect(broker)
        client.send("SUBSCRIBE", {"destination": "/queue/c", "id": "c", "ack": "client"})
        client.send("SUBSCRIBE", {"destination": "/queue/i", "id": "i", "ack": "client-individual"})
        for n in range(3):
            broker.publish("/queue/c", b"c%d" % n)
            broker.publish("/queue/i", b"i%d" % n)
        client.pump()
        messages = {f.body: f for f in client.frames if f.command == "MESSAGE"}
        client.send("ACK", {"id": messages[b"c1"].get("ack", "")})
        client.send("ACK", {"id": messages[b"i1"].get("ack", "")})
        assert sorted(f.body for f in broker.unacknowledged()) == [b"c2", b"i0", b"i2"]

    def test_prefetch_bounds_what_is_unacknowledged(self, broker: BrokerCore) -> None:
        client = connect(broker)
        client.send(
            "SUBSCRIBE",
            {
                "destination": "/queue/p",
                "id": "p",
                "ack": "client-individual",
                "prefetch-count": "1",
            },
        )
        client.send(
            "SUBSCRIBE",
            {"destination": "/topic/t", "id": "t", "ack": "client", "activemq.prefetchSize": "1"},
        )
        for n in range(2):
            broker.publish("/queue/p", b"p%d" % n)
            broker.publish("/topic/t", b"t%d" % n)
        client.pump()
        assert [f.body for f in client.frames if f.command == "MESSAGE"] == [b"p0", b"t0"]
        assert [f.body for f in broker.queued("/queue/p")] == [b"p1"]
        for message in [f for f in client.frames if f.command == "MESSAGE"]:
            client.send("ACK", {"id": message.get("ack", "")})
        assert [f.body for f in client.frames if f.command == "MESSAGE"][2:] == [b"p1", b"t1"]

    def test_unacked_messages_come_back_redelivered_and_dead_letter_past_the_limit(
        self, broker: BrokerCore
    ) -> None:
        broker.redelivery_limit = 1
        broker.publish("/queue/a", b"x", {"k": "v"})
        for expected in ("false", "true"):
            client = connect(broker)
            client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
            assert client.last("MESSAGE").get("redelivered", "false") == expected
            client.send("DISCONNECT", {"receipt": "bye"})
            assert client.last("RECEIPT").get("receipt-id") == "bye"
            assert client.connection.should_close
            client.connection.connection_lost(1.0)
        assert broker.queued("/queue/a") == ()
        (dead,) = broker.queued("/queue/DLQ")
        assert dead.get("original-destination") == "/queue/a"
        assert dead.get("k") == "v"
        assert broker.connections == ()

    def test_unsubscribing_requeues_and_the_next_subscriber_gets_it(
        self, broker: BrokerCore
    ) -> None:
        one, two = connect(broker), connect(broker)
        one.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
        broker.publish("/queue/a", b"x")
        one.pump()
        two.send("SUBSCRIBE", {"destination": "/queue/a", "id": "2", "ack": "auto"})
        one.send("UNSUBSCRIBE", {"id": "1", "receipt": "u"})
        two.pump()
        assert two.last("MESSAGE").get("redelivered") == "true"
        assert one.last("RECEIPT").get("receipt-id") == "u"

    def test_nack_requeues_with_redelivered_but_not_on_1_0(self, broker: BrokerCore) -> None:
        client = connect(broker, "1.1")
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client-individual"})
        broker.publish("/queue/a", b"x")
        client.pump()
        first = client.last("MESSAGE")
        client.send("NACK", {"message-id": first.get("message-id", ""), "subscription": "1"})
        again = client.last("MESSAGE")
        assert again is not first
        assert (again.get("message-id"), again.get("redelivered")) == (
            first.get("message-id"),
            "true",
        )
        old = connect(broker, "1.0")
        old.send("SUBSCRIBE", {"destination": "/queue/b", "ack": "client"})
        broker.publish("/queue/b", b"y")
        old.pump()
        message = old.last("MESSAGE")
        assert not message.has("subscription")  # no id was given
        # STOMP 1.0 has no NACK: a 1.0 parser reads it as an unknown command.
        old.connection.receive_data(
            b"NACK\nmessage-id:" + message.get("message-id", "").encode() + b"\n\n\0", 0.0
        )
        old.pump()
        error = old.last("ERROR").get("message") or ""
        assert "malformed frame" in error
        assert "NACK" in error
        assert old.connection.should_close
        assert [f.body for f in broker.unacknowledged()] == [b"x"]  # y: back on its queue

    def test_a_nack_past_the_limit_goes_to_the_dead_letter_destination(self) -> None:
        broker = BrokerCore(redelivery_limit=0, dead_letter_queue="/queue/dead")
        client = connect(broker)
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
        broker.publish("/queue/a", b"x")
        client.pump()
        client.send("NACK", {"id": client.last("MESSAGE").get("ack", "")})
        assert [f.body for f in broker.queued("/queue/dead")] == [b"x"]
        assert broker.unacknowledged() == ()

    def test_transactions_apply_sends_and_acks_at_commit(self, broker: BrokerCore) -> None:
        client = connect(broker)
        client.send(
            "SUBSCRIBE", {"destination": "/queue/in", "id": "1", "ack": "client-individual"}
        )
        broker.publish("/queue/in", b"x")
        client.pump()
        token = client.last("MESSAGE").get("ack", "")
        client.send("BEGIN", {"transaction": "t"})
        client.send("SEND", {"destination": "/queue/out", "transaction": "t"}, b"y")
        client.send("ACK", {"id": token, "transaction": "t"})
        assert broker.queued("/queue/out") == ()
        assert len(broker.unacknowledged()) == 1
        client.send("COMMIT", {"transaction": "t", "receipt": "c"})
        assert client.last("RECEIPT").get("receipt-id") == "c"
        assert [f.body for f in broker.queued("/queue/out")] == [b"y"]
        assert broker.unacknowledged() == ()
        client.send("BEGIN", {"transaction": "u"})
        client.send("SEND", {"destination": "/queue/out", "transaction": "u"}, b"z")
        client.send("ABORT", {"transaction": "u"})
        assert [f.body for f in broker.queued("/queue/out")] == [b"y"]
        assert client.connection.transactions == ()

    def test_inspection_records_every_frame_by_command(self, broker: BrokerCore) -> None:
        client = connect(broker)
        client.send("SEND", {"destination": "/queue/a"}, b"1")
        client.send("SEND", {"destination": "/queue/b"}, b"2")
        assert [f.body for f in broker.frames("SEND")] == [b"1", b"2"]
        assert [f.command for f in broker.received] == ["CONNECT", "SEND", "SEND"]
        assert client.connection.received == broker.received
        assert client.connection.connect_frame is broker.received[0]
        assert repr(broker) == "<BrokerCore 'mq' connections=1>"
        assert repr(client.connection) == "<BrokerConnection 1 version=1.2 open>"


class TestHeartBeats:
    def test_the_broker_beats_and_drops_a_silent_client_past_the_grace(
        self, broker: BrokerCore
    ) -> None:
        client = connect(broker, **{"heart-beat": "1000,500"})
        assert client.last("CONNECTED").get("heart-beat") == "500,1000"
        assert client.connection.heart_beat == (500, 1000)
        now = 0.0
        while (deadline := broker.next_deadline()) is not None and deadline <= 1.6:
            now = deadline
            broker.handle_timer(now)
        client.pump()
        assert client.beats == 3  # at 0.5, 1.0 and 1.5
        client.connection.receive_data(b"\n", 1.6)
        assert client.connection.beats_received == 1
        assert broker.next_deadline() == 2.0
        broker.handle_timer(4.5)
        assert client.connection.is_open
        assert broker.next_deadline() == pytest.approx(4.6)  # 1.6 + 3 x 1000 ms
        broker.handle_timer(4.6)
        assert client.connection.should_abort
        assert broker.next_deadline() is None

    def test_a_broker_that_stopped_heart_beating_stays_silent(self, broker: BrokerCore) -> None:
        client = connect(broker, **{"heart-beat": "0,500"})
        broker.faults.stop_heart_beating()
        for n in range(1, 10):
            broker.handle_timer(n / 2)
        client.pump()
        assert client.beats == 0
        assert client.connection.is_open

    def test_a_fixed_heart_beat_and_1_0_negotiate_nothing(self) -> None:
        fixed = BrokerCore(heart_beat=(0, 0))
        client = connect(fixed, **{"heart-beat": "9,9"})
        assert client.last("CONNECTED").get("heart-beat") == "0,0"
        assert fixed.next_deadline() is None
        old = connect(BrokerCore(), "1.0", **{"heart-beat": "9,9"})
        assert not old.last("CONNECTED").has("heart-beat")
        assert old.connection.heart_beat == (0, 0)


class TestFaults:
    def test_never_answer_and_error_on_connect(self, broker: BrokerCore) -> None:
        broker.faults.never_answer()
        silent = connect(broker)
        assert silent.frames == []
        assert silent.connection.connect_frame is not None
        broker.faults.clear()
        broker.faults.error_on_connect("nope")
        refused = connect(broker)
        assert refused.last("ERROR").get("message") == "nope"
        assert refused.connection.should_close
        broker.faults.error_on_connect("still no", close=False)
        kept = connect(broker)
        assert kept.last("ERROR").get("message") == "still no"
        assert kept.connection.is_open

    def test_drop_on_the_nth_frame_of_a_command_fires_once(self, broker: BrokerCore) -> None:
        with pytest.raises(ValueError, match="nth must be at least 1, got 0"):
            broker.faults.drop_on("SEND", nth=0)
        broker.faults.drop_on("SEND", nth=2)
        client = connect(broker)
        client.send("SEND", {"destination": "/queue/a"}, b"1")
        assert client.connection.is_open
        client.send("SEND", {"destination": "/queue/a", "receipt": "r"}, b"2")
        assert client.connection.should_abort
        assert client.frames[-1].command == "CONNECTED"
        assert [f.body for f in broker.queued("/queue/a")] == [b"1"]
        again = connect(broker)
        again.send("SEND", {"destination": "/queue/a"}, b"3")
        again.send("SEND", {"destination": "/queue/a"}, b"4")
        assert again.connection.is_open

    def test_error_on_send_to_one_destination_then_close(self, broker: BrokerCore) -> None:
        broker.faults.error_on_send("No", destination="/queue/x", close=True)
        assert (broker.faults.send_error, broker.faults.send_error_destination) == (
            "No",
            "/queue/x",
        )
        assert broker.faults.send_error_closes
        client = connect(broker)
        client.send("SEND", {"destination": "/queue/y"})
        client.send("SEND", {"destination": "/queue/x", "receipt": "r"})
        assert client.last("ERROR").get("receipt-id") == "r"
        assert client.connection.should_close
        assert len(broker.queued("/queue/y")) == 1
        assert broker.queued("/queue/x") == ()

    def test_error_on_any_command(self, broker: BrokerCore) -> None:
        broker.faults.error_on("SUBSCRIBE", "Not allowed")
        client = connect(broker)
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "receipt": "s"})
        assert (client.last("ERROR").get("message"), client.last("ERROR").get("receipt-id")) == (
            "Not allowed",
            "s",
        )
        assert client.connection.subscriptions == {}
        assert client.connection.is_open
        broker.faults.clear()
        assert broker.faults.send_error is None
        assert not broker.faults.send_error_closes

    def test_withheld_receipts_all_or_per_command(self, broker: BrokerCore) -> None:
        broker.faults.withhold_receipts("DISCONNECT")
        client = connect(broker)
        client.send("SEND", {"destination": "/queue/a", "receipt": "s"})
        client.send("DISCONNECT", {"receipt": "d"})
        assert [f.get("receipt-id") for f in client.frames if f.command == "RECEIPT"] == ["s"]
        assert client.connection.is_open, "an unanswered DISCONNECT leaves it open"
        broker.faults.withhold_receipts()
        other = connect(broker)
        other.send("SEND", {"destination": "/queue/a", "receipt": "s"})
        assert other.commands() == ["CONNECTED"]
        assert len(broker.queued("/queue/a")) == 2

    def test_stop_reading_holds_the_bytes_until_cleared(self, broker: BrokerCore) -> None:
        client = connect(broker)
        broker.faults.stop_reading()
        assert not client.connection.reading
        client.send("SEND", {"destination": "/queue/a", "receipt": "r"})
        assert broker.frames("SEND") == []
        broker.faults.clear()
        assert client.connection.reading
        client.connection.receive_data(b"", 1.0)
        client.pump()
        assert client.last("RECEIPT").get("receipt-id") == "r"

    def test_stop_reading_after_a_command_on_each_connection(self, broker: BrokerCore) -> None:
        broker.faults.stop_reading(after="CONNECT")
        client = Client(broker)
        data = serialize(Frame("CONNECT", {"accept-version": "1.2", "host": "/"}), Version.V1_2)
        data += serialize(Frame("SEND", {"destination": "/queue/a"}), Version.V1_2)
        client.connection.receive_data(data, 0.0)
        client.pump()
        assert client.commands() == ["CONNECTED"]
        assert not client.connection.reading
        assert broker.frames("SEND") == []
        assert connect(broker).commands() == ["CONNECTED"]

    def test_a_client_is_not_judged_silent_while_the_broker_does_not_read(
        self, broker: BrokerCore
    ) -> None:
        client = connect(broker, **{"heart-beat": "1000,0"})
        broker.faults.stop_reading()
        assert broker.next_deadline() is None
        broker.handle_timer(100.0)
        assert client.connection.is_open

    def test_close_mid_frame_sends_half_a_frame_then_closes(self, broker: BrokerCore) -> None:
        client = connect(broker)
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1"})
        broker.faults.close_mid_frame("MESSAGE")
        broker.publish("/queue/a", b"0123456789")
        data = client.connection.data_to_send()
        assert data.startswith(b"MESSAGE\n")
        assert b"\0" not in data
        assert client.connection.should_close
        assert not client.connection.should_abort
        assert broker.unacknowledged() == ()

    def test_send_garbage_instead_of_a_frame(self, broker: BrokerCore) -> None:
        broker.faults.send_garbage(instead_of="RECEIPT")
        client = connect(broker)
        assert client.commands() == ["CONNECTED"]
        client.connection.receive_data(
            serialize(Frame("SEND", {"destination": "/q", "receipt": "r"}), Version.V1_2), 0.0
        )
        assert client.connection.data_to_send() == GARBAGE
        broker.faults.send_garbage(data=b"junk")
        client.connection.receive_data(
            serialize(Frame("SEND", {"destination": "/q", "receipt": "s"}), Version.V1_2), 0.0
        )
        assert client.connection.data_to_send() == b"junk"
        client.send("SEND", {"destination": "/q", "receipt": "t"})
        assert client.last("RECEIPT").get("receipt-id") == "t"

    def test_faults_are_their_own_object_with_everything_off(self) -> None:
        faults = Faults()
        assert (faults.silent_on_connect, faults.connect_error, faults.drop_command) == (
            False,
            None,
            None,
        )
        assert faults.heart_beating
        assert faults.receipts
        assert faults.reading
        assert faults.command_error("SEND", "/queue/a") is None


class TestConnections:
    def test_a_test_can_write_frames_and_bytes_and_drop_or_close(self, broker: BrokerCore) -> None:
        client = connect(broker)
        client.connection.send_frame(Frame("RECEIPT", {"receipt-id": "x"}))
        client.connection.send_bytes(b"\n")
        client.pump()
        assert client.last("RECEIPT").get("receipt-id") == "x"
        assert client.beats == 1
        client.connection.send_bytes(b"lost")
        broker.drop_connections()
        assert client.connection.data_to_send() == b""
        assert client.connection.should_abort
        client.connection.connection_lost(0.0)
        assert client.connection.lost
        assert broker.connections == ()
        other = connect(broker)
        other.connection.close()
        assert (other.connection.should_close, other.connection.should_abort) == (True, False)
        other.connection.send_frame(Frame("RECEIPT", {"receipt-id": "late"}))
        assert other.connection.data_to_send() == b""
        other.connection.receive_data(b"SEND\n\n\0", 0.0)
        assert broker.frames("SEND") == []

    def test_a_lost_connection_rolls_back_its_transactions_and_requeues(
        self, broker: BrokerCore
    ) -> None:
        client = connect(broker)
        client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
        broker.publish("/queue/a", b"x")
        client.send("BEGIN", {"transaction": "t"})
        client.send("SEND", {"destination": "/queue/b", "transaction": "t"})
        client.connection.connection_lost(1.0)
        assert broker.queued("/queue/b") == ()
        (again,) = broker.queued("/queue/a")
        assert again.get("redelivered") == "true"
        assert client.connection.transactions == ()

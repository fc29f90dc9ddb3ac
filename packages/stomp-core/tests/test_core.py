"""The client core driven sans I/O against the test broker's core, on a fake clock."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from stomp_core import (
    CLIENT_TRANSITIONS,
    BrokerError,
    ClientCore,
    ClientEnded,
    ClientInput,
    ClientSettings,
    ClientState,
    ConnectFailed,
    ConnectionLost,
    ConnectionMade,
    InvalidRequest,
    MessageStale,
    NotConnected,
    OpenTransport,
    WaitTimeout,
)
from stomp_frame import Version
from stomp_testing import BrokerCore

if TYPE_CHECKING:
    from conftest import Loopback

SECRET = "s3cret-passcode"


class TestLifeCycle:
    def test_every_state_can_be_closed_and_closed_can_start_again(self) -> None:
        for state in ClientState:
            assert CLIENT_TRANSITIONS[state, ClientInput.CLOSE] is ClientState.CLOSED
        assert CLIENT_TRANSITIONS[ClientState.CLOSED, ClientInput.START] is ClientState.CONNECTING

    def test_every_state_is_reached_from_idle(self) -> None:
        seen = {ClientState.IDLE}
        frontier = [ClientState.IDLE]
        while frontier:
            state = frontier.pop()
            for (source, _), target in CLIENT_TRANSITIONS.items():
                if source is state and target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert seen == set(ClientState)

    def test_a_first_connection_goes_idle_connecting_connected(self, make_loop: Any) -> None:
        loop: Loopback = make_loop()
        states = [loop.core.state]
        loop.core.start(0.0)
        states.append(loop.core.state)
        assert states == [ClientState.IDLE, ClientState.CONNECTING]
        loop.pump()
        assert loop.core.state is ClientState.CONNECTED
        (made,) = loop.of(ConnectionMade)
        assert made.reconnected is None
        assert made.connected.version is Version.V1_2
        assert loop.core.ready

    def test_starting_twice_is_refused(self, loop: Loopback) -> None:
        with pytest.raises(InvalidRequest, match="already called: the client is connected"):
            loop.core.start(loop.now)

    def test_requests_before_start_are_refused_with_the_way_out(self, make_loop: Any) -> None:
        loop: Loopback = make_loop()
        with pytest.raises(NotConnected, match="call connect"):
            loop.core.send("/queue/a", b"x", now=0.0)

    def test_an_error_answering_connect_ends_the_client_without_retrying(
        self, broker: BrokerCore, make_loop: Any
    ) -> None:
        broker.faults.error_on_connect("Bad CONNECT")
        loop: Loopback = make_loop()
        loop.start()
        (ended,) = loop.of(ClientEnded)
        assert isinstance(ended.error, BrokerError)
        assert loop.core.state is ClientState.CLOSED
        assert len(loop.of(OpenTransport)) == 1
        with pytest.raises(BrokerError, match="Bad CONNECT"):
            loop.core.check_usable()

    def test_a_connected_timeout_is_an_attempt_failure_then_the_policy_gives_up(
        self, broker: BrokerCore, make_loop: Any
    ) -> None:
        broker.faults.never_answer()
        loop: Loopback = make_loop(
            "failover:(tcp://mq.test:61613)?startupMaxReconnectAttempts=1&initialReconnectDelay=100",
            connected_timeout=5.0,
        )
        loop.start()
        loop.advance(5.0)
        assert loop.core.state is ClientState.CONNECTING  # a second attempt, after 100 ms
        loop.advance(5.2)
        (ended,) = loop.of(ClientEnded)
        assert isinstance(ended.error, ConnectFailed)
        assert isinstance(ended.error.cause, WaitTimeout)
        assert str(ended.error.cause) == "no CONNECTED from tcp://mq.test:61613 within 5 s"
        assert ended.error.attempts == 2


class TestReceipts:
    def test_a_receipt_settles_its_request(self, loop: Loopback) -> None:
        receipt = loop.core.send("/queue/a", b"x", receipt=True, now=loop.now)
        assert receipt == "receipt-1"
        loop.pump()
        assert loop.done == {"receipt-1": None}

    def test_a_receipt_times_out_at_its_deadline_and_a_late_one_is_ignored(
        self, broker: BrokerCore, loop: Loopback
    ) -> None:
        broker.faults.withhold_receipts("SEND")
        loop.core.send("/queue/a", b"x", receipt=True, timeout=2.0, now=loop.now)
        loop.pump()
        loop.advance(1.9)
        assert loop.done == {}
        loop.advance(0.2)
        error = loop.done["receipt-1"]
        assert isinstance(error, WaitTimeout)
        assert loop.core.state is ClientState.CONNECTED
        assert loop.core.counters.receipts_lost == 1

    def test_a_receipt_lost_with_the_connection_fails_with_connection_lost(
        self, broker: BrokerCore, loop: Loopback
    ) -> None:
        broker.faults.withhold_receipts("SEND")
        loop.core.send("/queue/a", b"x", receipt=True, now=loop.now)
        loop.pump()
        loop.drop()
        error = loop.done["receipt-1"]
        assert isinstance(error, ConnectionLost)
        assert "lost before the RECEIPT for SEND to /queue/a" in str(error)

    def test_a_refused_subscription_is_forgotten(self, broker: BrokerCore, loop: Loopback) -> None:
        broker.faults.error_on("SUBSCRIBE", "Bad selector")
        loop.core.subscribe("/queue/a", receipt=True, now=loop.now)
        loop.pump()
        assert isinstance(loop.done["receipt-1"], BrokerError)
        assert dict(loop.core.subscriptions) == {}


class TestOutbound:
    def test_coalesced_acks_leave_with_the_next_write_or_at_the_ack_delay(
        self, broker: BrokerCore, loop: Loopback
    ) -> None:
        loop.core.subscribe("/queue/a", ack="client-individual", now=loop.now)
        broker.publish("/queue/a", b"1")
        broker.publish("/queue/a", b"2")
        loop.pump()
        first = loop.core.next_message()
        second = loop.core.next_message()
        assert first is not None
        assert second is not None
        loop.core.ack(first, defer=True, now=loop.now)
        loop.pump()
        assert broker.frames("ACK") == []  # waits for company
        loop.core.ack(second, defer=True, now=loop.now)
        loop.advance(0.005)
        assert broker.frames("ACK") == []
        loop.advance(0.006)  # ack_delay (10 ms) after the first
        assert len(broker.frames("ACK")) == 2
        assert loop.core.counters.messages_acked == 2

    def test_a_write_the_broker_does_not_take_ends_the_connection_after_write_timeout(
        self, make_loop: Any
    ) -> None:
        loop: Loopback = make_loop(write_timeout=3.0, max_outgoing=1000, auto_reconnect=False)
        loop.start()
        loop.broker_reads = False
        loop.core.send("/queue/a", b"x" * 2000, now=loop.now)
        assert not loop.core.has_room
        loop.advance(2.9)
        assert loop.core.state is ClientState.CONNECTED
        loop.advance(0.2)
        (ended,) = loop.of(ClientEnded)
        assert isinstance(ended.error, ConnectionLost)
        assert isinstance(ended.error.cause, WaitTimeout)
        assert loop.core.output_size == 0  # nothing left piling up

    def test_written_bytes_are_counted_and_consumed_from_the_front(self, loop: Loopback) -> None:
        loop.core.send("/queue/a", b"hello", now=loop.now)
        pending = bytes(loop.core.pending_output())
        loop.core.output_written(3, loop.now)
        assert bytes(loop.core.pending_output()) == pending[3:]
        loop.core.output_written(len(pending) - 3, loop.now)
        assert loop.core.output_size == 0

    def test_a_large_buffer_is_handed_out_in_bounded_pieces_not_joined_whole_each_time(
        self, make_loop: Any
    ) -> None:
        # A broker that stops reading lets the buffer grow to max_outgoing; each write
        # attempt must copy a bounded amount, not the whole buffer again (quadratic).
        loop: Loopback = make_loop(max_outgoing=8 << 20, auto_reconnect=False)
        loop.start()
        loop.broker_reads = False
        sent = [b"%06d" % number + b"x" * 994 for number in range(3000)]
        for body in sent:
            loop.core.send("/queue/a", body, now=loop.now)
        total = loop.core.output_size
        first = loop.core.pending_output()
        assert 64 * 1024 <= len(first) < 64 * 1024 + 2048  # small frames joined, up to ~64 KiB
        assert loop.core.pending_output().obj is first.obj  # asked again: no new copy
        written = bytearray()
        while loop.core.output_size:
            piece = loop.core.pending_output()
            assert len(piece) < 64 * 1024 + 2048
            take = max(1, len(piece) // 3)  # partial writes, as a full socket makes them
            written += piece[:take]
            loop.core.output_written(take, loop.now)
        assert len(written) == total
        bodies = [frame.split(b"\n\n", 1)[1][:1000] for frame in bytes(written).split(b"\x00")[:-1]]
        assert bodies == sent


class TestHeartBeats:
    def test_while_reading_is_paused_the_broker_is_not_judged_and_beats_go_out(
        self, broker: BrokerCore, make_loop: Any
    ) -> None:
        broker.heart_beat = (1000, 1000)
        loop: Loopback = make_loop(heart_beat=(1000, 1000))
        loop.start()
        broker.faults.stop_heart_beating()
        loop.core.pause_reading()
        written = loop.core.counters.bytes_out
        loop.advance(10.0)
        assert loop.core.state is ClientState.CONNECTED
        assert loop.core.counters.bytes_out >= written + 9  # one EOL a second
        loop.core.resume_reading(loop.now)
        loop.advance(2.4)
        assert loop.core.state is ClientState.CONNECTED  # a full allowance from the resumption
        assert loop.core.counters.heart_beats_missed == 0
        loop.advance(0.2)
        assert loop.core.counters.heart_beats_missed == 1  # dropped, then reconnected
        assert loop.core.counters.reconnects == 1


class TestLostConnections:
    def test_the_reconnected_report_says_what_the_loss_cost(
        self, broker: BrokerCore, loop: Loopback
    ) -> None:
        loop.core.subscribe("/queue/a", ack="client-individual", now=loop.now)
        broker.publish("/queue/a", b"1")
        broker.publish("/queue/a", b"2")
        tx, _ = loop.core.begin(now=loop.now)
        loop.pump()
        taken = loop.core.next_message()
        assert taken is not None
        loop.reachable = False
        loop.drop()
        loop.advance(1.0)  # refused attempts meanwhile: the count is kept, not reset
        loop.reachable = True
        loop.advance(60.0)
        made = loop.of(ConnectionMade)[-1]
        report = made.reconnected
        assert report is not None
        assert report.discarded == 1
        assert report.aborted_transactions == (tx,)
        assert report.connected.resubscribed == ("sub-1",)
        with pytest.raises(MessageStale):
            loop.core.ack(taken, now=loop.now)
        with pytest.raises(ConnectionLost, match="rolled it back"):
            loop.core.commit(tx, now=loop.now)

    def test_a_stale_ack_is_refused_while_reconnecting(
        self, broker: BrokerCore, loop: Loopback
    ) -> None:
        loop.core.subscribe("/queue/a", ack="client", now=loop.now)
        broker.publish("/queue/a", b"1")
        loop.pump()
        message = loop.core.next_message()
        assert message is not None
        loop.reachable = False
        loop.drop()
        assert loop.core.state is ClientState.RECONNECTING
        with pytest.raises(MessageStale):
            loop.core.ack(message, receipt=True, now=loop.now)


class TestSettings:
    @pytest.mark.parametrize(
        ("name", "value", "text"),
        [
            ("connect_timeout", 0, "connect_timeout must be a positive number of seconds"),
            ("heart_beat", (1, -1), "heart_beat must be (send_ms, receive_ms)"),
            ("heart_beat_grace", 0.5, "heart_beat_grace must be a finite number >= 1"),
            ("max_outgoing", 0, "max_outgoing must be a positive number of bytes"),
            ("login", b"bytes", "login must be a string or None"),
        ],
    )
    def test_a_bad_setting_is_named(self, name: str, value: object, text: str) -> None:
        from stomp_core import ClientSettings

        with pytest.raises(InvalidRequest, match=text.replace("(", r"\(").replace(")", r"\)")):
            ClientSettings.make(**{name: value})  # type: ignore[arg-type]

    def test_the_passcode_is_never_shown(self, caplog: pytest.LogCaptureFixture) -> None:
        from stomp_core import ClientCore, ClientSettings

        settings = ClientSettings.make(login="u", passcode=SECRET)
        assert SECRET not in repr(settings)
        with caplog.at_level(logging.DEBUG):
            core = ClientCore("tcp://h:1", settings)
            core.start(0.0)
            core.transport_opened(0.0)
        assert "passcode:***" in caplog.text
        assert SECRET not in caplog.text
        assert SECRET not in repr(core)


class TestAcksLostWithTheConnection:
    """A broker that loses an ACK in a crash may deliver the message again, unmarked."""

    @staticmethod
    def deliver(core: ClientCore, now: float, subscription: str, *, redelivered: bool) -> None:
        flag = "redelivered:true\n" if redelivered else ""
        core.receive_data(
            f"MESSAGE\nsubscription:{subscription}\nmessage-id:ID\\cm-7\n"
            f"destination:/queue/a\nack:a-7\n{flag}\nbody\x00".encode(),
            now,
        )

    @staticmethod
    def connect(core: ClientCore, now: float) -> None:
        (event,) = [e for e in iter(core.next_event, None) if isinstance(e, OpenTransport)]
        assert event.broker.host == "h"
        core.transport_opened(now)
        core.receive_data(b"CONNECTED\nversion:1.2\n\n\x00", now)
        core.data_to_send(now)

    def test_a_message_acked_on_a_lost_connection_comes_back_marked(self) -> None:
        core = ClientCore("tcp://h:1", ClientSettings.make(versions=(Version.V1_2,)))
        core.start(0.0)
        self.connect(core, 0.0)
        subscription, _ = core.subscribe("/queue/a", ack="client-individual", now=0.0)
        self.deliver(core, 0.1, subscription.id, redelivered=False)
        first = core.next_message()
        assert first is not None
        assert not first.redelivered
        assert not first.acked_before
        core.ack(first, now=0.2)
        core.data_to_send(0.2)  # written: the broker crashes before it stores it
        core.transport_closed(0.3)
        core.handle_timer(5.0)  # the policy's delay
        self.connect(core, 5.0)
        self.deliver(core, 5.1, subscription.id, redelivered=False)  # unmarked (Artemis)
        again = core.next_message()
        assert again is not None
        assert again.message_id == "ID:m-7"
        assert again.acked_before
        assert again.redelivered
        core.ack(again, now=5.2)
        # Marked once: the id is forgotten when it comes back, so a later message that
        # reuses it (no broker does) is not marked for ever.
        self.deliver(core, 5.3, subscription.id, redelivered=False)
        third = core.next_message()
        assert third is not None
        assert not third.acked_before

    def test_an_artemis_message_is_known_by_its_second_id_whose_first_part_changes(self) -> None:
        # Artemis: message-id "<delivery id>,<message id>", a new first part per delivery.
        core = ClientCore("tcp://h:1", ClientSettings.make(versions=(Version.V1_2,)))
        core.start(0.0)
        self.connect(core, 0.0)
        subscription, _ = core.subscribe("/queue/a", ack="client-individual", now=0.0)
        frame = (
            "MESSAGE\nsubscription:{}\nmessage-id:{},34952\ndestination:/queue/a\nack:{}\n\n\x00"
        )
        core.receive_data(frame.format(subscription.id, 34953, "a-1").encode(), 0.1)
        first = core.next_message()
        assert first is not None
        core.ack(first, now=0.2)
        core.transport_closed(0.3)
        core.handle_timer(5.0)
        self.connect(core, 5.0)
        core.receive_data(frame.format(subscription.id, 34958, "a-2").encode(), 5.1)
        again = core.next_message()
        assert again is not None
        assert again.message_id == "34958,34952"
        assert again.acked_before

    def test_a_message_not_acked_is_not_marked_by_the_client(self) -> None:
        core = ClientCore("tcp://h:1", ClientSettings.make(versions=(Version.V1_2,)))
        core.start(0.0)
        self.connect(core, 0.0)
        subscription, _ = core.subscribe("/queue/a", ack="client-individual", now=0.0)
        self.deliver(core, 0.1, subscription.id, redelivered=False)
        assert core.next_message() is not None  # taken, never acknowledged
        core.transport_closed(0.3)
        core.handle_timer(5.0)
        self.connect(core, 5.0)
        self.deliver(core, 5.1, subscription.id, redelivered=True)
        again = core.next_message()
        assert again is not None
        assert again.redelivered  # the broker's mark
        assert not again.acked_before


class TestNothingLostSilently:
    def test_sends_without_receipt_dropped_unwritten_are_reported_by_the_next_send(
        self, loop: Loopback
    ) -> None:
        loop.broker_reads = False  # the bytes stay in the client's buffer
        for n in range(3):
            loop.core.send("/queue/a", b"%d" % n, now=loop.now)
        loop.drop()
        loop.broker_reads = True
        loop.advance(1.0)  # reconnected
        assert loop.core.ready
        with pytest.raises(ConnectionLost, match="3 SEND"):
            loop.core.send("/queue/a", b"next", now=loop.now)
        loop.core.send("/queue/a", b"next", now=loop.now)  # said once

    def test_sends_that_were_written_are_not_reported(self, loop: Loopback) -> None:
        loop.core.send("/queue/a", b"x", now=loop.now)
        loop.pump()
        loop.drop()
        loop.advance(1.0)
        loop.core.send("/queue/a", b"y", now=loop.now)


class TestSettleHandled:
    def test_a_refused_ack_of_a_handled_message_is_logged_not_raised(
        self, broker: BrokerCore, make_loop: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        loop: Loopback = make_loop()
        loop.start()
        loop.core.subscribe("/queue/a", ack="client-individual", now=loop.now)
        broker.publish("/queue/a", b"1")
        loop.pump()
        message = loop.core.next_message()
        assert message is not None
        loop.drop()  # the message is stale now
        with caplog.at_level(logging.DEBUG, logger="stomp_core"):
            assert not loop.core.settle_handled(message, "ack", loop.now)
        assert "ack of" in caplog.text
        assert "not sent" in caplog.text
        loop.advance(5.0)  # reconnected
        broker.publish("/queue/a", b"2")
        loop.pump()
        fresh = loop.core.next_message()
        assert fresh is not None
        assert loop.core.settle_handled(fresh, "ack", loop.now)

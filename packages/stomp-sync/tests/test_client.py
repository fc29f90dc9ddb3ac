"""The blocking client against a scripted broker on a loopback socket."""

from __future__ import annotations

import logging
import pickle
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from stomp_frame import Frame, Version, serialize
from stomp_sync import (
    BrokerError,
    Client,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    MessageReceived,
    MessageStale,
    Reconnected,
    WaitTimeout,
)

if TYPE_CHECKING:
    from conftest import FakeBroker, MakeBroker, Peer

SECRET = "pa55-w0rd-xyzzy"
FAST = {
    "connect_timeout": 2.0,
    "connected_timeout": 2.0,
    "receipt_timeout": 2.0,
    "disconnect_timeout": 2.0,
    "write_timeout": 2.0,
}


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


_CLIENTS: list[Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def client_for(uri: str, **options: object) -> Client:
    """A client with short timeouts, closed after the test."""
    settings: dict[str, object] = {**FAST, "login": "guest", "passcode": SECRET, "vhost": "/"}
    settings.update(options)
    client = Client(uri, **settings)  # type: ignore[arg-type]
    _CLIENTS.append(client)
    return client


def once(uri: str) -> str:
    """A failover URI that tries *uri* once and gives up."""
    return f"failover:({uri})?startupMaxReconnectAttempts=0&maxReconnectAttempts=0"


class TestConnect:
    def test_connect_sends_the_virtual_host_and_credentials_and_returns_connected(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        client = client_for(broker.uri, vhost="vhost-a", connect_headers={"client-id": "c1"})
        connected = client.connect()
        assert connected.version is Version.V1_2
        assert connected.server == "f/1"
        assert client.is_connected
        assert client.version is Version.V1_2
        frame = broker.wait_for_command("CONNECT")
        assert frame.get("host") == "vhost-a"
        assert (frame.get("login"), frame.get("passcode")) == ("guest", SECRET)
        assert frame.get("client-id") == "c1"
        client.disconnect()
        assert not client.is_connected

    def test_the_virtual_host_defaults_to_the_broker_host(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        client = client_for(broker.uri, login=None, passcode=None, vhost=None)
        client.connect()
        assert broker.wait_for_command("CONNECT").get("host") == "127.0.0.1"
        client.close()

    def test_a_broker_vhost_option_and_credentials_in_the_uri_win(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        uri = f"failover:(tcp://bob:s3@127.0.0.1:{broker.port}?vhost=v2)"
        client = client_for(uri)
        client.connect()
        frame = broker.wait_for_command("CONNECT")
        assert (frame.get("host"), frame.get("login"), frame.get("passcode")) == ("v2", "bob", "s3")
        client.close()

    def test_ipv6_loopback(self, make_broker: MakeBroker) -> None:
        if not socket.has_ipv6:
            pytest.skip("no IPv6 on this machine")
        try:
            broker = make_broker(family=socket.AF_INET6)
        except OSError as exc:
            pytest.skip(f"no IPv6 loopback: {exc}")
        assert broker.uri.startswith("tcp://[::1]:")
        with client_for(broker.uri) as client:
            assert client.is_connected
            assert client.broker is not None
            assert client.broker.host == "::1"

    def test_failover_skips_dead_ports(
        self, make_broker: MakeBroker, caplog: pytest.LogCaptureFixture
    ) -> None:
        broker = make_broker()
        dead = closed_port()
        uri = f"failover:(tcp://127.0.0.1:{dead},{broker.uri})?randomize=false"
        with caplog.at_level(logging.WARNING, "stomp_sync"), client_for(uri) as client:
            assert client.broker is not None
            assert client.broker.port == broker.port
        assert f"127.0.0.1:{dead}" in caplog.text

    def test_when_the_policy_gives_up_connect_fails_with_the_brokers_tried(self) -> None:
        dead = closed_port()
        client = client_for(once(f"tcp://127.0.0.1:{dead}"))
        with pytest.raises(ConnectFailed, match=f"127.0.0.1:{dead}") as info:
            client.connect()
        assert isinstance(info.value.__cause__.cause, ConnectionRefusedError)  # type: ignore[union-attr]
        assert not client.is_connected

    def test_after_a_failed_connect_the_client_waits_for_the_next_connect(
        self, make_broker: MakeBroker, caplog: pytest.LogCaptureFixture
    ) -> None:
        port = closed_port()
        client = client_for(once(f"tcp://127.0.0.1:{port}"))
        with pytest.raises(ConnectFailed):
            client.connect()
        with pytest.raises(ConnectFailed, match="gave up connecting"):
            client.receive(timeout=0.1)  # the reason it ended, again
        caplog.clear()
        with caplog.at_level(logging.WARNING, "stomp_sync"), pytest.raises(ConnectFailed):
            client.connect()
        assert f"cannot connect to tcp://127.0.0.1:{port}" in caplog.text, "tried again"
        broker = make_broker()
        client = client_for(f"failover:({broker.uri})?startupMaxReconnectAttempts=0")
        client.connect()
        client.disconnect()
        client.connect()  # a second connect after a disconnect starts a new startup phase
        assert client.is_connected
        assert len(broker.peers) == 2

    def test_a_broker_that_never_answers_connect_times_out(self, make_broker: MakeBroker) -> None:
        broker = make_broker(answer_connect=False)
        client = client_for(once(broker.uri), connected_timeout=0.3)
        with pytest.raises(ConnectFailed) as info:
            client.connect()
        cause = info.value.__cause__.cause  # type: ignore[union-attr]
        assert isinstance(cause, WaitTimeout)
        assert cause.timeout == 0.3
        assert "CONNECTED from tcp://127.0.0.1" in cause.awaited
        assert _closed_by_client(broker.peers[0])

    def test_connect_timeout_bounds_a_policy_that_retries_for_ever(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(answer_connect=False)
        client = client_for(
            f"failover:({broker.uri})?initialReconnectDelay=50", connected_timeout=0.2
        )
        with pytest.raises(WaitTimeout, match="connection through failover") as info:
            client.connect(timeout=0.5)
        assert info.value.timeout == 0.5
        assert len(broker.peers) >= 2

    def test_a_refused_connect_fails_fast_even_when_the_broker_keeps_the_socket_open(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(connect_error="Bad CONNECT")
        client = client_for(broker.uri, connected_timeout=30.0)
        with pytest.raises(BrokerError, match="Bad CONNECT") as info:
            client.connect()
        assert info.value.frame.command == "ERROR"
        assert info.value.error.message == "Bad CONNECT"
        assert len(broker.peers) == 1, "a refusal is not retried"
        assert not client.is_connected

    def test_a_tls_handshake_that_never_completes_times_out(self, make_broker: MakeBroker) -> None:
        broker = make_broker(read=False)
        client = client_for(once(f"ssl://127.0.0.1:{broker.port}"), connect_timeout=0.3)
        with pytest.raises(ConnectFailed) as info:
            client.connect()
        cause = info.value.__cause__.cause  # type: ignore[union-attr]
        assert isinstance(cause, WaitTimeout)
        assert "TLS handshake with ssl://127.0.0.1" in str(cause)

    def test_an_unverified_tls_context_is_logged_as_a_warning(
        self, make_broker: MakeBroker, caplog: pytest.LogCaptureFixture
    ) -> None:
        broker = make_broker(answer_connect=False)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client = client_for(
            once(f"ssl://127.0.0.1:{broker.port}"), ssl_context=context, connect_timeout=0.2
        )
        with caplog.at_level(logging.WARNING, "stomp_sync"), pytest.raises(ConnectFailed):
            client.connect()
        assert "verification is off" in caplog.text

    def test_connecting_twice_is_an_error(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client, pytest.raises(ClientError, match="already"):
            client.connect()

    @pytest.mark.parametrize(
        "name", ["connect_timeout", "receipt_timeout", "write_timeout", "disconnect_timeout"]
    )
    @pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "1"])
    def test_timeouts_must_be_positive_numbers(self, name: str, value: object) -> None:
        with pytest.raises(ValueError, match=name):
            Client("tcp://127.0.0.1:61613", **{name: value})  # type: ignore[arg-type]

    def test_the_passcode_is_never_logged_or_shown(
        self, make_broker: MakeBroker, caplog: pytest.LogCaptureFixture
    ) -> None:
        broker = make_broker(connect_error=f"denied {SECRET}"[:7])
        client = client_for(f"failover:(tcp://u:{SECRET}@127.0.0.1:{broker.port})")
        with caplog.at_level(logging.DEBUG), pytest.raises(BrokerError) as info:
            client.connect()
        assert SECRET not in caplog.text
        assert SECRET not in repr(client)
        assert SECRET not in str(info.value)
        assert SECRET not in str(client.uri)


def _closed_by_client(peer: Peer) -> bool:
    """Whether the fake broker saw the client close the connection (waits up to 2 s)."""
    return peer.closed.wait(2.0)


class TestMessaging:
    def test_send_subscribe_receive_ack_with_receipts(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            sub = client.subscribe("/queue/a", ack="client-individual", receipt=True)
            assert sub.id in client.subscriptions
            client.send("/queue/a", b"\x00binary\x00", headers={"k": "v:1"}, receipt=True)
            message = client.receive(timeout=2.0)
            assert message is not None
            assert message.body == b"\x00binary\x00"
            assert message.frame.get("k") == "v:1"
            assert message.destination == "/queue/a"
            client.ack(message, receipt=True)
            ack = broker.wait_for_command("ACK")
            assert ack.get("id") == message.frame.get("ack")
            client.unsubscribe(sub, receipt=True)
            assert sub.id not in client.subscriptions
        assert broker.peers[0].commands() == [
            "CONNECT",
            "SUBSCRIBE",
            "SEND",
            "ACK",
            "UNSUBSCRIBE",
            "DISCONNECT",
        ]

    def test_receive_returns_none_when_nothing_comes_and_stays_connected(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            assert client.receive(timeout=0.05) is None
            assert client.is_connected

    def test_messages_iterates_until_idle(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            client.subscribe("/queue/a")
            for n in range(3):
                client.send("/queue/a", str(n).encode())
            bodies = [m.body for m in client.messages(idle_timeout=0.3)]
        assert bodies == [b"0", b"1", b"2"]

    def test_nack_uses_the_negotiated_version(self, make_broker: MakeBroker) -> None:
        broker = make_broker(version="1.1")
        with client_for(broker.uri) as client:
            client.subscribe("/queue/a", ack="client")
            client.send("/queue/a", b"x")
            message = client.receive(timeout=2.0)
            assert message is not None
            client.nack(message, receipt=True)
        nack = broker.wait_for_command("NACK")
        assert nack.get("message-id") == message.frame.get("message-id")
        assert nack.get("subscription") == message.frame.get("subscription")

    def test_a_receipt_that_never_comes_times_out_and_keeps_the_connection(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(receipts=False)
        client = client_for(broker.uri, auto_reconnect=False)
        client.connect()
        with pytest.raises(WaitTimeout, match="RECEIPT for SEND to /queue/a") as info:
            client.send("/queue/a", b"x", receipt=True, timeout=0.2)
        assert info.value.timeout == pytest.approx(0.2, abs=0.05)
        assert isinstance(info.value, TimeoutError)
        assert client.is_connected, "the heart-beats judge the connection, not a late receipt"
        client.close()

    def test_an_error_for_a_receipt_is_raised_by_the_call_that_asked(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(error_on={"SEND": "Missing destination"})
        with client_for(broker.uri) as client:
            with pytest.raises(BrokerError, match="Missing destination") as info:
                client.send("/queue/a", b"x", receipt=True)
            assert info.value.error.receipt_id is not None
            assert client.is_connected, "ActiveMQ and RabbitMQ keep the connection open"

    def test_an_error_without_receipt_is_raised_by_the_next_call(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(error_on={"SEND": "Bad destination"})
        with client_for(broker.uri) as client:
            client.send("/queue/a", b"x")
            with pytest.raises(BrokerError, match="Bad destination"):
                client.receive(timeout=2.0)
            assert client.receive(timeout=0.05) is None

    def test_unsubscribe_without_a_connection_only_forgets(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        client = client_for(broker.uri, auto_reconnect=False)
        client.connect()
        sub = client.subscribe("/queue/a")
        broker.peers[0].close()
        with pytest.raises(ConnectionLost):
            client.receive(timeout=2.0)
        client.unsubscribe(sub)
        assert not client.subscriptions

    def test_a_broker_that_stops_reading_makes_a_write_time_out(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(stall_after_connect=True)
        client = client_for(broker.uri, write_timeout=0.3, auto_reconnect=False)
        client.connect()
        with pytest.raises(WaitTimeout) as info:
            client.send("/queue/big", b"x" * (64 << 20))
        assert info.value.awaited == f"progress writing to {broker.uri}"
        assert info.value.timeout == 0.3
        assert not client.is_connected


def three_messages(broker: FakeBroker, sub_id: str) -> None:
    """Write three MESSAGE frames in one write, so that they arrive together."""
    frames = [
        Frame(
            "MESSAGE",
            {
                "subscription": sub_id,
                "message-id": f"m{n}",
                "destination": "/queue/a",
                "ack": f"a{n}",
            },
            b"%d" % n,
        )
        for n in range(3)
    ]
    broker.peers[0].send(b"".join(serialize(frame, Version.V1_2) for frame in frames))


def acks_seen(broker: FakeBroker) -> list[str | None]:
    return [f.get("id") for f in list(broker.peers[0].frames) if f.command == "ACK"]


class TestAckCoalescing:
    def received(self, client: Client, broker: FakeBroker) -> list[MessageReceived]:
        sub = client.subscribe("/queue/a", ack="client-individual", receipt=True)
        three_messages(broker, sub.id)
        first = client.receive(timeout=2.0)
        assert first is not None
        deadline = time.monotonic() + 2.0
        while client.messages_waiting < 2 and time.monotonic() < deadline:
            client.receive(timeout=0.01)  # pragma: no cover - only when the frames split
        return [first]

    def test_acks_wait_while_messages_are_queued_and_go_with_the_next_call(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            (first,) = self.received(client, broker)
            client.ack(first)
            time.sleep(0.2)
            assert acks_seen(broker) == [], "deferred while two messages wait"
            second = client.receive(timeout=1.0)  # older than 10 ms: written now
            assert second is not None
            broker.wait_for_command("ACK")
            assert acks_seen(broker) == ["a0"]
            client.ack(second)
            third = client.receive(timeout=1.0)
            assert third is not None
            client.ack(third)  # nothing else waits: written at once, after the deferred one
            deadline = time.monotonic() + 2.0
            while len(acks_seen(broker)) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert acks_seen(broker) == ["a0", "a1", "a2"]

    def test_a_wait_writes_the_deferred_acks(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            (first,) = self.received(client, broker)
            client.ack(first)
            client.send("/queue/b", b"x", receipt=True)
            assert broker.peers[0].commands()[-2:] == ["ACK", "SEND"], "in the order written"

    def test_disconnect_writes_the_deferred_acks_and_close_drops_them(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        client = client_for(broker.uri)
        client.connect()
        (first,) = self.received(client, broker)
        client.ack(first)
        client.disconnect()
        assert broker.peers[0].commands()[-2:] == ["ACK", "DISCONNECT"]

        other = make_broker()
        client = client_for(other.uri)
        client.connect()
        (first,) = self.received(client, other)
        client.ack(first)
        client.close()
        assert _closed_by_client(other.peers[0])
        assert acks_seen(other) == []

    def test_acks_are_written_at_once_when_coalescing_is_off(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with client_for(broker.uri, coalesce_acks=False) as client:
            (first,) = self.received(client, broker)
            client.ack(first)
            assert broker.wait_for_command("ACK").get("id") == "a0"


class TestTransactions:
    def test_the_context_manager_commits_with_a_receipt(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            with client.transaction() as tx:
                client.send("/queue/a", b"1", transaction=tx)
            commit = broker.wait_for_command("COMMIT")
            assert commit.get("transaction") == tx
            assert commit.get("receipt") is not None
            assert broker.wait_for_command("SEND").get("transaction") == tx

    def test_the_context_manager_aborts_when_the_block_raises(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            tx = ""

            def fail_inside() -> None:
                nonlocal tx
                with client.transaction() as tx:
                    client.send("/queue/a", b"1", transaction=tx)
                    raise RuntimeError("boom")

            with pytest.raises(RuntimeError, match="boom"):
                fail_inside()
            assert broker.wait_for_command("ABORT").get("transaction") == tx
            assert "COMMIT" not in broker.peers[0].commands()

    def test_a_transaction_lost_with_the_connection_cannot_be_committed(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            tx = client.begin()
            broker.wait_for_command("BEGIN")
            broker.peers[0].close()
            assert client.receive(timeout=1.0) is None  # reconnects meanwhile
            with pytest.raises(ConnectionLost, match="rolled it back"):
                client.commit(tx)
            tx2 = client.begin()
            client.abort(tx2)
            client.abort(tx)  # already rolled back: quiet

    def test_sending_in_a_lost_transaction_is_refused(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            tx = client.begin()
            broker.wait_for_command("BEGIN")
            broker.peers[0].close()
            client.receive(timeout=1.0)
            with pytest.raises(ConnectionLost, match="rolled back"):
                client.send("/queue/a", b"x", transaction=tx)


class TestHeartBeats:
    def test_beats_go_out_while_the_client_waits(self, make_broker: MakeBroker) -> None:
        broker = make_broker(heart_beat="0,100")
        with client_for(broker.uri, heart_beat=(100, 0)) as client:
            assert client.connected is not None
            assert client.connected.heart_beat == (100, 0)
            assert client.receive(timeout=0.65) is None
            assert broker.beats_received() >= 3

    def test_no_beats_go_out_while_the_caller_is_busy_without_the_thread(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(heart_beat="0,100")
        with client_for(broker.uri, heart_beat=(100, 0)):
            time.sleep(0.5)
            assert broker.beats_received() == 0

    def test_the_heart_beat_thread_beats_while_the_caller_is_busy(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(heart_beat="0,100")
        before = {t.name for t in threading.enumerate()}
        with client_for(broker.uri, heart_beat=(100, 0), heart_beat_thread=True):
            assert "stomp-sync-heart-beat" in {t.name for t in threading.enumerate()} - before
            time.sleep(0.6)
            assert broker.beats_received() >= 3
        time.sleep(0.05)
        assert "stomp-sync-heart-beat" not in {t.name for t in threading.enumerate()}

    def test_a_silent_broker_is_detected_within_the_grace(self, make_broker: MakeBroker) -> None:
        broker = make_broker(heart_beat="100,0")
        client = client_for(broker.uri, heart_beat=(0, 100), auto_reconnect=False)
        client.connect()
        with pytest.raises(ConnectionLost, match=r"silent for .* heart-beat limit is 0\.2"):
            client.receive(timeout=3.0)
        assert not client.is_connected

    def test_the_heart_beat_thread_finds_a_silent_broker_while_the_caller_is_busy(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(heart_beat="100,0")
        client = client_for(
            broker.uri, heart_beat=(0, 100), heart_beat_thread=True, auto_reconnect=False
        )
        client.connect()
        deadline = time.monotonic() + 3.0
        while client.is_connected and time.monotonic() < deadline:
            time.sleep(0.02)  # busy outside the client
        assert not client.is_connected, "the thread dropped the silent broker"
        assert _closed_by_client(broker.peers[0])
        with pytest.raises(ConnectionLost, match="silent for"):
            client.receive(timeout=0.1)
        client.close()

    def test_a_busy_caller_does_not_take_a_beating_broker_for_dead(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(heart_beat="100,0", beat_every=0.05)
        client = client_for(broker.uri, heart_beat=(0, 100), auto_reconnect=False)
        client.connect()
        time.sleep(0.6)  # longer than the grace: the beats wait unread in the socket
        assert client.receive(timeout=0.3) is None
        assert client.is_connected
        client.disconnect()


class TestReconnect:
    def test_subscriptions_are_replayed_and_the_caller_is_told(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        told: list[Reconnected] = []
        with client_for(broker.uri, on_reconnect=told.append) as client:
            auto = client.subscribe("/queue/auto")
            manual = client.subscribe("/queue/manual", ack="client-individual", id="mine")
            client.send("/queue/auto", b"a", receipt=True)
            client.send("/queue/manual", b"m", receipt=True)
            broker.peers[0].close()
            with pytest.raises(ConnectionLost, match="before the RECEIPT"):
                client.send("/queue/other", b"", receipt=True)
            assert not told, "the client reconnects at the next call"
            message = client.receive(timeout=2.0)
            assert message is not None
            assert message.body == b"a", "the auto message is kept"
            assert client.receive(timeout=0.5) is None, "the unacked one is left for redelivery"
            replayed = [f for f in broker.peers[1].frames if f.command == "SUBSCRIBE"]
            assert [f.get("id") for f in replayed] == [auto.id, "mine"]
            assert replayed[1].get("ack") == "client-individual"
            assert manual.id in client.subscriptions
        assert len(told) == 1
        assert told[0].discarded == 1
        assert told[0].connected.resubscribed == (auto.id, "mine")
        assert isinstance(told[0].cause, ConnectionLost)

    def test_an_ack_for_a_message_of_the_lost_connection_is_refused(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            client.subscribe("/queue/a", ack="client-individual")
            client.send("/queue/a", b"x")
            message = client.receive(timeout=2.0)
            assert message is not None
            broker.peers[0].close()
            client.receive(timeout=0.5)
            with pytest.raises(MessageStale, match="earlier connection"):
                client.ack(message)

    def test_a_receipt_lost_with_the_connection_is_reported(self, make_broker: MakeBroker) -> None:
        broker = make_broker(drop_on="SEND")
        with client_for(broker.uri) as client:
            with pytest.raises(ConnectionLost, match="before the RECEIPT for SEND"):
                client.send("/queue/a", b"x", receipt=True)
            client.send("/queue/a", b"again", receipt=True)  # reconnects first
            assert len(broker.peers) == 2

    def test_failover_to_a_second_broker(self, make_broker: MakeBroker) -> None:
        first = make_broker()
        second = make_broker()
        uri = f"failover:({first.uri},{second.uri})?randomize=false&initialReconnectDelay=1"
        told: list[Reconnected] = []
        with client_for(uri, on_reconnect=told.append) as client:
            client.subscribe("/queue/a")
            first.stop()
            assert client.receive(timeout=0.5) is None  # notices, fails over
            client.send("/queue/a", b"x", receipt=True)
            message = client.receive(timeout=2.0)
            assert message is not None
            assert message.body == b"x"
            assert client.broker is not None
            assert client.broker.port == second.port
        assert told[0].broker.port == second.port

    def test_without_auto_reconnect_a_loss_is_raised(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        client = client_for(broker.uri, auto_reconnect=False)
        client.connect()
        broker.peers[0].close()
        with pytest.raises(ConnectionLost, match="closed the connection"):
            client.receive(timeout=2.0)
        with pytest.raises(ConnectionLost):
            client.send("/queue/a", b"x")

    def test_reconnecting_gives_up_when_the_policy_does(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        uri = f"failover:({broker.uri})?maxReconnectAttempts=1&initialReconnectDelay=1"
        client = client_for(uri)
        client.connect()
        broker.stop()
        with pytest.raises(ConnectFailed, match="gave up reconnecting"):
            client.receive(timeout=5.0)


class TestDisconnect:
    def test_disconnect_waits_for_the_receipt(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        client = client_for(broker.uri)
        client.connect()
        client.disconnect()
        frame = broker.wait_for_command("DISCONNECT")
        assert frame.get("receipt") is not None
        with pytest.raises(ClientError, match="not connected"):
            client.receive(timeout=0.1)
        client.disconnect()  # twice is harmless

    def test_a_disconnect_without_receipt_times_out_and_closes(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker(disconnect_receipt=False)
        client = client_for(broker.uri)
        client.connect()
        assert not client.disconnect(timeout=0.2).receipt
        assert not client.is_connected
        assert _closed_by_client(broker.peers[0])

    def test_the_with_block_disconnects_even_when_it_raises(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        with pytest.raises(KeyError), client_for(broker.uri):
            raise KeyError("x")
        broker.wait_for_command("DISCONNECT")

    def test_close_closes_without_disconnect(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        client = client_for(broker.uri)
        client.connect()
        client.close()
        assert _closed_by_client(broker.peers[0])
        assert "DISCONNECT" not in broker.peers[0].commands()

    def test_a_client_can_connect_again_after_disconnect(self, make_broker: MakeBroker) -> None:
        broker = make_broker()
        client = client_for(broker.uri)
        client.connect()
        client.subscribe("/queue/a")
        client.disconnect()
        client.connect()
        replayed = broker.wait_for_command("SUBSCRIBE", peer=1)
        assert replayed.get("destination") == "/queue/a"
        client.disconnect()


class TestErrors:
    def test_errors_pickle(self) -> None:
        timeout = pickle.loads(pickle.dumps(WaitTimeout("RECEIPT", 1.5)))
        assert (timeout.awaited, timeout.timeout, str(timeout)) == (
            "RECEIPT",
            1.5,
            "no RECEIPT within 1.5 s",
        )
        from stomp_commands import read_error

        error = read_error(Frame("ERROR", {"message": "bad"}, b"trace"))
        copy = pickle.loads(pickle.dumps(BrokerError(error, command="SEND")))
        assert str(copy) == "the broker sent ERROR in answer to SEND: bad: trace"
        assert copy.frame.body == b"trace"


class TestThreads:
    """Defect: threads sleeping in select() missed what another thread read for them."""

    def test_a_thread_waiting_in_receive_is_woken_when_another_thread_reads_its_message(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        with client_for(broker.uri) as client:
            client.subscribe("/queue/a")
            got: list[MessageReceived | None] = []
            waiter = threading.Thread(target=lambda: got.append(client.receive(timeout=30)))
            waiter.start()
            time.sleep(0.2)  # the waiter is inside receive(), maybe doing the I/O
            for _ in range(5):  # this thread waits for receipts: it may read the MESSAGE
                client.send("/queue/a", b"x", receipt=True)
            waiter.join(timeout=10)  # 30 s if the waiter slept past its message
            assert not waiter.is_alive()
            assert got[0] is not None
            assert got[0].body == b"x"

    def test_sends_with_receipts_from_two_threads_all_complete(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        errors: list[BaseException] = []
        with client_for(broker.uri) as client:

            def send_many(tag: str) -> None:
                try:
                    for n in range(300):
                        client.send("/queue/b", f"{tag}-{n}".encode(), receipt=True)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=send_many, args=(tag,)) for tag in "ab"]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(thread.is_alive() for thread in threads)
        assert errors == []
        sends = [f for f in broker.peers[0].frames if f.command == "SEND"]
        assert len(sends) == 600
        assert client.counters.receipts_awaited == 600

    def test_close_from_another_thread_ends_a_receive_waiting_for_ever(
        self, make_broker: MakeBroker
    ) -> None:
        broker = make_broker()
        client = client_for(broker.uri)
        client.connect()
        client.subscribe("/queue/quiet")
        failures: list[BaseException] = []

        def wait_for_ever() -> None:
            try:
                client.receive(timeout=None)
            except ClientError as exc:
                failures.append(exc)

        waiter = threading.Thread(target=wait_for_ever)
        waiter.start()
        time.sleep(0.2)
        client.close()
        waiter.join(timeout=10)
        assert not waiter.is_alive()
        assert len(failures) == 1
        assert "closed" in str(failures[0])

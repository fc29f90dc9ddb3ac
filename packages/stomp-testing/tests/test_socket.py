"""The socket shell: the core on a loopback port, one serving thread, raw sockets as clients."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from stomp_frame import Frame, HeartBeat, Parser, Version, serialize
from stomp_testing import BrokerCore, TestBroker


class RawClient:
    """A blocking STOMP peer on a socket: writes frames, reads frames until told."""

    def __init__(self, broker: TestBroker) -> None:
        self.sock = socket.create_connection((broker.host, broker.port), timeout=5.0)
        self.parser = Parser(Version.V1_0)
        self.beats = 0

    def send(self, command: str, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.sock.sendall(serialize(Frame(command, headers or {}, body), self.parser.version))

    def read_frame(self) -> Frame:
        """The next frame (heart-beats are counted and skipped)."""
        while True:
            event = self.parser.next_event()
            if isinstance(event, Frame):
                if event.command == "CONNECTED":
                    self.parser.version = Version(event.get("version", "1.0"))
                return event
            if isinstance(event, HeartBeat):
                self.beats += 1
                continue
            data = self.sock.recv(65536)
            if not data:
                msg = "the broker closed the connection"
                raise ConnectionError(msg)
            self.parser.receive_data(data)

    def read_to_end(self) -> bytes:
        """Everything until the broker closes (b"" pieces end it; a reset raises)."""
        chunks = []
        while data := self.sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)

    def connect(self, **headers: str) -> Frame:
        self.send("CONNECT", {"accept-version": "1.2", "host": "/", **headers})
        return self.read_frame()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def broker() -> Iterator[TestBroker]:
    with TestBroker(BrokerCore(name="mq")) as running:
        yield running


@pytest.fixture
def clients(broker: TestBroker) -> Iterator[list[RawClient]]:
    made: list[RawClient] = []
    yield made
    for client in made:
        client.close()


def open_client(broker: TestBroker, clients: list[RawClient]) -> RawClient:
    client = RawClient(broker)
    clients.append(client)
    return client


def test_a_client_connects_sends_and_receives(broker: TestBroker, clients: list[RawClient]) -> None:
    client = open_client(broker, clients)
    assert client.connect().get("server") == "stomp-testing/mq"
    client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client-individual"})
    client.send("SEND", {"destination": "/queue/a", "receipt": "r"}, b"hello")
    frames = [client.read_frame(), client.read_frame()]
    assert sorted(f.command for f in frames) == ["MESSAGE", "RECEIPT"]
    assert broker.wait_for_command("SEND").body == b"hello"
    assert [f.body for f in broker.unacknowledged()] == [b"hello"]
    broker.publish("/queue/b", b"waits")
    assert [f.body for f in broker.queued("/queue/b")] == [b"waits"]
    assert [f.command for f in broker.received] == ["CONNECT", "SUBSCRIBE", "SEND"]
    (connection,) = broker.connections
    assert connection.commands() == ["CONNECT", "SUBSCRIBE", "SEND"]
    assert connection.number == 1
    assert repr(connection) == "<SocketConnection 1 open>"


def test_publish_reaches_a_subscriber_from_the_test_thread(
    broker: TestBroker, clients: list[RawClient]
) -> None:
    client = open_client(broker, clients)
    client.connect()
    client.send("SUBSCRIBE", {"destination": "/topic/t", "id": "1", "receipt": "s"})
    assert client.read_frame().command == "RECEIPT"
    broker.publish("/topic/t", b"news", {"kind": "x"})
    message = client.read_frame()
    assert (message.command, message.body, message.get("kind")) == ("MESSAGE", b"news", "x")


def test_disconnect_is_answered_then_the_broker_closes(
    broker: TestBroker, clients: list[RawClient]
) -> None:
    client = open_client(broker, clients)
    client.connect()
    client.send("DISCONNECT", {"receipt": "bye"})
    assert client.read_frame().get("receipt-id") == "bye"
    assert client.read_to_end() == b""
    (connection,) = broker.accepted
    assert connection.wait_closed()
    assert broker.connections == ()


def test_a_client_hanging_up_releases_its_messages(
    broker: TestBroker, clients: list[RawClient]
) -> None:
    client = open_client(broker, clients)
    client.connect()
    client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
    broker.publish("/queue/a", b"x")
    assert client.read_frame().command == "MESSAGE"
    client.close()
    (connection,) = broker.accepted
    assert connection.wait_closed()
    (again,) = broker.queued("/queue/a")
    assert again.get("redelivered") == "true"


def test_close_and_drop_from_the_test_thread(broker: TestBroker, clients: list[RawClient]) -> None:
    one, two = open_client(broker, clients), open_client(broker, clients)
    one.connect()
    two.connect()
    first, second = broker.wait_for_connections(2)
    first.send_frame(Frame("RECEIPT", {"receipt-id": "hand-made"}))
    first.close()
    assert first.closed
    assert one.read_frame().get("receipt-id") == "hand-made"
    assert one.read_to_end() == b""
    broker.drop_connections()
    assert second.closed
    with pytest.raises(ConnectionResetError):
        two.read_to_end()


def test_faults_apply_to_the_open_connections_at_once(
    broker: TestBroker, clients: list[RawClient]
) -> None:
    client = open_client(broker, clients)
    client.connect()
    broker.faults.error_on_send("No", destination="/queue/x")
    client.send("SEND", {"destination": "/queue/x", "receipt": "r"})
    error = client.read_frame()
    assert (error.command, error.get("message"), error.get("receipt-id")) == ("ERROR", "No", "r")
    broker.faults.close_mid_frame("RECEIPT")
    client.send("SEND", {"destination": "/queue/y", "receipt": "cut"})
    rest = client.read_to_end()
    assert rest.startswith(b"RECEIPT\n")
    assert b"\0" not in rest


def test_a_broker_that_stops_reading_backs_the_client_up_until_cleared(
    broker: TestBroker, clients: list[RawClient]
) -> None:
    client = open_client(broker, clients)
    client.connect()
    broker.faults.stop_reading()
    broker.wait_for(lambda: not broker.core.connections[0].reading)
    client.sock.setblocking(False)
    frame = serialize(Frame("SEND", {"destination": "/queue/a"}, b"x" * 65536), Version.V1_2)
    written = 0

    def fill() -> None:
        nonlocal written
        for _ in range(10_000):  # far more than any socket buffer holds
            written += client.sock.send(frame)

    with pytest.raises(BlockingIOError):
        fill()
    assert written > 0
    assert broker.frames("SEND") == []
    broker.faults.clear()
    client.sock.setblocking(True)
    client.sock.settimeout(5.0)
    broker.wait_for(lambda: len(broker.core.frames("SEND")) >= 1)


def test_heart_beats_go_out_on_the_broker_s_clock(
    broker: TestBroker, clients: list[RawClient]
) -> None:
    client = open_client(broker, clients)
    assert client.connect(**{"heart-beat": "0,20"}).get("heart-beat") == "20,0"
    client.send("SEND", {"destination": "/queue/a", "receipt": "r"})
    while client.read_frame().command != "RECEIPT":
        pass  # pragma: no cover - only when a beat came first
    broker.faults.stop_heart_beating()
    client.send("SEND", {"destination": "/queue/a", "receipt": "s"})
    while client.read_frame().command != "RECEIPT":
        pass  # pragma: no cover
    seen = client.beats
    client.send("SEND", {"destination": "/queue/a", "receipt": "t"})
    client.read_frame()
    assert client.beats <= seen + 1, "at most one beat was on its way when they stopped"


def test_ipv6_loopback_and_the_uri() -> None:
    if not socket.has_ipv6:  # pragma: no cover - machines without IPv6
        pytest.skip("no IPv6 on this machine")
    try:
        broker = TestBroker(host="::1").start()
    except OSError as exc:  # pragma: no cover - IPv6 present but not on loopback
        pytest.skip(f"no IPv6 loopback: {exc}")
    with broker:
        assert broker.uri == f"tcp://[::1]:{broker.port}"
        client = RawClient(broker)
        try:
            assert client.connect().command == "CONNECTED"
        finally:
            client.close()


def test_starting_twice_is_an_error_and_stop_ends_the_thread() -> None:
    broker = TestBroker()
    assert "stomp-testing-broker" not in {t.name for t in threading.enumerate()}
    with broker:
        assert broker.uri == f"tcp://127.0.0.1:{broker.port}"
        assert repr(broker) == f"<TestBroker 'stomp-testing' on {broker.uri}>"
        with pytest.raises(RuntimeError, match="started already"):
            broker.start()
        with broker.locked() as core:
            core.publish("/queue/a", b"under the lock")
        assert len(broker.queued("/queue/a")) == 1
        assert "stomp-testing-broker" in {t.name for t in threading.enumerate()}
    assert "stomp-testing-broker" not in {t.name for t in threading.enumerate()}
    broker.stop()  # twice is harmless
    with pytest.raises(ConnectionRefusedError):  # nothing listens any more
        socket.create_connection(("127.0.0.1", broker.port), timeout=1.0).close()


def test_stop_closes_the_open_connections(broker: TestBroker, clients: list[RawClient]) -> None:
    client = open_client(broker, clients)
    client.connect()
    broker.stop()
    assert client.read_to_end() == b""


def test_waits_that_time_out_say_what_they_waited_for(broker: TestBroker) -> None:
    with pytest.raises(TimeoutError, match=r"no SEND frame within 0\.01 s"):
        broker.wait_for_command("SEND", timeout=0.01)
    with pytest.raises(TimeoutError, match=r"no SEND frame on connection 1 within 0\.01 s"):
        broker.wait_for_command("SEND", connection=1, timeout=0.01)
    with pytest.raises(TimeoutError, match=r"0 connections within 0\.01 s, expected 1"):
        broker.wait_for_connections(1, timeout=0.01)

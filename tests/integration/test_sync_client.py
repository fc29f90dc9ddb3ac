"""stomp-sync's blocking client against real ActiveMQ and RabbitMQ, over real sockets."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from stomp_frame import Version
from stomp_sync import (
    BrokerError,
    Client,
    ConnectFailed,
    ConnectionLost,
    MessageReceived,
    MessageStale,
    Reconnected,
    WaitTimeout,
)
from tests.integration._brokers import BrokerInfo, QueueNamer, client_settings, uri_of

TIMEOUT = 10.0
VERSIONS = [Version.V1_0, Version.V1_1, Version.V1_2]
NACK_VERSIONS = [Version.V1_1, Version.V1_2]


def make_client(broker: BrokerInfo, *, uri: str | None = None, **options: object) -> Client:
    settings = {**client_settings(broker, TIMEOUT), **options}
    return Client(uri or uri_of(broker), **settings)  # type: ignore[arg-type]


@pytest.fixture
def client(broker: BrokerInfo, version: Version) -> Iterator[Client]:
    """A connected client offering only ``version``."""
    with make_client(broker, versions=(version,)) as connected:
        yield connected


def individual(version: Version) -> str:
    """The per-message ack mode of the version (1.0 has only ``client``)."""
    return "client" if version is Version.V1_0 else "client-individual"


def expect(client: Client) -> MessageReceived:
    message = client.receive(timeout=TIMEOUT)
    assert message is not None, "no message within the timeout"
    return message


def test_the_version_offered_is_negotiated(
    client: Client, version: Version, broker: BrokerInfo
) -> None:
    assert client.version is version
    assert client.connected is not None
    if version is Version.V1_0 and not broker.facts.server_in_1_0:
        assert client.connected.server is None  # Artemis names itself from 1.1 on
    else:
        assert client.connected.server


def test_send_receive_and_ack_with_receipts(
    client: Client, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-ack")
    client.subscribe(queue, ack=individual(version), receipt=True)  # type: ignore[arg-type]
    for n in range(3):
        client.send(queue, f"message {n}".encode(), receipt=True)
    bodies = []
    for _ in range(3):
        message = expect(client)
        bodies.append(message.body)
        client.ack(message, receipt=True)
    assert bodies == [b"message 0", b"message 1", b"message 2"]
    assert client.receive(timeout=0.5) is None, "acknowledged messages do not come back"


def test_acknowledged_messages_are_not_redelivered_to_the_next_consumer(
    broker: BrokerInfo, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-acked")
    with make_client(broker, versions=(version,)) as first:
        first.subscribe(queue, ack=individual(version))  # type: ignore[arg-type]
        first.send(queue, b"acked", receipt=True)
        first.send(queue, b"not acked", receipt=True)
        acked = expect(first)
        assert acked.body == b"acked"
        first.ack(acked, receipt=True)
        assert expect(first).body == b"not acked"
    with make_client(broker, versions=(version,)) as second:
        second.subscribe(queue, ack="auto")
        again = expect(second)
        assert again.body == b"not acked"
        assert again.message.redelivered
        assert second.receive(timeout=0.5) is None


@pytest.mark.parametrize("version", NACK_VERSIONS, ids=["1.1", "1.2"])
def test_nack_and_redelivery(client: Client, broker: BrokerInfo, unique_queue: QueueNamer) -> None:
    queue = unique_queue("sync-nack")
    client.subscribe(queue, ack="client-individual")
    client.send(queue, b"refused", headers={"persistent": "true"}, receipt=True)
    client.nack(expect(client), receipt=True)
    dead_letters = broker.dead_letter_queue(queue)
    if broker.facts.nack == "discard":  # Artemis: a NACK acknowledges, the message is gone
        assert client.receive(timeout=0.5) is None
        with make_client(broker) as other:
            other.subscribe(queue, ack="auto", receipt=True)
            assert other.receive(timeout=0.5) is None
        return
    if dead_letters is None:  # RabbitMQ requeues at once, marked
        again = expect(client)
        assert again.message.redelivered
    else:  # ActiveMQ moves a persistent message to the queue's dead-letter queue
        client.subscribe(dead_letters, ack="client-individual")
        again = expect(client)
    assert again.body == b"refused"
    client.ack(again, receipt=True)


def test_transaction_commit_and_abort(
    client: Client, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-tx")
    client.subscribe(queue, receipt=True)
    with client.transaction() as tx:
        client.send(queue, b"first", transaction=tx)
        client.send(queue, b"second", transaction=tx)
        assert client.receive(timeout=0.5) is None, "nothing before the commit"
    assert [expect(client).body, expect(client).body] == [b"first", b"second"]

    def abort_inside() -> None:
        with client.transaction() as tx:
            client.send(queue, b"never", transaction=tx)
            raise LookupError

    with pytest.raises(LookupError):
        abort_inside()
    client.send(queue, b"after", receipt=True)
    assert expect(client).body == b"after", "the aborted message never appears"
    assert client.receive(timeout=0.3) is None


def test_acks_in_a_transaction_take_effect_at_commit(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-tx-ack")
    with make_client(broker) as client:
        client.subscribe(queue, ack="client-individual")
        client.send(queue, b"x", receipt=True)
        message = expect(client)
        tx = client.begin()
        client.ack(message, transaction=tx)
        client.abort(tx, receipt=True)
    with make_client(broker) as again:
        again.subscribe(queue, ack="client-individual")
        if not broker.facts.transactional_acks:  # Artemis applied the ack at once
            assert again.receive(timeout=0.5) is None
            return
        redelivered = expect(again)
        assert redelivered.body == b"x", "an aborted ack leaves the message unacknowledged"
        again.ack(redelivered, receipt=True)


def test_receipts_for_send_subscribe_unsubscribe_and_disconnect(
    broker: BrokerInfo, version: Version, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-receipts")
    client = make_client(broker, versions=(version,))
    client.connect()
    sub = client.subscribe(queue, receipt=True)
    client.send(queue, b"x", receipt=True)
    assert expect(client).body == b"x"
    client.unsubscribe(sub, receipt=True)
    client.disconnect()
    assert not client.is_connected


@pytest.mark.parametrize("version", NACK_VERSIONS, ids=["1.1", "1.2"])
def test_utf8_and_escapable_headers_round_trip(client: Client, unique_queue: QueueNamer) -> None:
    queue = unique_queue("sync-headers")
    client.subscribe(queue)
    headers = {
        "x-colon": "a:b:c",
        "x-backslash": "C:\\dir\\file",
        "x-newline": "line1\nline2",
        "x-utf8": "żółć 東京 🚀",
        "x-name-żółć": "value",
    }
    client.send(queue, "żółć".encode(), headers=headers, receipt=True)
    message = expect(client)
    for name, value in headers.items():
        assert message.frame.get(name) == value, name
    assert message.body.decode() == "żółć"


def test_binary_body_with_nul_bytes_and_one_mebibyte(
    client: Client, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-binary")
    client.subscribe(queue)
    binary = bytes(range(256)) * 4 + b"\x00\x00end\x00"
    big = bytes(i % 251 for i in range(1 << 20))
    client.send(queue, binary, receipt=True)
    client.send(queue, big, receipt=True)
    assert expect(client).body == binary
    assert expect(client).body == big


def test_heart_beats_keep_an_idle_connection_alive(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-idle")
    with make_client(broker, heart_beat=(1000, 1000), auto_reconnect=False) as client:
        assert client.connected is not None
        assert client.connected.heart_beat[0] > 0
        assert client.receive(timeout=4.5) is None  # idle for more than 3 intervals
        assert client.is_connected
        client.subscribe(queue)
        client.send(queue, b"still here", receipt=True)
        assert expect(client).body == b"still here"


def test_a_client_that_stops_beating_is_dropped_by_the_broker(broker: BrokerInfo) -> None:
    client = make_client(broker, heart_beat=(1000, 0), auto_reconnect=False)
    client.connect()
    time.sleep(6.0)  # busy outside the client: no heart-beats go out
    if broker.facts.error_before_drop:  # Artemis: ERROR "Did not receive data ... TTL"
        with pytest.raises(BrokerError, match=r"connection TTL"):
            client.receive(timeout=TIMEOUT)
    else:
        with pytest.raises(ConnectionLost, match=r"closed the connection|reading .* failed"):
            client.receive(timeout=TIMEOUT)
    client.close()


def test_the_heart_beat_thread_keeps_a_busy_caller_connected(broker: BrokerInfo) -> None:
    with make_client(
        broker, heart_beat=(1000, 1000), heart_beat_thread=True, auto_reconnect=False
    ) as client:
        time.sleep(4.5)  # busy outside the client
        assert client.receive(timeout=0.5) is None
        assert client.is_connected


def test_failover_from_dead_ports_to_the_live_broker(broker: BrokerInfo) -> None:
    dead = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead.append(probe.getsockname()[1])
    host, port = broker.address
    uri = (
        f"failover:(tcp://127.0.0.1:{dead[0]},tcp://127.0.0.1:{dead[1]},tcp://{host}:{port})"
        "?randomize=false&initialReconnectDelay=10"
    )
    with make_client(broker, uri=uri) as client:
        assert client.broker is not None
        assert client.broker.port == port


def test_a_bad_frame_gets_the_brokers_error_as_a_typed_error(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    # Artemis closes the connection after the ERROR: no reconnection, to see it closed.
    closes = Version.V1_2.value in broker.facts.closes_on_error  # the client negotiates 1.2
    with make_client(broker, auto_reconnect=not closes) as client:

        def provoke() -> None:
            if broker.facts.selector_refusal != "ignored":  # refuses a selector it cannot parse
                client.subscribe(unique_queue("bad"), headers={"selector": "a = = b"}, receipt=True)
            else:  # RabbitMQ refuses an unknown kind of destination
                client.send("/no-such-kind/x", b"x", receipt=True)

        with pytest.raises(BrokerError) as info:
            provoke()
        assert info.value.frame.command == "ERROR"
        assert info.value.error.message
        if closes:  # Artemis closes after any ERROR on 1.2
            with pytest.raises(ConnectionLost):
                client.receive(timeout=TIMEOUT)
        else:
            assert client.is_connected, "the broker keeps the connection after these errors"


def test_bad_credentials_fail_fast(broker: BrokerInfo) -> None:
    client = make_client(broker, passcode="wrong-" + broker.passcode, connected_timeout=30.0)
    began = time.monotonic()
    with pytest.raises(BrokerError) as info:
        client.connect()
    elapsed = time.monotonic() - began
    assert "wrong-" not in str(info.value)
    # RabbitMQ holds the socket open 10 s after its ERROR; the client must not wait for that.
    assert elapsed < 8.0, f"connect took {elapsed:.1f} s"
    assert not client.is_connected


def test_tls_with_the_test_ca(tls_broker: BrokerInfo, unique_queue: QueueNamer) -> None:
    queue = unique_queue("sync-tls")
    context = tls_broker.ssl_context(client_cert=True)
    with make_client(tls_broker, uri=uri_of(tls_broker, tls=True), ssl_context=context) as client:
        client.subscribe(queue)
        client.send(queue, b"over TLS", receipt=True)
        assert expect(client).body == b"over TLS"


def test_tls_refuses_a_wrong_host_name(tls_broker: BrokerInfo) -> None:
    host, port = tls_broker.tls_address
    uri = (
        f"failover:(ssl://{host}:{port}?serverHostname=not-the-broker.example)"
        "?startupMaxReconnectAttempts=0"
    )
    client = make_client(tls_broker, uri=uri, ssl_context=tls_broker.ssl_context(client_cert=True))
    with pytest.raises(ConnectFailed) as info:
        client.connect()
    cause = info.value.__cause__
    assert cause is not None
    assert isinstance(cause.cause, ssl.SSLCertVerificationError)  # type: ignore[attr-defined]
    assert "not-the-broker.example" in str(cause.cause)  # type: ignore[attr-defined]


def test_tls_without_the_ca_does_not_verify(tls_broker: BrokerInfo) -> None:
    uri = uri_of(tls_broker, tls=True, options="startupMaxReconnectAttempts=0")
    client = make_client(tls_broker, uri=uri)  # the system trust store: not the test CA
    with pytest.raises(ConnectFailed) as info:
        client.connect()
    assert isinstance(info.value.__cause__.cause, ssl.SSLCertVerificationError)  # type: ignore[union-attr]


def test_a_dropped_connection_is_reconnected_and_subscriptions_replayed(
    broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    queue = unique_queue("sync-replay")
    told: list[Reconnected] = []
    with make_client(broker, on_reconnect=told.append) as client:
        client.subscribe(queue, ack="client-individual")
        client.send(queue, b"before", receipt=True)
        old = expect(client)
        sock = client._pump._sock  # the test cuts the connection under the client
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)
        again = expect(client)  # reconnects and resubscribes while it waits
        assert told, "the caller is told"
        assert told[0].connected.resubscribed
        assert again.body == b"before"
        assert again.message.redelivered
        with pytest.raises(MessageStale, match="earlier connection"):
            client.ack(old)
        client.ack(again, receipt=True)


def test_restart_mid_stream_loses_nothing(
    broker: BrokerInfo, unique_queue: QueueNamer, caplog: pytest.LogCaptureFixture
) -> None:
    """10,000 persistent messages; the broker restarts in the middle; every one arrives.

    The choreography makes the restart land mid-stream whatever the speeds: once the
    consumer has a third of the messages it starts the restart and holds its acks until
    the broker is down (so un-acked messages must be redelivered), and the producer waits
    for the broker to go down after sending half (so it sends into the outage and must
    reconnect and re-send what was not confirmed).
    """
    if not broker.restartable:
        pytest.skip(f"{broker.name} was not started by scripts/brokers/start.sh")
    caplog.set_level(logging.ERROR, "stomp_sync")
    total, batch = 10_000, 100
    queue = unique_queue("sync-restart")
    uri = uri_of(
        broker,
        options="initialReconnectDelay=200&maxReconnectDelay=1000&maxReconnectAttempts=300",
    )
    received: Counter[int] = Counter()
    unmarked_duplicates: list[int] = []
    stopped, restarted = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    reconnections: list[Reconnected] = []
    consumer = make_client(broker, uri=uri, on_reconnect=reconnections.append)
    consumer.connect()
    consumer.subscribe(
        queue,
        ack="client-individual",
        headers={"activemq.prefetchSize": "200", "prefetch-count": "200"},
        receipt=True,
    )

    def produce() -> None:
        producer = make_client(broker, uri=uri)
        producer.connect()
        try:
            sent = 0
            while sent < total:
                if sent == total // 2 and not stopped.wait(180):
                    return
                size = min(batch, total - sent)
                resend = False
                while True:
                    try:
                        for n in range(sent, sent + size):
                            headers = {"persistent": "true", "seq": str(n)}
                            if resend:
                                headers["x-resent"] = "true"
                            last = n == sent + size - 1
                            producer.send(queue, b"%d" % n, headers=headers, receipt=last)
                        break
                    except (ConnectionLost, WaitTimeout):
                        resend = True  # the batch may be stored in part: send it again, marked
                sent += size
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)
        finally:
            producer.close()

    def restart() -> None:
        try:
            broker.stop()
            stopped.set()
            broker.start()
            restarted.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)
            stopped.set()

    producer_thread = threading.Thread(target=produce, name="producer")
    restart_thread = threading.Thread(target=restart, name="restart")
    producer_thread.start()
    deadline = time.monotonic() + 400
    try:
        while len(received) < total and time.monotonic() < deadline and not failures:
            if (
                len(received) >= total // 3
                and not restart_thread.is_alive()
                and not stopped.is_set()
            ):
                restart_thread.start()
            message = consumer.receive(timeout=5.0)
            if message is None:
                continue
            seq = int(message.frame.get("seq") or "-1")
            if received[seq] and not (
                message.message.redelivered or message.frame.get("x-resent") == "true"
            ):
                unmarked_duplicates.append(seq)
            received[seq] += 1
            if restart_thread.is_alive() and not stopped.is_set():
                continue  # hold the ack: the broker must redeliver it after the restart
            # An ack from before a reconnection, or lost with it: the broker redelivers.
            with contextlib.suppress(MessageStale, ConnectionLost):
                consumer.ack(message)
    finally:
        producer_thread.join(timeout=300)
        if restart_thread.is_alive():
            restart_thread.join(timeout=300)
        consumer.close()
    assert not failures, failures
    assert restarted.is_set(), "the broker restart did not complete"
    assert reconnections, "the consumer never lost its connection"
    duplicates = sum(received.values()) - len(received)
    logging.getLogger(__name__).warning(
        "%s restart: %d distinct, %d duplicates (all marked), %d reconnections",
        broker.name,
        len(received),
        duplicates,
        len(reconnections),
    )
    missing = sorted(set(range(total)) - set(received))
    assert not missing, f"{len(missing)} messages never arrived, first {missing[:10]}"
    assert duplicates > 0, "the acks held over the restart must come back"
    assert not unmarked_duplicates, (
        f"duplicates without a redelivery mark: {unmarked_duplicates[:10]}"
    )

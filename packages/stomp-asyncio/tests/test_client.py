"""The asyncio client against a scripted broker on a loopback socket."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

import pytest

from stomp_asyncio import (
    BrokerError,
    Client,
    ClientState,
    ConnectFailed,
    ConnectionLost,
    InvalidRequest,
    MessageReceived,
    MessageStale,
    NotConnected,
    Reconnected,
    TlsOptions,
    WaitTimeout,
)
from stomp_frame import Frame, Version

if TYPE_CHECKING:
    from conftest import MakeBroker

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


def client_for(uri: str, **options: object) -> Client:
    """A client with short timeouts."""
    settings: dict[str, object] = {**FAST, "login": "guest", "passcode": SECRET, "vhost": "/"}
    settings.update(options)
    return Client(uri, **settings)  # type: ignore[arg-type]


def once(uri: str) -> str:
    """A failover URI that tries *uri* once and gives up."""
    return f"failover:({uri})?startupMaxReconnectAttempts=0&maxReconnectAttempts=0"


def message_frame(destination: str, n: int, subscription: str = "1") -> Frame:
    return Frame(
        "MESSAGE",
        {
            "subscription": subscription,
            "message-id": f"x-{n}",
            "destination": destination,
            "ack": f"x-{n}",
        },
        b"%d" % n,
    )


def state(client: Client) -> ClientState:
    """The client's state, read anew (no narrowing across awaits)."""
    return client.state


def paused(client: Client) -> bool:
    """Whether the client paused reading, read anew."""
    return client.reading_paused


async def expect(client: Client) -> MessageReceived:
    message = await client.receive(timeout=5.0)
    assert message is not None, "no message within the timeout"
    return message


class TestConnect:
    async def test_connect_sends_the_virtual_host_and_credentials_and_returns_connected(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        client = client_for(broker.uri, vhost="vhost-a", connect_headers={"client-id": "c1"})
        connected = await client.connect()
        assert connected.version is Version.V1_2
        assert client.version is Version.V1_2
        assert client.state is ClientState.CONNECTED
        assert client.is_connected
        assert client.broker is not None
        assert client.broker.port == broker.port
        frame = await broker.wait_for_command("CONNECT")
        assert frame.get("host") == "vhost-a"
        assert frame.get("login") == "guest"
        assert frame.get("passcode") == SECRET
        assert frame.get("client-id") == "c1"
        result = await client.disconnect()
        assert result.receipt
        assert state(client) is ClientState.CLOSED
        assert broker.peers[0].commands()[-1] == "DISCONNECT"

    async def test_the_passcode_is_never_shown(
        self, make_broker: MakeBroker, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        broker = await make_broker(connect_error="bad credentials for guest")
        client = client_for(broker.uri)
        with pytest.raises(BrokerError) as info:
            await client.connect()
        assert "bad credentials" in str(info.value)
        assert SECRET not in str(info.value)
        assert SECRET not in repr(client)
        assert SECRET not in caplog.text
        assert "CONNECT" in caplog.text, "the wire trace is on at DEBUG"
        assert any(r.name == "stomp_asyncio" for r in caplog.records)
        assert state(client) is ClientState.CLOSED

    async def test_a_refused_connection_fails_once_the_policy_gives_up(self) -> None:
        client = client_for(once(f"tcp://127.0.0.1:{closed_port()}"))
        with pytest.raises(ConnectFailed) as info:
            await client.connect()
        assert isinstance(info.value.cause, ConnectionRefusedError)
        assert state(client) is ClientState.CLOSED

    async def test_an_unanswered_connect_times_out(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(answer_connect=False)
        client = client_for(once(broker.uri), connected_timeout=0.2)
        with pytest.raises(ConnectFailed) as info:
            await client.connect()
        assert isinstance(info.value.cause, WaitTimeout)
        assert "CONNECTED" in str(info.value.cause)

    async def test_connect_timeout_stops_connecting(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(answer_connect=False)
        client = client_for(broker.uri, connected_timeout=5.0)
        with pytest.raises(WaitTimeout):
            await client.connect(timeout=0.2)
        assert state(client) is ClientState.CLOSED

    async def test_failover_skips_a_dead_broker(self, make_broker: MakeBroker) -> None:
        broker = await make_broker()
        uri = (
            f"failover:(tcp://127.0.0.1:{closed_port()},{broker.uri})"
            "?randomize=false&initialReconnectDelay=10"
        )
        async with client_for(uri) as client:
            assert client.broker is not None
            assert client.broker.port == broker.port

    async def test_cancelling_connect_closes_the_client(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(answer_connect=False)
        client = client_for(broker.uri, connected_timeout=5.0)
        task = asyncio.ensure_future(client.connect())
        await broker.wait_for_command("CONNECT")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert state(client) is ClientState.CLOSED
        await broker.wait_for("the connection closed", broker.peers[0].closed.is_set)

    async def test_tls_options_are_checked(self) -> None:
        with pytest.raises(InvalidRequest, match="tls"):
            Client("tcp://h:1", tls="yes")  # type: ignore[arg-type]
        with pytest.raises(InvalidRequest, match="max_waiting"):
            Client("tcp://h:1", max_waiting=1)
        Client("ssl://h:1", tls=TlsOptions(verify=False))


class TestMessages:
    async def test_send_subscribe_receive_and_ack_with_receipts(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        async with client_for(broker.uri) as client:
            sub = await client.subscribe("/queue/a", ack="client-individual", receipt=True)
            assert set(client.subscriptions) == {sub.id}
            await client.send("/queue/a", b"one", headers={"k": "v"}, receipt=True)
            message = await expect(client)
            assert message.body == b"one"
            assert message.frame.get("k") == "v"
            assert client.is_current(message)
            await client.ack(message, receipt=True)
            ack = await broker.wait_for_command("ACK")
            assert ack.get("id") == message.message.ack_id
            await client.unsubscribe(sub, receipt=True)
            assert not client.subscriptions
        commands = broker.peers[0].commands()
        assert commands == [
            "CONNECT",
            "SUBSCRIBE",
            "SEND",
            "ACK",
            "UNSUBSCRIBE",
            "DISCONNECT",
        ]
        assert client.counters.receipts_awaited == 4  # DISCONNECT not counted
        assert client.counters.messages_acked == 1

    async def test_sends_without_receipt_leave_together_in_order(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        async with client_for(broker.uri) as client:
            await client.subscribe("/queue/a")
            for n in range(100):
                await client.send("/queue/a", b"%d" % n)
            bodies = [(await expect(client)).body for _ in range(100)]
        assert bodies == [b"%d" % n for n in range(100)]

    async def test_async_for_yields_until_idle(self, make_broker: MakeBroker) -> None:
        broker = await make_broker()
        async with client_for(broker.uri) as client:
            await client.subscribe("/queue/a", ack="client")
            for n in range(3):
                await client.send("/queue/a", b"%d" % n)
            seen = []
            async for message in client.messages(idle_timeout=0.3):
                seen.append(message.body)
                await client.ack(message)
            assert seen == [b"0", b"1", b"2"]
        assert broker.peers[0].commands().count("ACK") == 3

    async def test_stomp_1_0_acks_by_message_id(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(version="1.0")
        async with client_for(broker.uri) as client:
            assert client.version is Version.V1_0
            await client.subscribe("/queue/a", ack="client")
            await client.send("/queue/a", b"x", receipt=True)
            message = await expect(client)
            await client.ack(message, receipt=True)
            ack = await broker.wait_for_command("ACK")
            assert ack.get("message-id") == message.message.message_id
            with pytest.raises(InvalidRequest):
                await client.nack(message)

    async def test_receive_returns_none_after_its_timeout(self, make_broker: MakeBroker) -> None:
        broker = await make_broker()
        async with client_for(broker.uri) as client:
            assert await client.receive(timeout=0.05) is None
            assert client.is_connected

    async def test_an_error_answering_a_receipt_is_raised_by_that_call(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker(error_on={"SUBSCRIBE": "no such destination"})
        async with client_for(broker.uri) as client:
            with pytest.raises(BrokerError, match="no such destination") as info:
                await client.subscribe("/queue/nope", receipt=True)
            assert info.value.frame.command == "ERROR"
            assert client.is_connected

    async def test_an_error_answering_nothing_is_raised_by_the_next_call(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        async with client_for(broker.uri) as client:
            broker.send_to(0, Frame("ERROR", {"message": "unsolicited"}))
            with pytest.raises(BrokerError, match="unsolicited"):
                await client.receive(timeout=2.0)

    async def test_a_missing_receipt_times_out(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(receipts=False)
        client = client_for(broker.uri)
        await client.connect()
        with pytest.raises(WaitTimeout, match="RECEIPT") as info:
            await client.send("/queue/a", b"x", receipt=True, timeout=0.2)
        assert info.value.timeout == pytest.approx(0.2, abs=0.05)
        client.close()

    async def test_a_transaction_commits_at_the_end_of_the_block(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        async with client_for(broker.uri) as client:
            await client.subscribe("/queue/a")
            async with client.transaction() as tx:
                await client.send("/queue/a", b"1", transaction=tx)
                await client.send("/queue/a", b"2", transaction=tx)
                assert await client.receive(timeout=0.1) is None
            assert [(await expect(client)).body, (await expect(client)).body] == [b"1", b"2"]

            async def fail_inside() -> None:
                async with client.transaction() as tx:
                    await client.send("/queue/a", b"never", transaction=tx)
                    raise LookupError

            with pytest.raises(LookupError):
                await fail_inside()
            await client.send("/queue/a", b"after", receipt=True)
            assert (await expect(client)).body == b"after"
        commands = broker.peers[0].commands()
        assert commands.count("BEGIN") == 2
        assert commands.count("COMMIT") == 1
        assert commands.count("ABORT") == 1


class TestReconnection:
    async def test_a_dropped_connection_reconnects_and_replays_subscriptions(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        told: list[Reconnected] = []
        async with client_for(broker.uri, on_reconnect=told.append) as client:
            await client.subscribe("/queue/a", ack="client-individual", id="s1")
            broker.send_to(0, message_frame("/queue/a", 1, "s1"))
            old = await expect(client)
            broker.peers[0].close()
            await broker.wait_for_peers(2)
            await broker.wait_for_command("SUBSCRIBE", peer=1)
            await client.send("/queue/a", b"again", receipt=True)  # waits for the connection
            assert told
            assert told[0].connected.resubscribed == ("s1",)
            with pytest.raises(MessageStale):
                await client.ack(old)
            again = await expect(client)
            assert again.body == b"again"
            await client.ack(again, receipt=True)
        assert client.counters.reconnects == 1

    async def test_an_async_reconnect_hook_runs_as_a_task(self, make_broker: MakeBroker) -> None:
        broker = await make_broker()
        told: list[Reconnected] = []

        async def hook(report: Reconnected) -> None:
            await asyncio.sleep(0)
            told.append(report)

        async with client_for(broker.uri, on_reconnect=hook) as client:
            broker.peers[0].close()
            await broker.wait_for_peers(2)
            await client.send("/queue/a", b"x", receipt=True)
            for _ in range(10):
                if told:
                    break
                await asyncio.sleep(0)
            assert told
            assert told[0].cause is not None

    async def test_a_lost_receipt_fails_with_connection_lost(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(drop_on="SEND")
        async with client_for(broker.uri) as client:
            with pytest.raises(ConnectionLost, match="RECEIPT"):
                await client.send("/queue/a", b"x", receipt=True)
            await client.send("/queue/a", b"y", receipt=True)  # on the new connection

    async def test_without_auto_reconnect_a_loss_ends_the_client(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        client = client_for(broker.uri, auto_reconnect=False)
        await client.connect()
        waiting = asyncio.ensure_future(client.receive())
        await asyncio.sleep(0)
        broker.peers[0].close()
        with pytest.raises(ConnectionLost):
            await waiting
        assert state(client) is ClientState.CLOSED


class TestCancellation:
    async def test_cancelling_a_call_awaiting_its_receipt_forgets_the_receipt(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker(receipts=False)
        async with client_for(broker.uri, receipt_timeout=5.0) as client:
            task = asyncio.ensure_future(client.send("/queue/a", b"x", receipt="r-1"))
            assert client._core.pending_receipts == 0
            frame = await broker.wait_for_command("SEND")
            assert frame.get("receipt") == "r-1"
            assert client._core.pending_receipts == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client._core.pending_receipts == 0
            broker.send_to(0, Frame("RECEIPT", {"receipt-id": "r-1"}))  # late: ignored
            broker.script.receipts = True
            await client.send("/queue/a", b"y", receipt=True)
            assert client.is_connected
            assert client._core.pending_receipts == 0

    async def test_cancelling_receive_takes_no_message(self, make_broker: MakeBroker) -> None:
        broker = await make_broker()
        async with client_for(broker.uri) as client:
            await client.subscribe("/queue/a")
            task = asyncio.ensure_future(client.receive())
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await client.send("/queue/a", b"kept", receipt=True)
            assert (await expect(client)).body == b"kept"

    async def test_close_ends_every_waiting_call(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(receipts=False)
        client = client_for(broker.uri, receipt_timeout=5.0)
        await client.connect()
        receiving = asyncio.ensure_future(client.receive())
        sending = asyncio.ensure_future(client.send("/queue/a", b"x", receipt=True))
        await broker.wait_for_command("SEND")
        client.close()
        with pytest.raises(NotConnected):
            await receiving
        with pytest.raises(NotConnected, match="the client was closed"):
            await sending
        with pytest.raises(NotConnected):
            await client.send("/queue/a", b"y")


class TestFlowControl:
    async def test_reading_pauses_while_too_many_messages_wait(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker()
        async with client_for(broker.uri, max_waiting=4) as client:
            await client.subscribe("/queue/a", id="1")
            for n in range(20):
                broker.send_to(0, message_frame("/queue/a", n))
            while not paused(client):
                await asyncio.sleep(0.005)
            assert client._core._session.receiving_paused
            waiting = client.messages_waiting
            for n in range(20, 40):
                broker.send_to(0, message_frame("/queue/a", n))
            await asyncio.sleep(0.05)
            assert client.messages_waiting == waiting, "nothing is read while paused"
            bodies = [(await expect(client)).body for _ in range(40)]
            assert bodies == [b"%d" % n for n in range(40)]
            assert not paused(client)
            assert not client._core._session.receiving_paused

    async def test_a_broker_that_stops_reading_ends_the_connection(
        self, make_broker: MakeBroker
    ) -> None:
        broker = await make_broker(stall_after_connect=True)
        client = client_for(
            broker.uri, write_timeout=0.3, max_outgoing=256 * 1024, auto_reconnect=False
        )
        await client.connect()
        body = b"x" * 65536

        async def flood() -> None:
            for _ in range(10_000):
                await client.send("/queue/a", body)

        with pytest.raises((WaitTimeout, ConnectionLost, NotConnected)):
            await flood()
        assert state(client) is ClientState.CLOSED
        assert isinstance(client._core.last_loss, WaitTimeout)


class TestHeartBeats:
    async def test_the_client_beats_while_idle(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(heart_beat="0,50")
        async with client_for(broker.uri, heart_beat=(50, 0)) as client:
            await broker.wait_for("heart-beats", lambda: broker.peers[0].beats >= 3)
            assert client.is_connected

    async def test_a_silent_broker_is_dropped(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(heart_beat="50,0")
        client = client_for(broker.uri, heart_beat=(0, 50), auto_reconnect=False)
        await client.connect()
        with pytest.raises(ConnectionLost, match="silent"):
            await client.receive(timeout=5.0)
        assert client.counters.heart_beats_missed == 1

    async def test_a_beating_broker_is_kept(self, make_broker: MakeBroker) -> None:
        broker = await make_broker(heart_beat="50,0", beat_every=0.02)
        async with client_for(broker.uri, heart_beat=(0, 50), auto_reconnect=False) as client:
            assert await client.receive(timeout=0.4) is None
            assert client.is_connected


async def test_acks_released_by_the_core_leave_while_the_consumer_works_through_its_inbox() -> None:
    # A consumer whose inbox is full takes and acknowledges messages without the loop
    # turning; the ACKs the core releases (a full batch) must leave at once, or the
    # broker's prefetch window runs dry until the inbox is empty (RabbitMQ: half speed).
    from stomp_testing import AsyncioTestBroker

    async with AsyncioTestBroker() as broker:
        client = Client(broker.uri, receipt_timeout=3.0, disconnect_timeout=3.0)
        await client.connect(timeout=5)
        await client.subscribe(
            "/queue/a", ack="client-individual", headers={"prefetch-count": "2000"}, receipt=True
        )
        for n in range(1200):
            broker.publish("/queue/a", b"%d" % n)
        while client.messages_waiting < 1200:
            await asyncio.sleep(0.005)
        turned: list[bool] = []
        asyncio.get_running_loop().call_soon(turned.append, True)
        before = client.counters.bytes_out
        for _ in range(600):
            message = await client.receive(1.0)
            assert message is not None
            await client.ack(message)
        assert not turned, "the loop turned: the test proves nothing"
        assert client.counters.bytes_out > before  # a batch of ACKs left without a turn
        await client.disconnect()

"""The asyncio shell: the core served by asyncio.start_server, asyncio streams as clients."""

from __future__ import annotations

import asyncio

import pytest

from stomp_frame import Frame, HeartBeat, Parser, Version, serialize
from stomp_testing import AsyncioTestBroker, BrokerCore


class StreamClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = Parser(Version.V1_0)

    def send(self, command: str, headers: dict[str, str], body: bytes = b"") -> None:
        self.writer.write(serialize(Frame(command, headers, body), self.parser.version))

    async def read_frame(self) -> Frame:
        while True:
            event = self.parser.next_event()
            if isinstance(event, Frame):
                if event.command == "CONNECTED":
                    self.parser.version = Version(event.get("version", "1.0"))
                return event
            if isinstance(event, HeartBeat):
                continue
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("closed")
            self.parser.receive_data(data)


async def open_client(broker: AsyncioTestBroker) -> StreamClient:
    client = StreamClient(*await asyncio.open_connection(broker.host, broker.port))
    client.send("CONNECT", {"accept-version": "1.2", "host": "/", "heart-beat": "0,10"})
    assert (await client.read_frame()).command == "CONNECTED"
    return client


def test_a_client_subscribes_receives_and_the_broker_beats() -> None:
    async def scenario() -> None:
        async with AsyncioTestBroker(BrokerCore(name="aio")) as broker:
            assert broker.uri == f"tcp://127.0.0.1:{broker.port}"
            assert repr(broker) == f"<AsyncioTestBroker 'aio' on {broker.uri}>"
            with pytest.raises(RuntimeError, match="started already"):
                await broker.start()
            client = await open_client(broker)
            client.send("SUBSCRIBE", {"destination": "/queue/a", "id": "1", "ack": "client"})
            client.send("SEND", {"destination": "/queue/a", "receipt": "r"}, b"hi")
            frames = [await client.read_frame(), await client.read_frame()]
            assert sorted(f.command for f in frames) == ["MESSAGE", "RECEIPT"]
            assert [f.body for f in broker.unacknowledged()] == [b"hi"]
            broker.publish("/queue/a", b"published")
            assert (await client.read_frame()).body == b"published"
            assert [f.command for f in broker.frames("SEND")] == ["SEND"]
            assert broker.queued("/queue/a") == ()
            while client.parser.next_event() is None:  # a heart-beat comes, every 10 ms
                client.parser.receive_data(await client.reader.read(65536))
            (connection,) = broker.connections
            assert connection.heart_beat == (10, 0)
            client.writer.close()

    asyncio.run(scenario())


def test_faults_stop_reading_then_resume_and_drop() -> None:
    async def scenario() -> None:
        async with AsyncioTestBroker() as broker:
            client = await open_client(broker)
            broker.faults.stop_reading()
            await asyncio.sleep(0)
            client.send("SEND", {"destination": "/queue/a", "receipt": "r"})
            await client.writer.drain()
            assert broker.frames("SEND") == []
            broker.faults.clear()
            assert (await client.read_frame()).get("receipt-id") == "r"
            broker.drop_connections()
            with pytest.raises(ConnectionError):
                await client.read_frame()
            assert broker.connections == ()
            client.writer.close()
        await broker.stop()  # twice is harmless

    asyncio.run(scenario())


def test_stop_closes_the_open_connections() -> None:
    async def scenario() -> None:
        broker = await AsyncioTestBroker().start()
        client = await open_client(broker)
        await broker.stop()
        assert await client.reader.read() == b""
        client.writer.close()

    asyncio.run(scenario())

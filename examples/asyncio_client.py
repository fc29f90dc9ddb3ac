"""Compose your own client: a small asyncio STOMP client from stomp-session and stomp-failover.

The session speaks the protocol and the failover policy chooses brokers and delays; this
file adds the I/O: a socket, the event loop's clock and timer, futures to await.

    python examples/asyncio_client.py tcp://127.0.0.1:61623 --host / --login guest --passcode guest

subscribes to a new queue, sends a message to it, receives and acknowledges the message,
and disconnects. The docs walk through it ("Compose your own client").
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import ssl
import uuid
from typing import NoReturn

from stomp_commands import AckMode, Headers
from stomp_failover import Broker, FailoverUri
from stomp_session import (
    Connected,
    Disconnected,
    ErrorReceived,
    Event,
    MessageReceived,
    PeerDead,
    ProtocolFailure,
    ReceiptLost,
    ReceiptReceived,
    Session,
    Subscription,
    TransactionAborted,
)


class StompError(Exception):
    """The broker refused a frame (ERROR), or the connection ended."""


class Client:
    """A STOMP client on asyncio; reconnects as the failover URI says and resubscribes."""

    def __init__(
        self,
        uri: str,
        *,
        host: str,
        login: str | None = None,
        passcode: str | None = None,
        heart_beat: tuple[int, int] = (10_000, 10_000),
    ) -> None:
        self.policy = FailoverUri.parse(uri).policy()
        self.session = Session(host=host, login=login, passcode=passcode, heart_beat=heart_beat)
        self.messages: asyncio.Queue[MessageReceived] = asyncio.Queue()
        self.broker: Broker | None = None
        self._connected = asyncio.Event()
        self._receipts: dict[str, asyncio.Future[None]] = {}
        self._ids = itertools.count(1)
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._error: StompError | None = None

    async def connect(self) -> None:
        """Connect, trying brokers as the URI says; raise BrokersExhausted if it gives up."""
        self._task = asyncio.create_task(self._run())
        connected = asyncio.create_task(self._connected.wait())
        await asyncio.wait({self._task, connected}, return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        if self._task.done():
            self._task.result()

    async def send(self, destination: str, body: bytes, headers: Headers | None = None) -> None:
        """Send a message; return once the broker confirmed it with a RECEIPT."""
        await self._connected.wait()
        receipt = f"r-{next(self._ids)}"
        data = self.session.send(destination, body, headers=headers, receipt=receipt)
        await self._write_and_wait(data, receipt)

    async def subscribe(self, destination: str, ack: AckMode = "client-individual") -> Subscription:
        """Subscribe (kept across reconnections); messages arrive in :attr:`messages`."""
        await self._connected.wait()
        receipt = f"r-{next(self._ids)}"
        subscription, data = self.session.subscribe(destination, ack=ack, receipt=receipt)
        await self._write_and_wait(data, receipt)
        return subscription

    def ack(self, message: MessageReceived) -> None:
        """Acknowledge a message (LocalProtocolError if its connection is gone)."""
        self._write(self.session.ack(message))

    async def disconnect(self, timeout: float = 10) -> None:
        """Disconnect: DISCONNECT, wait for its RECEIPT (up to *timeout* seconds), close."""
        self._closing = True
        if self._task is None:
            return
        if self._connected.is_set():
            self._write(self.session.disconnect())
            await asyncio.wait({self._task}, timeout=timeout)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def _write(self, data: bytes) -> None:
        if self._writer is None:
            raise StompError("not connected")
        self._writer.write(data)

    async def _write_and_wait(self, data: bytes, receipt: str) -> None:
        future = self._receipts[receipt] = asyncio.get_running_loop().create_future()
        self._write(data)
        await future

    async def _run(self) -> None:
        for attempt in self.policy:  # raises BrokersExhausted when the budget is spent
            await asyncio.sleep(attempt.delay)
            broker = attempt.broker
            tls = ssl.create_default_context() if broker.scheme == "ssl" else None
            name = broker.options.get("serverHostname", broker.host) if tls else None
            try:
                opening = asyncio.open_connection(*broker.address, ssl=tls, server_hostname=name)
                reader, writer = await asyncio.wait_for(opening, timeout=10)
            except (OSError, asyncio.TimeoutError) as error:
                self.policy.failed(error)
                continue
            self.broker, self._error = broker, None
            cause = await self._serve(reader, writer)
            if self._closing:
                return
            self.policy.failed(cause)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Exception:
        """Run one connection until it ends; return why it ended."""
        clock = asyncio.get_running_loop().time
        self._writer = writer
        writer.write(self.session.connect(clock()))
        cause: Exception = ConnectionResetError("the broker closed the connection")
        try:
            while True:
                deadline = self.session.next_deadline()
                timeout = None if deadline is None else max(deadline - clock(), 0)
                try:
                    data = await asyncio.wait_for(reader.read(65536), timeout)
                except asyncio.TimeoutError:
                    out = self.session.handle_timer(clock())
                else:
                    if not data:
                        break
                    out = self.session.receive_data(data, clock())
                writer.write(out.data)  # heart-beats, and the subscriptions replayed
                for event in out.events:
                    self._dispatch(event)
                if out.close:
                    cause = self._error or StompError("the session ended the connection")
                    break
        except OSError as error:
            cause = error
        finally:
            self._connected.clear()
            self._writer = None
            writer.close()
            for event in self.session.connection_lost(clock()).events:
                self._dispatch(event)
        return cause

    def _dispatch(self, event: Event) -> None:
        match event:
            case Connected():
                self.policy.connected()
                self._connected.set()
            case MessageReceived():
                self.messages.put_nowait(event)
            case ReceiptReceived(receipt_id=receipt):
                self._settle(receipt, None)
            case ErrorReceived(receipt_id=receipt, message=message):
                self._error = StompError(f"the broker refused it: {message}")
                self._settle(receipt, self._error)
            case ReceiptLost(receipt_id=receipt, command=command):
                self._settle(receipt, StompError(f"connection lost before {command} was confirmed"))
            case PeerDead() | ProtocolFailure():
                self._error = StompError(f"connection dropped: {event}")
            case Disconnected() | TransactionAborted():
                pass  # the output closes the connection; this client opens no transactions
            case _:
                _unreachable(event)

    def _settle(self, receipt: str | None, error: StompError | None) -> None:
        future = self._receipts.pop(receipt, None) if receipt else None
        if future is None or future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _unreachable(event: NoReturn) -> NoReturn:
    raise AssertionError(f"unhandled event {event!r}")


async def main(argv: list[str] | None = None) -> None:
    """Round trip: subscribe to a new queue, send, receive, acknowledge, disconnect."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("uri", help="failover URI, e.g. failover:(tcp://a:61613,tcp://b:61613)")
    parser.add_argument("--host", default="/", help="virtual host (RabbitMQ: /)")
    parser.add_argument("--login")
    parser.add_argument("--passcode")
    parser.add_argument("--queue", default=f"/queue/example-{uuid.uuid4().hex}")
    args = parser.parse_args(argv)
    client = Client(args.uri, host=args.host, login=args.login, passcode=args.passcode)
    await client.connect()
    print(f"connected to {client.broker}")
    await client.subscribe(args.queue)
    await client.send(args.queue, b"hello")
    message = await asyncio.wait_for(client.messages.get(), timeout=10)
    client.ack(message)
    print(f"received {message.body!r} from {message.destination}")
    await client.disconnect()


if __name__ == "__main__":
    asyncio.run(main())

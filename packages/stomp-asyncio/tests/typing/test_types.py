"""Static checks of the public types, run by mypy (the types session); nothing runs here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from stomp_asyncio import (
    BrokerError,
    Client,
    ClientError,
    ClientState,
    Connected,
    ConnectionLost,
    Counters,
    DisconnectResult,
    InvalidRequest,
    MessageReceived,
    NotConnected,
    Reconnected,
    Subscription,
    TlsOptions,
    WaitTimeout,
)
from stomp_failover import Broker, FailoverUri
from stomp_frame import Version

if TYPE_CHECKING:
    from typing_extensions import assert_type


async def check_client(client: Client, message: MessageReceived) -> None:
    assert_type(await client.connect(timeout=1.0), Connected)
    assert_type(await client.receive(0.5), MessageReceived | None)
    assert_type(client.messages(idle_timeout=1.0), AsyncIterator[MessageReceived])
    async for each in client.messages():
        assert_type(each, MessageReceived)
    assert_type(await client.subscribe("/queue/a", ack="client-individual"), Subscription)
    assert_type(await client.send("/queue/a", b"x", headers={"k": "v"}, receipt=True), None)
    assert_type(await client.ack(message), None)
    assert_type(await client.nack(message, receipt=True), None)
    assert_type(await client.begin(), str)
    async with client.transaction(timeout=2.0) as tx:
        assert_type(tx, str)
    assert_type(await client.disconnect(timeout=1.0), DisconnectResult)
    assert_type(client.close(), None)
    assert_type(client.state, ClientState)
    assert_type(client.counters, Counters)
    assert_type(client.is_current(message), bool)
    assert_type(client.messages_waiting, int)
    assert_type(client.reading_paused, bool)
    assert_type(client.uri, FailoverUri)
    assert_type(client.broker, Broker | None)
    assert_type(client.version, Version | None)
    assert_type(client.subscriptions, Mapping[str, Subscription])
    async with client as same:
        assert_type(same, Client)
    await client.subscribe("/queue/a", ack="sometimes")  # type: ignore[arg-type]
    Client("ssl://h:1", tls=TlsOptions(ca_file="ca.pem"))


def check_errors(info: Reconnected) -> None:
    assert_type(info.discarded, int)
    assert_type(info.cause, BaseException)
    timeout = WaitTimeout("RECEIPT", 1.0)
    as_builtin: TimeoutError = timeout
    base: ClientError = NotConnected("x")
    misuse: ValueError = InvalidRequest("x")
    lost: ClientError = ConnectionLost("x")
    error: type[ClientError] = BrokerError
    del as_builtin, base, misuse, lost, error

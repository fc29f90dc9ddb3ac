"""stomp-asyncio: an asyncio STOMP client over TCP and TLS, with a timeout on every wait.

A thin adapter over :mod:`stomp_core`'s sans-I/O client core: the core decides
(failover, reconnection, receipts, transactions, heart-beats, what a lost
connection does to received messages); this package moves bytes through an asyncio
transport, keeps the core's timer on the loop, and lets tasks wait. It depends on
nothing outside the standard library and stomp-suite.

Handlers per subscription (``await client.subscribe(destination, handler)``) behave as
the Twisted client's, decided by the client core: see the docs page "The asyncio client".

Example (against a broker on localhost)::

    import asyncio

    from stomp_asyncio import Client


    async def main() -> None:
        async with Client("tcp://localhost:61613", login="admin", passcode="admin") as client:
            await client.subscribe("/queue/orders", ack="client-individual")
            await client.send("/queue/orders", b"hello", receipt=True)
            async for message in client.messages(idle_timeout=5.0):
                print(message.body)
                await client.ack(message)
                break


    asyncio.run(main())

"""

from __future__ import annotations

from stomp_asyncio._client import DEFAULT_MAX_WAITING, Client
from stomp_asyncio._handlers import FailureHook, MessageHandler
from stomp_asyncio._link import default_ssl_context
from stomp_core import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_TIMEOUT,
    ERROR_HEADER,
    FORWARD_EXCLUDED_HEADERS,
    PREFETCH_HEADERS,
    BrokerError,
    ClientError,
    ClientState,
    ConnectFailed,
    ConnectionLost,
    Counters,
    DisconnectResult,
    ErrorAction,
    HandlerFailed,
    HandlerState,
    InvalidRequest,
    MessageStale,
    NotConnected,
    Reconnected,
    TlsOptions,
    UnfinishedHandler,
    WaitTimeout,
)
from stomp_session import Connected, MessageReceived, Subscription

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_WAITING",
    "DEFAULT_TIMEOUT",
    "ERROR_HEADER",
    "FORWARD_EXCLUDED_HEADERS",
    "PREFETCH_HEADERS",
    "BrokerError",
    "Client",
    "ClientError",
    "ClientState",
    "ConnectFailed",
    "Connected",
    "ConnectionLost",
    "Counters",
    "DisconnectResult",
    "ErrorAction",
    "FailureHook",
    "HandlerFailed",
    "HandlerState",
    "InvalidRequest",
    "MessageHandler",
    "MessageReceived",
    "MessageStale",
    "NotConnected",
    "Reconnected",
    "Subscription",
    "TlsOptions",
    "UnfinishedHandler",
    "WaitTimeout",
    "default_ssl_context",
]

__version__ = "0.1.0"

# Show the public path, not the private module, in reprs and tracebacks (own names only).
for _name in ("Client", "default_ssl_context"):
    globals()[_name].__module__ = __name__
del _name

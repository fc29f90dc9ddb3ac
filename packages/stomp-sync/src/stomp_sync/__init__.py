"""stomp-sync: a blocking STOMP client over TCP and TLS, with a timeout on every wait.

A thin adapter over :mod:`stomp_core`'s sans-I/O client core: the core decides
(failover, reconnection, receipts, transactions, heart-beats, what a lost
connection does to received messages); this package moves bytes over a socket and
waits. It starts no thread unless asked to, and may be called from several threads.

Example (against a broker on localhost)::

    from stomp_sync import Client

    with Client("tcp://localhost:61613", login="admin", passcode="admin") as client:
        client.subscribe("/queue/orders", ack="client-individual")
        client.send("/queue/orders", b"hello", receipt=True)
        message = client.receive(timeout=5.0)
        if message is not None:
            print(message.body)
            client.ack(message)
"""

from __future__ import annotations

from stomp_core import (
    DEFAULT_TIMEOUT,
    BrokerError,
    ClientError,
    ClientState,
    ConnectFailed,
    ConnectionLost,
    Counters,
    DisconnectResult,
    InvalidRequest,
    MessageStale,
    NotConnected,
    Reconnected,
    TlsOptions,
    WaitTimeout,
)
from stomp_session import Connected, MessageReceived, Subscription
from stomp_sync._client import Client
from stomp_sync._transport import default_ssl_context

__all__ = [
    "DEFAULT_TIMEOUT",
    "BrokerError",
    "Client",
    "ClientError",
    "ClientState",
    "ConnectFailed",
    "Connected",
    "ConnectionLost",
    "Counters",
    "DisconnectResult",
    "InvalidRequest",
    "MessageReceived",
    "MessageStale",
    "NotConnected",
    "Reconnected",
    "Subscription",
    "TlsOptions",
    "WaitTimeout",
    "default_ssl_context",
]

__version__ = "0.1.0"

# Show the public path, not the private module, in reprs and tracebacks (own names only).
for _name in ("Client", "default_ssl_context"):
    globals()[_name].__module__ = __name__
del _name

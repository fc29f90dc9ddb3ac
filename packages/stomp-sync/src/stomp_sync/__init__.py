"""stomp-sync: a blocking STOMP client over TCP and TLS, with a timeout on every wait.

It drives a :class:`stomp_session.Session` over a socket and follows a
:mod:`stomp_failover` policy to connect and reconnect. It starts no thread unless
asked to, and assumes nothing about the caller's concurrency.

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

from stomp_session import Connected, MessageReceived, Subscription
from stomp_sync._client import DEFAULT_TIMEOUT, Client, Reconnected
from stomp_sync._errors import BrokerError, ClientError, ConnectFailed, ConnectionLost, WaitTimeout
from stomp_sync._transport import default_ssl_context

__all__ = [
    "DEFAULT_TIMEOUT",
    "BrokerError",
    "Client",
    "ClientError",
    "ConnectFailed",
    "Connected",
    "ConnectionLost",
    "MessageReceived",
    "Reconnected",
    "Subscription",
    "WaitTimeout",
    "default_ssl_context",
]

__version__ = "0.1.0"

# Show the public path, not the private module, in reprs and tracebacks (own names only).
for _name in (
    "Client",
    "Reconnected",
    "BrokerError",
    "ClientError",
    "ConnectFailed",
    "ConnectionLost",
    "WaitTimeout",
    "default_ssl_context",
):
    globals()[_name].__module__ = __name__
del _name

"""stomp-twisted: an asynchronous STOMP 1.0/1.1/1.2 client for Twisted, and a simulated broker.

A thin adapter over :mod:`stomp_core`'s sans-I/O client core, which decides
everything a client decides (failover, reconnection, receipts, transactions,
heart-beats, back-pressure); this package adds the reactor, the transport and TLS,
per-subscription handlers with their concurrency, and a graceful shutdown. Every
request returns a typed ``Deferred``; inside, the client
is ``async def`` code wrapped with ``Deferred.fromCoroutine``.

>>> from stomp_twisted import Client
>>> from stomp_twisted.testing import SimulatedBroker, SimulatedReactor
>>> reactor = SimulatedReactor()
>>> broker = SimulatedBroker()
>>> port = broker.listen(61613, interface="broker.test", reactor=reactor)
>>> client = Client("tcp://broker.test:61613", reactor=reactor)
>>> reactor.run_until(client.connect()).version
<Version.V1_2: '1.2'>
>>> seen = []
>>> sub = reactor.run_until(client.subscribe("/queue/a", lambda message: seen.append(message.body)))
>>> reactor.run_until(client.send("/queue/a", b"hello", receipt=True))
>>> reactor.flush()
>>> seen
[b'hello']
>>> reactor.run_until(client.disconnect()).clean
True

The logger is ``logging.getLogger("stomp_twisted")``; the passcode never appears in
it, nor in a repr or an error.
"""

from __future__ import annotations

from stomp_core import (
    BrokerError,
    ClientError,
    ClientState,
    ConnectFailed,
    ConnectionLost,
    Counters,
    DisconnectResult,
    HandlerFailed,
    InvalidRequest,
    MessageStale,
    NotConnected,
    Reconnected,
    TlsOptions,
    UnfinishedHandler,
    WaitTimeout,
)
from stomp_session import Connected
from stomp_twisted._client import DEFAULT_MAX_IN_FLIGHT, PREFETCH_HEADERS, Client
from stomp_twisted._model import (
    ERROR_HEADER,
    FORWARD_EXCLUDED_HEADERS,
    ErrorAction,
    ErrorHook,
    Handler,
    Message,
    ReactorLike,
)
from stomp_twisted._subscription import Subscription

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
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
    "ErrorHook",
    "Handler",
    "HandlerFailed",
    "InvalidRequest",
    "Message",
    "MessageStale",
    "NotConnected",
    "ReactorLike",
    "Reconnected",
    "Subscription",
    "TlsOptions",
    "UnfinishedHandler",
    "WaitTimeout",
]

__version__ = "0.1.0"

# Show the public path, not the private module, in reprs and tracebacks (own names only).
for _name in ("Client", "Subscription"):
    globals()[_name].__module__ = __name__
del _name

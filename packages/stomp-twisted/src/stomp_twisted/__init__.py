"""stomp-twisted: an asynchronous STOMP 1.0/1.1/1.2 client for Twisted, and a simulated broker.

A thin adapter around :class:`stomp_session.Session`: the session owns the
protocol; this package adds the reactor, sockets and TLS, timers for heart-beats
and timeouts, failover (:mod:`stomp_failover`), per-subscription handlers and a
graceful shutdown. Every request returns a typed ``Deferred``; inside, the client
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

from stomp_session import Connected
from stomp_twisted._client import DEFAULT_MAX_IN_FLIGHT, PREFETCH_HEADERS, Client
from stomp_twisted._errors import (
    BrokerError,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    HandlerFailed,
    InvalidRequest,
    NotConnected,
    WaitTimeout,
)
from stomp_twisted._model import (
    ERROR_HEADER,
    FORWARD_EXCLUDED_HEADERS,
    ClientState,
    DisconnectResult,
    ErrorAction,
    ErrorHook,
    Handler,
    Message,
    ReactorLike,
    UnfinishedHandler,
)
from stomp_twisted._subscription import Subscription
from stomp_twisted._tls import TlsOptions

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
    "DisconnectResult",
    "ErrorAction",
    "ErrorHook",
    "Handler",
    "HandlerFailed",
    "InvalidRequest",
    "Message",
    "NotConnected",
    "ReactorLike",
    "Subscription",
    "TlsOptions",
    "UnfinishedHandler",
    "WaitTimeout",
]

__version__ = "0.1.0"

r"""stomp-core: the sans-I/O client core under every stomp-suite client; time is an input.

Everything a client decides lives here, once: its life cycle across connections
(:data:`CLIENT_TRANSITIONS`), which broker next and when (the failover policy of
:mod:`stomp_failover`), the CONNECT settings of each broker, receipts and their
outcomes, transactions rolled back with a connection, what a lost connection does
to received messages and their acks, heart-beats (also while reading is paused),
one outbound buffer with back-pressure and ACK coalescing, handlers per subscription
(:class:`Dispatcher`: concurrency, settling, error destination, the STOMP 1.0 poison
pill, pausing, a graceful end's report), the errors every client raises, and the
counters and DEBUG wire trace. The clients (stomp-sync, stomp-twisted, stomp-asyncio)
are adapters that move bytes, keep time and wait.

>>> from stomp_core import ClientCore, ClientSettings, OpenTransport
>>> core = ClientCore("tcp://broker.test:61613", ClientSettings())
>>> core.start(now=0.0)
>>> event = core.next_event()
>>> isinstance(event, OpenTransport), str(event.broker)
(True, 'tcp://broker.test:61613')
>>> core.transport_opened(now=0.1)
>>> bytes(core.pending_output()).split(b"\n")[0]
b'CONNECT'
>>> core.output_written(len(core.pending_output()), now=0.1)
>>> core.receive_data(b"CONNECTED\nversion:1.2\n\n\0", now=0.2)
>>> core.next_event().connected.version, core.state
(<Version.V1_2: '1.2'>, <ClientState.CONNECTED: 'connected'>)
"""

from __future__ import annotations

from stomp_core._core import ClientCore
from stomp_core._dispatch import (
    DEFAULT_MAX_IN_FLIGHT,
    ERROR_HEADER,
    FORWARD_EXCLUDED_HEADERS,
    PREFETCH_HEADERS,
    Delivery,
    DispatchEffect,
    Dispatcher,
    ErrorAction,
    HandlerPoisoned,
    HandlerState,
    PauseReading,
    ResumeReading,
    RunHandler,
    SettleMessage,
    default_ack,
    describe_failure,
    forward_copy,
    prefetch_headers,
)
from stomp_core._errors import (
    BrokerError,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    HandlerFailed,
    InvalidRequest,
    MessageStale,
    NotConnected,
    WaitTimeout,
)
from stomp_core._events import (
    ClientEnded,
    CloseTransport,
    ConnectionDropped,
    ConnectionMade,
    CoreEvent,
    OpenTransport,
    RequestDone,
)
from stomp_core._model import (
    DEFAULT_MAX_OUTGOING,
    DEFAULT_TIMEOUT,
    ClientSettings,
    Counters,
    DisconnectResult,
    Reconnected,
    TlsOptions,
    UnfinishedHandler,
    parse_versions,
)
from stomp_core._model import positive as check_timeout
from stomp_core._state import CLIENT_TRANSITIONS, ClientInput, ClientState
from stomp_core._view import ClientView

__all__ = [
    "CLIENT_TRANSITIONS",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_OUTGOING",
    "DEFAULT_TIMEOUT",
    "ERROR_HEADER",
    "FORWARD_EXCLUDED_HEADERS",
    "PREFETCH_HEADERS",
    "BrokerError",
    "ClientCore",
    "ClientEnded",
    "ClientError",
    "ClientInput",
    "ClientSettings",
    "ClientState",
    "ClientView",
    "CloseTransport",
    "ConnectFailed",
    "ConnectionDropped",
    "ConnectionLost",
    "ConnectionMade",
    "CoreEvent",
    "Counters",
    "Delivery",
    "DisconnectResult",
    "DispatchEffect",
    "Dispatcher",
    "ErrorAction",
    "HandlerFailed",
    "HandlerPoisoned",
    "HandlerState",
    "InvalidRequest",
    "MessageStale",
    "NotConnected",
    "OpenTransport",
    "PauseReading",
    "Reconnected",
    "RequestDone",
    "ResumeReading",
    "RunHandler",
    "SettleMessage",
    "TlsOptions",
    "UnfinishedHandler",
    "WaitTimeout",
    "check_timeout",
    "default_ack",
    "describe_failure",
    "forward_copy",
    "parse_versions",
    "prefetch_headers",
]

__version__ = "0.1.0"

# Show the public path, not the private module, in reprs and tracebacks.
for _name in __all__:
    if isinstance(globals()[_name], type):
        globals()[_name].__module__ = __name__
del _name

"""stomp-testing: one STOMP broker for tests, a sans-I/O core with thin shells.

* :class:`BrokerCore` is the broker itself, sans-I/O: queues and topics, the three
  ack modes, redelivery, NACK and dead letters, receipts, transactions, heart-beats
  and version negotiation (1.0-1.2), inspection (:meth:`~BrokerCore.frames`,
  :meth:`~BrokerCore.queued`, :meth:`~BrokerCore.unacknowledged`), and scripted
  :class:`Faults`. Each :class:`BrokerConnection` takes bytes and time and gives
  bytes; a test can drive it directly.
* :class:`TestBroker` serves the core on a loopback socket from one background
  thread (stdlib only), for blocking clients: ``with TestBroker() as broker:
  Client(broker.uri)``.
* :class:`AsyncioTestBroker` serves it with ``asyncio.start_server``, for asyncio
  clients.
* ``stomp_twisted.testing.SimulatedBroker`` serves it on Twisted.
"""

from __future__ import annotations

from stomp_testing._asyncio import AsyncioTestBroker
from stomp_testing._core import BrokerConnection, BrokerCore
from stomp_testing._faults import GARBAGE, Faults
from stomp_testing._socket import SocketConnection, TestBroker

__version__ = "0.1.0"

__all__ = [
    "GARBAGE",
    "AsyncioTestBroker",
    "BrokerConnection",
    "BrokerCore",
    "Faults",
    "SocketConnection",
    "TestBroker",
]

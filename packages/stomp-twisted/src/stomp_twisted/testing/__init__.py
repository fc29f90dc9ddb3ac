"""stomp_twisted.testing: a simulated STOMP broker and an in-memory network, for tests.

* :class:`SimulatedBroker` speaks STOMP 1.0-1.2 with queues, topics, ack modes,
  redelivery, NACK, receipts, transactions and heart-beats, and misbehaves on
  demand through its :class:`Faults`. It listens on a :class:`SimulatedReactor`
  (in memory, on a simulated clock) or on a real TCP port of a real reactor
  (``listen(port=0)`` returns the bound port). It is the Twisted shell of
  :class:`stomp_testing.BrokerCore`, the project's one test broker (also served on
  sockets by :class:`stomp_testing.TestBroker`).
* :class:`SimulatedReactor` is a ``MemoryReactorClock`` whose TCP connections run in
  memory; :meth:`~SimulatedReactor.run_until` drives a test to the end of a
  ``Deferred`` with no real time passing.
* :class:`ReactorThread` runs a real reactor (by default the global one) in a daemon
  thread, for tests against real sockets: blocking test code runs each ``async def``
  scenario on it with a timeout.

>>> from stomp_twisted import Client
>>> from stomp_twisted.testing import SimulatedBroker, SimulatedReactor
>>> reactor = SimulatedReactor()
>>> broker = SimulatedBroker()
>>> broker.faults.never_answer()
>>> port = broker.listen(61613, interface="mq", reactor=reactor)
>>> client = Client(
...     "tcp://mq:61613?startupMaxReconnectAttempts=0", connected_timeout=5, reactor=reactor
... )
>>> reactor.run_until(client.connect())  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
stomp_core.ConnectFailed: gave up connecting after 1 attempt ...
>>> str(reactor.run_until(client.disconnected.addErrback(lambda f: f.value.cause)))
'no CONNECTED from tcp://mq:61613 within 5 s'
>>> reactor.seconds()
5.0
"""

from __future__ import annotations

from stomp_twisted.testing._broker import Faults, SimulatedBroker, SimulatedConnection
from stomp_twisted.testing._network import SimulatedReactor
from stomp_twisted.testing._thread import ReactorThread

__all__ = ["Faults", "ReactorThread", "SimulatedBroker", "SimulatedConnection", "SimulatedReactor"]

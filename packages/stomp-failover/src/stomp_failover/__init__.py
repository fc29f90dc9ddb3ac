"""ActiveMQ failover URIs and a pure reconnect policy for STOMP clients.

Parse a URI such as ``failover:(tcp://a:61613,ssl://b:61614)?randomize=false`` into a
`FailoverUri`, then drive a `ReconnectPolicy` over it: it tells which broker to try
next and after what delay, and raises `BrokersExhausted` when its budget is spent. It
sleeps, connects and resolves names never: the clients do that.

Example:
    >>> import random
    >>> uri = FailoverUri.parse("failover:(tcp://a:61613,tcp://b:61613)?randomize=false")
    >>> for attempt in uri.policy(rng=random.Random(0)).preview(3):
    ...     print(attempt)
    startup attempt 1 (pass 1): tcp://a:61613 at once
    startup attempt 2 (pass 1): tcp://b:61613 at once
    startup attempt 3 (pass 2): tcp://a:61613 after 10 ms
"""

from stomp_failover._errors import BrokersExhausted, FailoverError, UriError
from stomp_failover._model import Broker, FailoverOptions
from stomp_failover._policy import Attempt, RandomSource, ReconnectPolicy
from stomp_failover._uri import FailoverUri

__all__ = [
    "Attempt",
    "Broker",
    "BrokersExhausted",
    "FailoverError",
    "FailoverOptions",
    "FailoverUri",
    "RandomSource",
    "ReconnectPolicy",
    "UriError",
]

__version__ = "0.1.0"

# Show the public path, not the private module, in reprs and tracebacks.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name

"""The read-only face every client shows of its core: written once, inherited by each client."""

from __future__ import annotations

from stomp_core._core import ClientCore
from stomp_core._model import Counters
from stomp_core._state import ClientState
from stomp_failover import Broker, FailoverUri
from stomp_frame import Version
from stomp_session import Connected, MessageReceived

__all__ = ["ClientView"]


class ClientView:
    """What a client tells about itself, the same in every client (a base class).

    A client sets ``self._core`` to its :class:`~stomp_core.ClientCore`; these
    properties read it.
    """

    _core: ClientCore

    @property
    def uri(self) -> FailoverUri:
        """The failover URI the client follows (``str()`` of it hides passwords)."""
        return self._core.uri

    @property
    def state(self) -> ClientState:
        """Where the client is in its life (connecting, connected, reconnecting, ...)."""
        return self._core.state

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up (CONNECTED received) and takes requests."""
        return self._core.ready

    @property
    def broker(self) -> Broker | None:
        """The broker of the current connection, or ``None``."""
        return self._core.broker

    @property
    def connected(self) -> Connected | None:
        """The CONNECTED of the current connection (version, server, heart-beats), or ``None``."""
        return self._core.connected

    @property
    def version(self) -> Version | None:
        """The negotiated STOMP version of the current connection, or ``None``."""
        return self._core.version

    @property
    def counters(self) -> Counters:
        """What the client did so far: frames, bytes, messages, receipts, reconnects."""
        return self._core.counters

    def is_current(self, message: MessageReceived) -> bool:
        """Whether *message* came on the current connection (so that it can be acknowledged)."""
        return self._core.is_current(message)

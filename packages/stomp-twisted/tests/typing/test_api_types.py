"""Static checks of the public API's types (mypy checks these functions; pytest runs them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred

from stomp_commands import ErrorInfo
from stomp_failover import Broker, FailoverUri
from stomp_frame import Frame, Version
from stomp_session import MessageReceived
from stomp_twisted import (
    BrokerError,
    Client,
    ClientState,
    Connected,
    ConnectFailed,
    ConnectionLost,
    DisconnectResult,
    ErrorAction,
    HandlerFailed,
    ReactorLike,
    Subscription,
    UnfinishedHandler,
    WaitTimeout,
)
from stomp_twisted.testing import Faults, SimulatedBroker, SimulatedConnection, SimulatedReactor

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:

    def assert_type(value: object, _type: object) -> object:
        return value


async def sync_handler_is_accepted(message: MessageReceived) -> None:
    assert_type(message.body, bytes)


def hook(message: MessageReceived, error: BaseException) -> ErrorAction:
    return ErrorAction.NACK


def quiet(*pending: Deferred[object]) -> None:
    """Consume the failures of requests made on a client that never connects."""
    for deferred in pending:
        deferred.addErrback(lambda _: None)


def test_client_api_types() -> None:
    reactor = SimulatedReactor()
    as_reactor: ReactorLike = reactor
    broker = SimulatedBroker()
    assert_type(broker.listen(1, interface="h", reactor=as_reactor), int)
    assert_type(broker.faults, Faults)
    assert_type(broker.connections, tuple[SimulatedConnection, ...])
    assert_type(broker.queued("/queue/a"), tuple[Frame, ...])
    client = Client("tcp://h:1", reactor=reactor, heart_beat=(0, 0))
    connecting = client.connect()
    assert_type(connecting, Deferred[Connected])
    assert_type(client.state, ClientState)
    assert_type(client.uri, FailoverUri)
    assert_type(client.broker, Broker | None)
    assert_type(client.version, Version | None)
    assert_type(client.subscriptions, Mapping[str, Subscription])
    sent = client.send("/queue/a", b"x")
    assert_type(sent, Deferred[None])
    subscribed = client.subscribe("/queue/a", sync_handler_is_accepted)
    assert_type(subscribed, Deferred[Subscription])
    hooked = client.subscribe("/queue/a", print, on_error=hook)
    assert_type(hooked, Deferred[Subscription])
    began = client.begin()
    assert_type(began, Deferred[str])
    committed = client.commit("tx")
    assert_type(committed, Deferred[None])
    assert_type(client.disconnected, Deferred[DisconnectResult])
    quiet(connecting, sent, subscribed, hooked, began, committed)  # type: ignore[arg-type]
    result = reactor.run_until(client.disconnect())
    assert_type(result, DisconnectResult)
    assert_type(result.unfinished, tuple[UnfinishedHandler, ...])


def test_error_attribute_types() -> None:
    timeout = WaitTimeout("CONNECTED from tcp://h:1", 5)
    assert_type(timeout.awaited, str)
    assert_type(timeout.timeout, float)
    assert str(timeout) == "no CONNECTED from tcp://h:1 within 5 s"
    assert isinstance(timeout, TimeoutError)
    frame = Frame("ERROR", {"message": "no"})
    error = BrokerError(ErrorInfo(message="no", receipt_id=None, body=b"", frame=frame))
    assert_type(error.frame, Frame)
    assert_type(error.error, ErrorInfo)
    lost = ConnectionLost("gone", cause=None)
    assert_type(lost.cause, BaseException | None)
    assert_type(lost.unfinished, tuple[UnfinishedHandler, ...])
    assert issubclass(ConnectFailed, Exception)
    assert_type(HandlerFailed.__mro__, tuple[type, ...])

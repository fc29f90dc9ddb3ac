"""Connecting: CONNECT headers, failover with delays and budgets, timeouts, ERROR, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionRefusedError

from stomp_failover import UriError
from stomp_frame import Version
from stomp_twisted import (
    BrokerError,
    Client,
    ClientError,
    ClientState,
    ConnectFailed,
    DisconnectResult,
    NotConnected,
    WaitTimeout,
)
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]


def test_connect_negotiates_the_newest_version_and_sends_the_settings(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(
        login="alice",
        passcode="s3cret",
        heart_beat=(4000, 5000),
        connect_headers={"client-id": "c1"},
    )
    connected = reactor.run_until(client.connect())
    assert connected.version is Version.V1_2
    assert client.version is Version.V1_2
    assert client.state is ClientState.CONNECTED
    assert client.connected is connected
    assert str(client.broker) == "tcp://mq:61613"
    (frame,) = broker.frames("CONNECT")
    assert frame.get("accept-version") == "1.0,1.1,1.2"
    assert frame.get("host") == "mq"  # the broker's host name when no vhost is given
    assert frame.get("login") == "alice"
    assert frame.get("passcode") == "s3cret"
    assert frame.get("heart-beat") == "4000,5000"
    assert frame.get("client-id") == "c1"
    # The simulated broker echoes the client's wishes, as ActiveMQ does.
    assert connected.heart_beat == (4000, 5000)


def test_vhost_is_the_host_header_and_a_brokers_vhost_option_overrides_it(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(vhost="/")
    reactor.run_until(client.connect())
    assert broker.frames("CONNECT")[-1].get("host") == "/"
    other = new_client("tcp://mq:61613?vhost=prod", vhost="/")
    reactor.run_until(other.connect())
    assert broker.frames("CONNECT")[-1].get("host") == "prod"


def test_credentials_in_the_uri_win_over_the_clients(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("tcp://bob:pw@mq:61613", login="alice", passcode="x")
    reactor.run_until(client.connect())
    frame = broker.frames("CONNECT")[-1]
    assert (frame.get("login"), frame.get("passcode")) == ("bob", "pw")


@pytest.mark.parametrize(
    ("offered", "expected"),
    [(["1.0"], Version.V1_0), (["1.0", "1.1"], Version.V1_1), ([Version.V1_2], Version.V1_2)],
)
def test_offered_versions(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    new_client: Maker,
    offered: list[str | Version],
    expected: Version,
) -> None:
    client = new_client(versions=offered)
    assert reactor.run_until(client.connect()).version is expected


def test_settings_are_checked_when_the_client_is_made(new_client: Maker) -> None:
    with pytest.raises(ValueError, match=r"unknown STOMP version '2\.0'"):
        new_client(versions=["2.0"])
    with pytest.raises(ValueError, match="at least one STOMP version"):
        new_client(versions=[])
    with pytest.raises(ValueError, match="connect_timeout must be a positive number"):
        new_client(connect_timeout=0)
    with pytest.raises(ValueError, match="receipt_timeout"):
        new_client(receipt_timeout=float("nan"))
    with pytest.raises(UriError):
        new_client("tcp://mq")
    with pytest.raises(ValueError, match="heart_beat must be"):
        new_client(heart_beat=(-1, 0))


def test_a_silent_tcp_connect_times_out_after_connect_timeout(
    reactor: SimulatedReactor, new_client: Maker
) -> None:
    reactor.blackhole("void", 61613)
    client = new_client(
        "tcp://void:61613?startupMaxReconnectAttempts=0", connect_timeout=3, connected_timeout=30
    )
    with pytest.raises(ConnectFailed) as caught:
        reactor.run_until(client.connect())
    assert reactor.seconds() == 3.0
    cause = caught.value.cause
    assert isinstance(cause, WaitTimeout)
    assert isinstance(cause, TimeoutError)
    assert str(cause) == "no connection to tcp://void:61613 within 3 s"
    assert cause.awaited == "connection to tcp://void:61613"
    assert cause.timeout == 3.0
    assert caught.value.attempts == 1
    assert client.state is ClientState.CLOSED


def test_a_broker_that_never_answers_connect_times_out_after_connected_timeout(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    broker.faults.never_answer()
    client = new_client(
        "tcp://mq:61613?startupMaxReconnectAttempts=0", connect_timeout=30, connected_timeout=5
    )
    failure = client.disconnected
    with pytest.raises(ConnectFailed) as caught:
        reactor.run_until(client.connect())
    assert reactor.seconds() == 5.0
    assert str(caught.value.cause) == "no CONNECTED from tcp://mq:61613 within 5 s"
    assert len(broker.frames("CONNECT")) == 1
    reactor.flush()
    assert broker.connections == ()  # the client hung up
    with pytest.raises(ConnectFailed):
        reactor.run_until(failure)


def test_error_on_connect_fails_with_the_frame_and_is_not_retried(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    broker.faults.error_on_connect("Bad CONNECT")
    client = new_client()  # the policy would retry forever
    with pytest.raises(BrokerError) as caught:
        reactor.run_until(client.connect())
    error = caught.value
    assert error.frame.command == "ERROR"
    assert error.error.message == "Bad CONNECT"
    assert str(error) == "the broker sent ERROR: Bad CONNECT"
    assert len(broker.frames("CONNECT")) == 1
    with pytest.raises(BrokerError) as ended:
        reactor.run_until(client.disconnected)
    assert ended.value is error


def test_a_refused_broker_fails_over_to_the_next(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client("failover:(tcp://down:61613,tcp://mq:61613)?randomize=false")
    reactor.run_until(client.connect())
    assert str(client.broker) == "tcp://mq:61613"
    assert reactor.seconds() == 0.0  # the second broker of a pass is tried at once


def test_failover_honours_delays_and_the_startup_budget(
    reactor: SimulatedReactor, new_client: Maker, caplog: pytest.LogCaptureFixture
) -> None:
    client = new_client(
        "failover:(tcp://a:1,tcp://b:2)?randomize=false&initialReconnectDelay=100"
        "&startupMaxReconnectAttempts=2"
    )
    with (
        caplog.at_level(logging.INFO, logger="stomp_twisted"),
        pytest.raises(ConnectFailed) as caught,
    ):
        reactor.run_until(client.connect())
    # Three passes of two brokers; the 2nd pass waits 100 ms, the 3rd 200 ms.
    assert caught.value.attempts == 6
    assert [str(b) for b in caught.value.brokers] == ["tcp://a:1", "tcp://b:2"]
    assert isinstance(caught.value.cause, ConnectionRefusedError)
    assert isinstance(caught.value.__cause__, Exception)
    assert reactor.seconds() == pytest.approx(0.3)
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting")]
    assert [w.split(" s ")[0] for w in waits] == ["waiting 0.100", "waiting 0.200"]


def test_connect_is_called_once(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    with pytest.raises(ClientError, match="already called"):
        reactor.run_until(client.connect())


def test_disconnect_before_connect_ends_the_client(
    reactor: SimulatedReactor, new_client: Maker
) -> None:
    client = new_client()
    result = reactor.run_until(client.disconnect())
    assert result == DisconnectResult(receipt=False)
    assert reactor.run_until(client.disconnected) == result
    assert reactor.run_until(client.disconnect()) == result
    with pytest.raises(ClientError, match="already called"):
        reactor.run_until(client.connect())
    with pytest.raises(NotConnected):
        reactor.run_until(client.send("/queue/a", b"x"))


def test_requests_before_connect_are_refused(reactor: SimulatedReactor, new_client: Maker) -> None:
    client = new_client()
    with pytest.raises(NotConnected, match="call connect"):
        reactor.run_until(client.send("/queue/a"))


def test_disconnect_while_connecting_stops_the_attempts(
    reactor: SimulatedReactor, new_client: Maker
) -> None:
    client = new_client("failover:(tcp://a:1)?initialReconnectDelay=1000")
    connecting = client.connect()
    reactor.advance(0.5)  # refused once, now waiting 1 s before the next pass
    assert client.state is ClientState.CONNECTING
    result = reactor.run_until(client.disconnect())
    assert result.receipt is False
    with pytest.raises(CancelledError):
        reactor.run_until(connecting)
    assert reactor.run_until(client.disconnected) == result
    reactor.advance(10)
    assert len(reactor.tcpClients) == 1  # no attempt after the disconnect


def test_cancelling_connect_ends_the_client_cleanly(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    broker.faults.never_answer()
    client = new_client()
    connecting = client.connect()
    reactor.advance(1)
    connecting.cancel()
    with pytest.raises(CancelledError):
        reactor.run_until(connecting)
    assert reactor.run_until(client.disconnected).receipt is False
    reactor.flush()
    assert broker.connections == ()


def test_a_connection_lost_before_connected_is_a_failed_attempt(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    broker.faults.drop_on("CONNECT")
    client = new_client("tcp://mq:61613?initialReconnectDelay=50")
    connected = reactor.run_until(client.connect())
    assert connected.version is Version.V1_2
    assert len(broker.frames("CONNECT")) == 2
    assert reactor.seconds() == pytest.approx(0.05)


def test_the_passcode_never_shows(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    new_client: Maker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker.users = {"alice": "right"}
    secret = "Wr0ng-Pa55"
    with caplog.at_level(logging.DEBUG):
        client = new_client("tcp://alice:Uri-Pa55@mq:61613", passcode=secret)
        with pytest.raises(BrokerError) as caught:
            reactor.run_until(client.connect())
        other = new_client(login="alice", passcode=secret)
        with pytest.raises(BrokerError):
            reactor.run_until(other.connect())
    text = "\n".join(
        [caplog.text, repr(client), repr(other), str(caught.value), repr(caught.value)]
    )
    assert "Bad credentials" in text
    assert secret not in text
    assert "Uri-Pa55" not in text

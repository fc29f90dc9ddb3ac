"""Per-subscription handlers: concurrency limit, flow control, acks, and failure handling."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from twisted.internet.defer import CancelledError, Deferred, succeed

from stomp_session import MessageReceived
from stomp_twisted import (
    ERROR_HEADER,
    FORWARD_EXCLUDED_HEADERS,
    Client,
    ClientState,
    ConnectionLost,
    ErrorAction,
    HandlerFailed,
)
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]
NO_PREFETCH = {"prefetch-count": "0"}  # the simulated broker then sends all it has


class Gated:
    """An async handler that waits for the test to release each message."""

    def __init__(self) -> None:
        self.waiting: list[tuple[MessageReceived, Deferred[None]]] = []
        self.running = 0
        self.peak = 0
        self.done: list[bytes] = []
        self.cancelled: list[bytes] = []

    async def __call__(self, message: MessageReceived) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        gate: Deferred[None] = Deferred()
        self.waiting.append((message, gate))
        try:
            await gate
        except CancelledError:
            self.cancelled.append(message.body)
            raise
        finally:
            self.running -= 1
        self.done.append(message.body)

    def release(self, body: bytes, error: Exception | None = None) -> None:
        for index, (message, gate) in enumerate(self.waiting):
            if message.body == body:
                del self.waiting[index]
                if error is None:
                    gate.callback(None)
                else:
                    gate.errback(error)
                return
        msg = f"{body!r} is not waiting"
        raise AssertionError(msg)


def acked(broker: SimulatedBroker) -> list[str]:
    return [frame.get("id", frame.get("message-id", "")) for frame in broker.frames("ACK")]


def test_handlers_run_concurrently_up_to_the_limit(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    gated = Gated()
    sub = reactor.run_until(
        client.subscribe("/queue/a", gated, max_in_flight=3, headers=NO_PREFETCH)
    )
    for n in range(8):
        broker.publish("/queue/a", str(n).encode())
    reactor.flush()
    assert gated.running == 3
    assert (sub.in_flight, sub.queued) == (3, 5)
    gated.release(b"1")  # out of order: client-individual acks need no order
    reactor.flush()
    assert gated.running == 3
    assert len(broker.frames("ACK")) == 1
    while gated.waiting:
        gated.release(gated.waiting[-1][0].body)
        reactor.flush()
    assert gated.peak == 3
    assert sorted(gated.done) == [str(n).encode() for n in range(8)]
    assert len(broker.frames("ACK")) == 8
    assert broker.unacknowledged() == ()
    assert (sub.in_flight, sub.queued) == (0, 0)


def test_handlers_of_different_subscriptions_do_not_wait_for_each_other(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    slow = Gated()
    fast: list[bytes] = []
    reactor.run_until(client.subscribe("/queue/slow", slow, max_in_flight=1))
    reactor.run_until(client.subscribe("/queue/fast", lambda m: fast.append(m.body)))
    broker.publish("/queue/slow", b"s")
    for n in range(5):
        broker.publish("/queue/fast", str(n).encode())
    reactor.flush()
    assert slow.running == 1
    assert len(fast) == 5


def test_the_brokers_prefetch_bounds_what_it_sends(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    gated = Gated()
    sub = reactor.run_until(client.subscribe("/queue/a", gated, max_in_flight=2))
    for n in range(6):
        broker.publish("/queue/a", str(n).encode())
    reactor.flush()
    assert len(broker.unacknowledged()) == 2
    assert len(broker.queued("/queue/a")) == 4
    assert sub.queued == 0
    gated.release(b"0")
    reactor.flush()
    assert len(broker.unacknowledged()) == 2
    assert len(broker.queued("/queue/a")) == 3


def test_a_full_queue_stops_reading_until_it_drains(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gated = Gated()
    sub = reactor.run_until(client.subscribe("/queue/a", gated, ack="auto", max_in_flight=2))
    with caplog.at_level(logging.INFO, logger="stomp_twisted"):
        for n in range(6):
            broker.publish("/queue/a", str(n).encode())
        reactor.flush()
        assert (sub.in_flight, sub.queued) == (2, 4)  # one read's worth over the limit
        assert "reading from tcp://mq:61613 paused" in caplog.text
        # While paused, nothing more is read: what the broker sends waits in the socket.
        broker.publish("/queue/a", b"6")
        reactor.flush()
        assert sub.queued == 4
        gated.release(b"0")
        gated.release(b"1")
        reactor.flush()
        assert (sub.in_flight, sub.queued) == (2, 2)
        assert "resumed" not in caplog.text
        gated.release(b"2")
        reactor.flush()  # down to half the limit: reading resumes, and "6" comes in
        assert "reading from tcp://mq:61613 resumed" in caplog.text
        assert (sub.in_flight, sub.queued) == (2, 2)
        assert [m.body for m, _ in gated.waiting] == [b"3", b"4"]
        while gated.waiting:
            gated.release(gated.waiting[0][0].body)
            reactor.flush()
    assert gated.done == [str(n).encode() for n in range(7)]
    assert gated.peak == 2


def test_heart_beats_go_on_and_the_broker_is_not_judged_while_reading_is_paused(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(heart_beat=(1000, 1000), auto_reconnect=False)
    reactor.run_until(client.connect())
    gated = Gated()
    sub = reactor.run_until(client.subscribe("/queue/a", gated, ack="auto", max_in_flight=1))
    for n in range(4):
        broker.publish("/queue/a", str(n).encode())
    reactor.flush()
    assert sub.queued == 3  # paused
    reactor.advance(60.0)  # the broker's beats wait unread; ours go out
    assert client.state is ClientState.CONNECTED
    (_connection,) = broker.connections  # the broker did not drop a silent client
    while gated.waiting:
        gated.release(gated.waiting[0][0].body)
        reactor.flush()
    reactor.advance(10.0)
    assert client.state is ClientState.CONNECTED
    broker.faults.stop_heart_beating()
    with pytest.raises(ConnectionLost) as caught:
        reactor.run_until(client.disconnected)
    assert "tcp://mq:61613 was silent for 2.5 s" in str(caught.value)


def test_a_silent_broker_is_still_found_after_reading_resumes(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(heart_beat=(1000, 1000), auto_reconnect=False)
    reactor.run_until(client.connect())
    gated = Gated()
    reactor.run_until(client.subscribe("/queue/a", gated, ack="auto", max_in_flight=1))
    for n in range(4):
        broker.publish("/queue/a", str(n).encode())
    reactor.flush()
    broker.faults.stop_heart_beating()
    reactor.advance(30.0)
    assert client.state is ClientState.CONNECTED
    while gated.waiting:
        gated.release(gated.waiting[0][0].body)
        reactor.flush()
    resumed_at = reactor.seconds()  # nothing was waiting in the socket: the broker is silent
    with pytest.raises(ConnectionLost):
        reactor.run_until(client.disconnected)
    # A full allowance of silence from the moment reading resumed, not from the last beat.
    assert reactor.seconds() == pytest.approx(resumed_at + 2.5)


def test_a_sync_handler_that_raises_is_nacked_without_error_destination(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    attempts: list[bool] = []

    def handler(message: MessageReceived) -> None:
        attempts.append(message.message.redelivered)
        if not message.message.redelivered:
            raise ValueError("not yet")

    reactor.run_until(client.subscribe("/queue/a", handler))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    assert attempts == [False, True]  # NACKed, redelivered, then acked
    assert len(broker.frames("NACK")) == 1
    assert len(broker.frames("ACK")) == 1
    assert broker.unacknowledged() == ()


def test_a_failed_message_is_forwarded_to_the_error_destination_then_acked(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    async def handler(message: MessageReceived) -> None:
        await succeed(None)
        raise ValueError("bad\npayload")

    reactor.run_until(client.subscribe("/queue/a", handler, error_destination="/queue/errors"))
    broker.publish(
        "/queue/a",
        b"body\0with nul",
        {"custom": "1", "priority": "9", "expires": "0", "timestamp": "5", "persistent": "false"},
    )
    reactor.flush()
    (copy,) = broker.frames("SEND")
    sent_headers = dict(copy.headers)
    for name in FORWARD_EXCLUDED_HEADERS - {
        "content-length",
        "receipt",
        "persistent",
        ERROR_HEADER,
    }:
        assert name not in sent_headers or name == "destination"
    assert copy.get("destination") == "/queue/errors"
    assert copy.get("custom") == "1"
    assert copy.get("persistent") == "true"
    assert copy.get(ERROR_HEADER) == "ValueError: bad payload"
    assert copy.get("content-length") == str(len(b"body\0with nul"))
    assert copy.get("receipt") is not None  # acked only once the copy is stored
    assert copy.body == b"body\0with nul"
    (stored,) = broker.queued("/queue/errors")
    assert stored.get(ERROR_HEADER) == "ValueError: bad payload"
    assert len(broker.frames("ACK")) == 1
    assert broker.frames("NACK") == []
    assert broker.queued("/queue/a") == ()
    assert broker.unacknowledged() == ()
    sent = [f.command for f in broker.received]
    assert sent.index("SEND") < sent.index("ACK")


def test_a_copy_that_cannot_be_forwarded_falls_back_to_nack(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker.faults.error_on_send("Access refused", destination="/queue/errors")
    failures: list[bytes] = []

    def handler(message: MessageReceived) -> None:
        failures.append(message.body)
        if len(failures) == 1:
            raise ValueError("boom")

    reactor.run_until(client.subscribe("/queue/a", handler, error_destination="/queue/errors"))
    broker.publish("/queue/a", b"x")
    with caplog.at_level(logging.ERROR, logger="stomp_twisted"):
        reactor.flush()
    assert "could not forward message" in caplog.text
    assert len(broker.frames("NACK")) == 1
    assert failures == [b"x", b"x"]
    assert client.state is ClientState.CONNECTED


def test_stomp_1_0_without_error_destination_disconnects_gracefully_poison_pill(
    reactor: SimulatedReactor, broker: SimulatedBroker, new_client: Maker
) -> None:
    client = new_client(versions=["1.0"])
    reactor.run_until(client.connect())
    ended = client.disconnected
    gated = Gated()
    reactor.run_until(client.subscribe("/queue/a", gated, headers=NO_PREFETCH))
    broker.publish("/queue/a", b"poison")
    broker.publish("/queue/a", b"fine")
    reactor.flush()
    gated.release(b"fine")  # done first, but its (cumulative) ack must wait for "poison"
    reactor.flush()
    assert broker.frames("ACK") == []
    gated.release(b"poison", ValueError("cannot parse"))
    with pytest.raises(HandlerFailed) as caught:
        reactor.run_until(ended)
    failed = caught.value
    assert failed.message.body == b"poison"
    assert isinstance(failed.cause, ValueError)
    assert failed.subscription == client_subscription_id(broker)
    assert broker.frames("ACK") == []
    assert broker.frames("NACK") == []
    (disconnect,) = broker.frames("DISCONNECT")
    assert disconnect.get("receipt") is not None
    # The broker delivers both again.
    assert [(f.body, f.get("redelivered")) for f in broker.queued("/queue/a")] == [
        (b"poison", "true"),
        (b"fine", "true"),
    ]


def client_subscription_id(broker: SimulatedBroker) -> str:
    return broker.frames("SUBSCRIBE")[0].get("id", "")


def test_client_mode_acks_go_out_in_delivery_order(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    gated = Gated()
    reactor.run_until(client.subscribe("/queue/a", gated, ack="client", headers=NO_PREFETCH))
    for body in (b"1", b"2", b"3"):
        broker.publish("/queue/a", body)
    reactor.flush()
    gated.release(b"3")
    gated.release(b"2")
    reactor.flush()
    assert broker.frames("ACK") == []
    gated.release(b"1")
    reactor.flush()
    ids = [f.get("id") for f in broker.frames("ACK")]
    assert len(ids) == 3
    assert broker.unacknowledged() == ()


@pytest.mark.parametrize(
    ("action", "acks", "nacks"),
    [(ErrorAction.ACK, 1, 0), (ErrorAction.NACK, 0, 1), (ErrorAction.FORWARD, 0, 1)],
)
def test_an_on_error_hook_decides(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    *,
    action: ErrorAction,
    acks: int,
    nacks: int,
) -> None:
    decided: list[tuple[bytes, str]] = []

    def hook(message: MessageReceived, error: BaseException) -> ErrorAction:
        decided.append((message.body, str(error)))
        return action

    def handler(message: MessageReceived) -> None:
        if not message.message.redelivered:
            raise RuntimeError("no")

    reactor.run_until(client.subscribe("/queue/a", handler, on_error=hook))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    assert decided == [(b"x", "no")]
    assert len(broker.frames("NACK")) == nacks  # FORWARD without a destination: NACK
    assert len(broker.frames("ACK")) == acks + nacks  # the redelivery is acked


def test_an_async_on_error_hook_may_ask_for_the_poison_pill(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    async def hook(message: MessageReceived, error: BaseException) -> ErrorAction:
        await succeed(None)
        return ErrorAction.DISCONNECT

    def handler(message: MessageReceived) -> None:
        raise RuntimeError("fatal")

    reactor.run_until(client.subscribe("/queue/a", handler, on_error=hook))
    broker.publish("/queue/a", b"x")
    with pytest.raises(HandlerFailed, match="fatal"):
        reactor.run_until(client.disconnected)
    assert broker.frames("NACK") == []
    assert broker.frames("ACK") == []


@pytest.mark.parametrize("broken", ["raises", "returns junk"])
def test_a_broken_hook_falls_back_to_the_default(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
    broken: str,
) -> None:
    def hook(message: MessageReceived, error: BaseException) -> ErrorAction:
        if broken == "raises":
            raise LookupError("hook bug")
        return "nack"  # type: ignore[return-value]

    def handler(message: MessageReceived) -> None:
        if not message.message.redelivered:
            raise RuntimeError("no")

    reactor.run_until(
        client.subscribe("/queue/a", handler, on_error=hook, error_destination="/queue/err")
    )
    broker.publish("/queue/a", b"x")
    with caplog.at_level(logging.ERROR, logger="stomp_twisted"):
        reactor.flush()
    assert "taking the default action" in caplog.text
    assert len(broker.queued("/queue/err")) == 1  # the default: forward


def test_a_failure_on_an_auto_subscription_is_logged_or_forwarded(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(message: MessageReceived) -> None:
        raise RuntimeError("lost cause")

    reactor.run_until(client.subscribe("/queue/a", handler, ack="auto"))
    reactor.run_until(
        client.subscribe("/queue/b", handler, ack="auto", error_destination="/queue/err")
    )
    broker.publish("/queue/a", b"x")
    broker.publish("/queue/b", b"y")
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        reactor.flush()
    assert "failed on message" in caplog.text
    assert [f.body for f in broker.queued("/queue/err")] == [b"y"]
    assert broker.frames("ACK") == []
    assert broker.frames("NACK") == []
    assert client.state is ClientState.CONNECTED


def test_a_handler_returning_a_deferred_is_awaited(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    gates: list[Deferred[None]] = []

    def handler(message: MessageReceived) -> Deferred[None]:
        gate: Deferred[None] = Deferred()
        gates.append(gate)
        return gate

    reactor.run_until(client.subscribe("/queue/a", handler))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    assert broker.frames("ACK") == []
    gates[0].callback(None)
    reactor.flush()
    assert len(broker.frames("ACK")) == 1


def test_a_handler_that_settles_then_raises_is_not_settled_again(
    reactor: SimulatedReactor,
    broker: SimulatedBroker,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(message: MessageReceived) -> None:
        client.ack(message)
        raise RuntimeError("after the ack")

    reactor.run_until(client.subscribe("/queue/a", handler))
    broker.publish("/queue/a", b"x")
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        reactor.flush()
    assert "raised after settling" in caplog.text
    assert len(broker.frames("ACK")) == 1
    assert broker.frames("NACK") == []


def test_an_awaitable_that_is_not_a_coroutine_is_awaited(
    reactor: SimulatedReactor, broker: SimulatedBroker, client: Client
) -> None:
    class Ready:
        def __await__(self):  # type: ignore[no-untyped-def]
            return succeed(None).__await__()

    reactor.run_until(client.subscribe("/queue/a", lambda message: Ready()))
    broker.publish("/queue/a", b"x")
    reactor.flush()
    assert len(broker.frames("ACK")) == 1

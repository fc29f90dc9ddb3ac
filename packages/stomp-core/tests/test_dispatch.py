"""Handlers per subscription as data: concurrency, settling, errors, pausing, a graceful end."""

from __future__ import annotations

import logging

import pytest

from stomp_commands import AckMode, read_message
from stomp_core import (
    DEFAULT_MAX_IN_FLIGHT,
    ERROR_HEADER,
    Delivery,
    DispatchEffect,
    Dispatcher,
    ErrorAction,
    HandlerFailed,
    HandlerPoisoned,
    InvalidRequest,
    PauseReading,
    ResumeReading,
    RunHandler,
    SettleMessage,
    default_ack,
    describe_failure,
    forward_copy,
    prefetch_headers,
)
from stomp_frame import Frame, Version
from stomp_session import Connected, MessageReceived, Subscription

_counter = iter(range(1, 1_000_000))


def message(
    sub: str = "sub-1",
    ack: AckMode = "client-individual",
    *,
    body: bytes = b"x",
    headers: tuple[tuple[str, str], ...] = (),
    generation: int = 1,
) -> MessageReceived:
    n = next(_counter)
    frame = Frame(
        "MESSAGE",
        (
            ("destination", "/queue/a"),
            ("message-id", f"m-{n}"),
            ("subscription", sub),
            ("ack", f"a-{n}"),
            *headers,
        ),
        body,
    )
    record = Subscription(
        id=sub, destination="/queue/a", ack=ack, frame=Frame("SUBSCRIBE", (), b"")
    )
    return MessageReceived(
        message=read_message(frame, Version.V1_2), subscription=record, generation=generation
    )


def drain(dispatcher: Dispatcher) -> list[DispatchEffect]:
    return list(dispatcher.effects())


def started(effects: list[DispatchEffect]) -> list[Delivery]:
    return [effect.delivery for effect in effects if isinstance(effect, RunHandler)]


def settled(effects: list[DispatchEffect]) -> list[tuple[str, str]]:
    return [
        (effect.command, effect.message.message_id)
        for effect in effects
        if isinstance(effect, SettleMessage)
    ]


def is_paused(dispatcher: Dispatcher) -> bool:
    return dispatcher.paused


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher(logging.getLogger("stomp_core.tests"))


def add(
    dispatcher: Dispatcher,
    ack: AckMode = "client-individual",
    *,
    limit: int = 2,
    error_destination: str | None = None,
    sub: str = "sub-1",
) -> None:
    dispatcher.add(
        id=sub,
        destination="/queue/a",
        ack=ack,
        max_in_flight=limit,
        error_destination=error_destination,
    )


# -- concurrency and the queue -------------------------------------------------------------------


def test_handlers_start_up_to_the_limit_and_the_rest_wait_in_order(
    dispatcher: Dispatcher,
) -> None:
    add(dispatcher, limit=2)
    messages = [message() for _ in range(4)]
    for m in messages:
        assert dispatcher.deliver(m, now=0.0)
    runs = started(drain(dispatcher))
    assert [d.message for d in runs] == messages[:2]
    state = dispatcher.get("sub-1")
    assert state is not None
    assert (state.in_flight, state.queued, dispatcher.busy) == (2, 2, 2)
    dispatcher.succeeded(runs[0], now=1.0)
    effects = drain(dispatcher)
    assert settled(effects) == [("ack", messages[0].message_id)]
    assert [d.message for d in started(effects)] == [messages[2]]
    assert (state.in_flight, state.queued) == (2, 1)


def test_a_message_without_an_active_handler_subscription_is_not_taken(
    dispatcher: Dispatcher,
) -> None:
    assert not dispatcher.deliver(message("other"), now=0.0)
    add(dispatcher)
    state = dispatcher.get("sub-1")
    assert state is not None
    dispatcher.stop(state)
    assert not state.active
    assert not dispatcher.deliver(message(), now=0.0)
    assert drain(dispatcher) == []


def test_max_in_flight_below_one_and_a_taken_id_are_refused(dispatcher: Dispatcher) -> None:
    with pytest.raises(InvalidRequest, match="max_in_flight must be an int >= 1, got 0"):
        add(dispatcher, limit=0)
    add(dispatcher)
    with pytest.raises(InvalidRequest, match="already has a handler"):
        add(dispatcher)
    assert DEFAULT_MAX_IN_FLIGHT == 16


def test_reading_pauses_past_the_limit_queued_and_resumes_at_half(
    dispatcher: Dispatcher,
) -> None:
    add(dispatcher, limit=2)
    for _ in range(4):  # 2 run, 2 queued: not more than the limit queued yet
        dispatcher.deliver(message(), now=0.0)
    runs = started(drain(dispatcher))
    assert not is_paused(dispatcher)
    dispatcher.deliver(message(), now=0.0)
    assert drain(dispatcher) == [PauseReading()]
    assert is_paused(dispatcher)
    dispatcher.succeeded(runs[0], now=1.0)  # one starts, 2 queued: more than half
    effects = drain(dispatcher)
    assert ResumeReading() not in effects
    dispatcher.succeeded(runs[1], now=1.0)  # one more starts, 1 queued: half
    effects = drain(dispatcher)
    assert effects[-1] == ResumeReading()
    assert not is_paused(dispatcher)


def test_reading_resumes_only_once_no_subscription_is_full(dispatcher: Dispatcher) -> None:
    add(dispatcher, limit=1, sub="a")
    add(dispatcher, limit=1, sub="b")
    for sub in ("a", "a", "a", "b", "b", "b"):
        dispatcher.deliver(message(sub), now=0.0)
    effects = drain(dispatcher)
    assert effects.count(PauseReading()) == 1
    state_a = dispatcher.get("a")
    assert state_a is not None
    assert dispatcher.stop(state_a) == 2
    assert drain(dispatcher) == []
    assert is_paused(dispatcher)
    assert dispatcher.remove("b") == 2
    assert drain(dispatcher) == [ResumeReading()]


def test_stale_queued_messages_are_purged_and_the_rest_start(dispatcher: Dispatcher) -> None:
    add(dispatcher, limit=1)
    first, old, new = message(), message(generation=1), message(generation=2)
    for m in (first, old, new):
        dispatcher.deliver(m, now=0.0)
    (run,) = started(drain(dispatcher))
    assert dispatcher.purge(lambda m: m.generation == 1, now=0.0) == 1
    dispatcher.succeeded(run, now=0.0)
    assert [d.message for d in started(drain(dispatcher))] == [new]


# -- success --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ack", "manual", "written"),
    [
        ("client-individual", False, ["ack"]),
        ("client", False, ["ack"]),
        ("auto", False, []),
        ("client-individual", True, []),
    ],
)
def test_a_success_acknowledges_unless_auto_or_settled_by_the_handler(
    dispatcher: Dispatcher, ack: AckMode, manual: bool, written: list[str]
) -> None:
    add(dispatcher, ack)
    m = message(ack=ack)
    dispatcher.deliver(m, now=0.0)
    (run,) = started(drain(dispatcher))
    if manual:
        dispatcher.manual(m)
    dispatcher.succeeded(run, now=0.0)
    assert [command for command, _ in settled(drain(dispatcher))] == written
    assert dispatcher.busy == 0


def test_client_mode_acknowledges_in_delivery_order(dispatcher: Dispatcher) -> None:
    add(dispatcher, "client", limit=3)
    messages = [message(ack="client") for _ in range(3)]
    for m in messages:
        dispatcher.deliver(m, now=0.0)
    runs = started(drain(dispatcher))
    dispatcher.succeeded(runs[2], now=0.0)
    dispatcher.succeeded(runs[1], now=0.0)
    assert settled(drain(dispatcher)) == []
    dispatcher.succeeded(runs[0], now=0.0)
    assert settled(drain(dispatcher)) == [("ack", m.message_id) for m in messages]


def test_client_mode_never_acknowledges_past_a_message_left_unacknowledged(
    dispatcher: Dispatcher,
) -> None:
    add(dispatcher, "client", limit=2)
    first, second = message(ack="client"), message(ack="client")
    dispatcher.deliver(first, now=0.0)
    dispatcher.deliver(second, now=0.0)
    runs = started(drain(dispatcher))
    assert dispatcher.failed(runs[0], RuntimeError("boom"), now=0.0)
    dispatcher.conclude(runs[0], ErrorAction.DISCONNECT, RuntimeError("boom"), None, now=0.0)
    dispatcher.succeeded(runs[1], now=0.0)
    assert settled(drain(dispatcher)) == []


# -- failure --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ack", "version", "error_destination", "expected"),
    [
        ("client-individual", Version.V1_2, "/queue/failed", ErrorAction.FORWARD),
        ("client-individual", Version.V1_2, None, ErrorAction.NACK),
        ("client-individual", Version.V1_1, None, ErrorAction.NACK),
        ("client", Version.V1_0, None, ErrorAction.DISCONNECT),
        ("client", Version.V1_0, "/queue/failed", ErrorAction.FORWARD),
        ("auto", Version.V1_0, None, ErrorAction.ACK),
        ("auto", Version.V1_2, "/queue/failed", ErrorAction.FORWARD),
    ],
)
def test_the_default_action_on_failure(
    dispatcher: Dispatcher,
    ack: AckMode,
    version: Version,
    error_destination: str | None,
    expected: ErrorAction,
) -> None:
    add(dispatcher, ack, error_destination=error_destination)
    state = dispatcher.get("sub-1")
    assert state is not None
    assert state.default_action(version) is expected


@pytest.mark.parametrize(
    ("ack", "action", "written"),
    [
        ("client-individual", ErrorAction.FORWARD, ["ack"]),
        ("client-individual", ErrorAction.ACK, ["ack"]),
        ("client-individual", ErrorAction.NACK, ["nack"]),
        ("auto", ErrorAction.NACK, []),
        ("auto", ErrorAction.FORWARD, []),
    ],
)
def test_a_failure_is_settled_by_its_action(
    dispatcher: Dispatcher, ack: AckMode, action: ErrorAction, written: list[str]
) -> None:
    add(dispatcher, ack, error_destination="/queue/failed")
    dispatcher.deliver(message(ack=ack), now=0.0)
    (run,) = started(drain(dispatcher))
    error = ValueError("bad input")
    assert dispatcher.failed(run, error, now=0.0)
    assert dispatcher.busy == 1  # the handling of the failure runs on
    dispatcher.conclude(run, action, error, Version.V1_2, now=0.0)
    assert [command for command, _ in settled(drain(dispatcher))] == written
    assert dispatcher.busy == 0


def test_nack_on_stomp_1_0_is_the_poison_pill(dispatcher: Dispatcher) -> None:
    add(dispatcher, "client")
    m = message(ack="client")
    dispatcher.deliver(m, now=0.0)
    (run,) = started(drain(dispatcher))
    error = RuntimeError("the database is down")
    assert dispatcher.failed(run, error, now=0.0)
    action = dispatcher.resolve(run, ErrorAction.NACK, Version.V1_0)
    assert action is ErrorAction.DISCONNECT
    dispatcher.conclude(run, action, error, Version.V1_0, now=0.0)
    (effect,) = drain(dispatcher)
    assert isinstance(effect, HandlerPoisoned)
    failure = effect.failure
    assert isinstance(failure, HandlerFailed)
    assert (failure.message, failure.subscription, failure.cause) == (m, "sub-1", error)
    assert dispatcher.busy == 0


def test_forward_without_error_destination_takes_the_fallback(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    add(dispatcher)
    dispatcher.deliver(message(), now=0.0)
    (run,) = started(drain(dispatcher))
    assert dispatcher.resolve(run, ErrorAction.FORWARD, Version.V1_2) is ErrorAction.NACK
    assert "has no error destination" in caplog.text


def test_a_copy_that_cannot_be_stored_takes_the_fallback(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    add(dispatcher, error_destination="/queue/failed")
    dispatcher.deliver(message(), now=0.0)
    (run,) = started(drain(dispatcher))
    action = dispatcher.forward_failed(run, TimeoutError("no receipt"), Version.V1_2)
    assert action is ErrorAction.NACK
    assert "could not forward message" in caplog.text
    run_1_0 = run
    assert dispatcher.forward_failed(run_1_0, OSError(), Version.V1_0) is ErrorAction.DISCONNECT


def test_a_hook_that_returns_no_error_action_gets_the_default(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    add(dispatcher, error_destination="/queue/failed")
    state = dispatcher.get("sub-1")
    assert state is not None
    assert dispatcher.chosen(state, ErrorAction.ACK, Version.V1_2) is ErrorAction.ACK
    assert dispatcher.chosen(state, "ack", Version.V1_2) is ErrorAction.FORWARD
    assert "not an ErrorAction" in caplog.text
    try:
        raise KeyError("hook")
    except KeyError:
        assert dispatcher.hook_failed(state, Version.V1_2) is ErrorAction.FORWARD
    assert "hook of subscription 'sub-1' raised" in caplog.text


def test_a_handler_that_settled_itself_and_then_raised_is_only_logged(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    add(dispatcher)
    m = message()
    dispatcher.deliver(m, now=0.0)
    (run,) = started(drain(dispatcher))
    dispatcher.manual(m)
    assert not dispatcher.failed(run, RuntimeError("late"), now=0.0)
    assert settled(drain(dispatcher)) == []
    assert "raised after settling message" in caplog.text
    assert dispatcher.busy == 0


def test_a_failed_recovery_leaves_the_message_unacknowledged(dispatcher: Dispatcher) -> None:
    add(dispatcher)
    dispatcher.deliver(message(), now=0.0)
    (run,) = started(drain(dispatcher))
    assert dispatcher.failed(run, RuntimeError("x"), now=0.0)
    dispatcher.recovery_failed(run, RuntimeError("y"), now=0.0)
    assert settled(drain(dispatcher)) == []
    assert dispatcher.busy == 0


# -- a graceful end -------------------------------------------------------------------------------


def test_a_graceful_end_reports_the_unfinished_handlers_and_settles_nothing_for_them(
    dispatcher: Dispatcher,
) -> None:
    add(dispatcher, limit=2)
    done, stuck, waiting = message(), message(), message()
    for m in (done, stuck, waiting):
        dispatcher.deliver(m, now=1.0)
    runs = started(drain(dispatcher))
    dispatcher.succeeded(runs[0], now=2.0)
    drain(dispatcher)  # the waiting one starts
    assert dispatcher.stop_all() == 0
    assert dispatcher.busy == 2
    report = dispatcher.abandon(now=6.0)
    assert [(item.message_id, item.running_for) for _, item in report] == [
        (stuck.message_id, 5.0),
        (waiting.message_id, 4.0),
    ]
    assert {item.subscription for _, item in report} == {"sub-1"}
    assert {item.destination for _, item in report} == {"/queue/a"}
    assert dispatcher.busy == 0
    delivery, _ = report[0]
    dispatcher.succeeded(delivery, now=7.0)  # finishing late settles nothing
    assert not dispatcher.failed(report[1][0], RuntimeError("cancelled"), now=7.0)
    assert settled(drain(dispatcher)) == []


def test_stop_all_drops_the_queued_messages_and_resume_all_reads_again(
    dispatcher: Dispatcher,
) -> None:
    add(dispatcher, limit=1)
    for _ in range(3):
        dispatcher.deliver(message(), now=0.0)
    assert PauseReading() in drain(dispatcher)
    assert dispatcher.stop_all() == 2
    assert drain(dispatcher) == [ResumeReading()]
    dispatcher.resume_all()
    assert drain(dispatcher) == []


# -- helpers --------------------------------------------------------------------------------------


def test_a_forwarded_copy_keeps_the_application_headers_and_says_why() -> None:
    m = message(
        body=b"poison",
        headers=(("customer", "42"), ("customer", "43"), ("priority", "9"), ("persistent", "x")),
    )
    headers, content_length = forward_copy(m, ValueError("cannot\nprocess"))
    assert headers == [
        ("customer", "42"),
        ("persistent", "true"),
        (ERROR_HEADER, "ValueError: cannot process"),
    ]
    assert not content_length
    _, with_nul = forward_copy(message(body=b"a\0b"), ValueError())
    assert with_nul


def test_a_failure_description_is_one_bounded_line() -> None:
    assert describe_failure(KeyError()) == "KeyError"
    assert len(describe_failure(ValueError("x" * 5000))) == 1000


def _connected(server: str | None) -> Connected:
    return Connected(
        version=Version.V1_2,
        server=server,
        session_id=None,
        heart_beat=(0, 0),
        resubscribed=(),
        frame=Frame("CONNECTED", (), b""),
    )


def test_prefetch_headers_follow_the_limit_unless_given_or_auto() -> None:
    both = prefetch_headers(_connected("ActiveMQ/5.17.2"), "client-individual", 8)
    assert both == [("activemq.prefetchSize", "8"), ("prefetch-count", "8")]
    artemis = prefetch_headers(_connected("ActiveMQ-Artemis/2.40.0"), "client", 8)
    assert artemis == [("prefetch-count", "8")]
    assert prefetch_headers(None, "auto", 8) == []
    given = [("prefetch-count", "1")]
    assert prefetch_headers(None, "client", 8, given) == given


def test_the_default_ack_mode_of_handlers_is_client_individual_but_on_1_0() -> None:
    assert default_ack(Version.V1_2) == "client-individual"
    assert default_ack(None) == "client-individual"
    assert default_ack(Version.V1_0) == "client"

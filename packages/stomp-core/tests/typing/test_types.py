"""Static checks of the public types, run by mypy (the types session); nothing runs here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stomp_core import (
    BrokerError,
    ClientCore,
    ClientError,
    ClientSettings,
    ClientState,
    CoreEvent,
    Counters,
    InvalidRequest,
    MessageStale,
    Reconnected,
    TlsOptions,
    WaitTimeout,
)
from stomp_session import Connected, MessageReceived, Subscription

if TYPE_CHECKING:
    from typing_extensions import assert_type


def check_core(core: ClientCore, message: MessageReceived) -> None:
    assert_type(core.state, ClientState)
    assert_type(core.next_event(), CoreEvent | None)
    assert_type(core.next_deadline(), float | None)
    assert_type(core.send("/queue/a", b"x", receipt=True, now=0.0), str | None)
    assert_type(core.subscribe("/queue/a", now=0.0), tuple[Subscription, str | None])
    assert_type(core.begin(now=0.0), tuple[str, str | None])
    assert_type(core.ack(message, defer=True, now=0.0), str | None)
    assert_type(core.pending_output(), memoryview)
    assert_type(core.data_to_send(0.0), bytes)
    assert_type(core.counters, Counters)
    assert_type(core.connected, Connected | None)
    assert_type(core.is_current(message), bool)
    core.send("/queue/a", b"x", now="soon")  # type: ignore[arg-type]


def check_values(report: Reconnected) -> None:
    assert_type(report.discarded, int)
    assert_type(report.cause, BaseException)
    assert_type(ClientSettings.make(versions=["1.2"]), ClientSettings)
    assert_type(TlsOptions(verify=False).verify, bool)
    misuse: ValueError = InvalidRequest("x")
    stale: InvalidRequest = MessageStale("x")
    timeout: TimeoutError = WaitTimeout("RECEIPT", 1.0)
    base: type[ClientError] = BrokerError
    del misuse, stale, timeout, base

"""Random sequences of requests, broker faults and time against the core: its promises hold."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from stomp_core import ClientEnded, ClientError, ClientState, RequestDone
from stomp_testing import BrokerCore

if TYPE_CHECKING:
    from conftest import Loopback

STEPS = st.lists(
    st.sampled_from(
        [
            "send",
            "send_receipt",
            "subscribe",
            "publish",
            "take_and_ack",
            "begin_commit",
            "drop",
            "down",
            "up",
            "withhold",
            "advance",
            "disconnect",
            "close",
            "start",
        ]
    ),
    max_size=40,
)


def act(loop: Loopback, broker: BrokerCore, step: str, asked: list[str]) -> None:
    core = loop.core
    now = loop.now
    if step == "send":
        core.send("/queue/a", b"x", now=now)
    elif step == "send_receipt":
        receipt = core.send("/queue/a", b"x", receipt=True, timeout=3.0, now=now)
        assert receipt is not None
        asked.append(receipt)
    elif step == "subscribe":
        core.subscribe("/queue/a", ack="client-individual", now=now)
    elif step == "publish":
        broker.publish("/queue/a", b"p")
    elif step == "take_and_ack":
        message = core.next_message()
        if message is not None:
            core.ack(message, now=now)
    elif step == "begin_commit":
        tx, _ = core.begin(now=now)
        core.commit(tx, now=now)
    elif step == "drop":
        if loop.connection is not None:
            loop.drop()
    elif step == "down":
        loop.reachable = False
    elif step == "up":
        loop.reachable = True
        broker.faults.clear()
    elif step == "withhold":
        broker.faults.withhold_receipts("SEND")
    elif step == "advance":
        loop.advance(1.5)
    elif step == "disconnect":
        core.disconnect(now, timeout=2.0)
    elif step == "close":
        core.close(now)
    elif step == "start":
        core.start(now)


@settings(max_examples=150, deadline=None)
@given(steps=STEPS)
def test_any_sequence_keeps_the_cores_promises(
    loopback_type: type[Loopback], steps: list[str]
) -> None:
    broker = BrokerCore(name="mq")
    loop = loopback_type(broker)
    loop.start()
    asked: list[str] = []
    for step in steps:
        with contextlib.suppress(ClientError):  # refused as documented: misuse, a stale message
            act(loop, broker, step, asked)
        loop.pump()
        state = loop.core.state
        assert loop.core.ready == (state is ClientState.CONNECTED)
        if state is ClientState.CLOSED:
            assert loop.core.output_size == 0
    loop.core.close(loop.now)
    loop.pump()
    loop.advance(10.0)
    settled = [e.receipt_id for e in loop.events if isinstance(e, RequestDone)]
    assert sorted(settled) == sorted(asked), "every receipt asked for is settled exactly once"
    assert isinstance(loop.events[-1], ClientEnded) or loop.core.state is ClientState.CLOSED

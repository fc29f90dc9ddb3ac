"""The state table: every state x every input, exhaustively and as Hypothesis-driven runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from stomp_session import (
    REMOTE_INPUTS,
    TRANSITIONS,
    Input,
    LocalProtocolError,
    MessageReceived,
    Output,
    ProtocolFailure,
    Session,
    State,
)

CONNECTED_FRAME = b"CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\0"
MESSAGE_FRAME = b"MESSAGE\nsubscription:s\ndestination:/q\nmessage-id:m\nack:a\n\n\0"


class Fixture:
    """A session driven into a state, holding what the inputs need (a subscription,
    a transaction, a message of the current connection)."""

    def __init__(self, state: State) -> None:
        self.session = s = Session(host="/", heart_beat=(1000, 1000))
        s.connect(0.0)
        s.receive_data(CONNECTED_FRAME, 0.0)
        s.subscribe("/q", id="s", ack="client")
        s.begin("t")
        (event,) = s.receive_data(MESSAGE_FRAME, 0.0).events
        assert isinstance(event, MessageReceived)
        self.message: MessageReceived | None = event
        s.send("/q", receipt="r")
        if state in (State.DISCONNECTED, State.CONNECTING):
            # A connection came and went: the subscription survives, the rest does not.
            s.connection_lost(0.0)
            self.message = None
            if state is State.CONNECTING:
                s.connect(0.0)
        elif state in (State.DISCONNECTING, State.CLOSED):
            s.disconnect(receipt="bye")
            if state is State.CLOSED:
                s.receive_data(b"RECEIPT\nreceipt-id:bye\n\n\0", 0.0)
        assert s.state is state

    def ack_target(self) -> MessageReceived:
        if self.message is not None:
            return self.message
        # No message of this connection exists: use one from a connected twin.
        twin = Fixture(State.CONNECTED).message
        assert twin is not None
        return twin


CALLER: dict[Input, Callable[[Fixture], object]] = {
    Input.CONNECT: lambda f: f.session.connect(0.0),
    Input.SEND: lambda f: f.session.send("/q", b"x"),
    Input.SUBSCRIBE: lambda f: f.session.subscribe("/q2"),
    Input.UNSUBSCRIBE: lambda f: f.session.unsubscribe("s"),
    Input.ACK: lambda f: f.session.ack(f.ack_target()),
    Input.NACK: lambda f: f.session.nack(f.ack_target()),
    Input.BEGIN: lambda f: f.session.begin(),
    Input.COMMIT: lambda f: f.session.commit("t"),
    Input.ABORT: lambda f: f.session.abort("t"),
    Input.DISCONNECT: lambda f: f.session.disconnect(),
    Input.RECEIVE_DATA: lambda f: f.session.receive_data(b"", 0.0),
    Input.TIMER: lambda f: f.session.handle_timer(0.0),
    Input.CONNECTION_LOST: lambda f: f.session.connection_lost(0.0),
}

BROKER: dict[Input, bytes] = {
    Input.RECV_CONNECTED: CONNECTED_FRAME,
    Input.RECV_MESSAGE: MESSAGE_FRAME,
    Input.RECV_RECEIPT: b"RECEIPT\nreceipt-id:r\n\n\0",
    Input.RECV_DISCONNECT_RECEIPT: b"RECEIPT\nreceipt-id:bye\n\n\0",
    Input.RECV_ERROR: b"ERROR\nmessage:boom\n\n\0",
    Input.RECV_HEART_BEAT: b"\n",
    Input.PROTOCOL_FAILURE: b"NOT-STOMP\n\n\0",
}


def test_every_input_is_driven_by_these_tests() -> None:
    assert set(CALLER) | set(BROKER) | {Input.PEER_DEAD} == set(Input)
    assert set(BROKER) | {Input.PEER_DEAD} == REMOTE_INPUTS


def test_every_table_entry_names_a_state_and_every_state_can_be_left() -> None:
    for (state, _), target in TRANSITIONS.items():
        assert isinstance(state, State)
        assert isinstance(target, State)
    for state in State:
        assert (state, Input.CONNECTION_LOST) in TRANSITIONS


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("event", list(CALLER), ids=lambda i: i.value)
def test_a_caller_input_is_allowed_exactly_when_the_table_says(state: State, event: Input) -> None:
    fixture = Fixture(state)
    expected = TRANSITIONS.get((state, event))
    if expected is None:
        with pytest.raises(LocalProtocolError, match="not allowed while the session is"):
            CALLER[event](fixture)
        assert fixture.session.state is state
    else:
        CALLER[event](fixture)
        assert fixture.session.state is expected


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("event", list(BROKER), ids=lambda i: i.value)
def test_a_broker_input_is_accepted_exactly_when_the_table_says(state: State, event: Input) -> None:
    session = Fixture(state).session
    if (state, Input.RECEIVE_DATA) not in TRANSITIONS:
        with pytest.raises(LocalProtocolError):
            session.receive_data(BROKER[event], 0.0)
        return
    out = session.receive_data(BROKER[event], 0.0)
    if state is State.CLOSED:
        assert out == Output(close=True)
        return
    if event is Input.RECV_DISCONNECT_RECEIPT and state is not State.DISCONNECTING:
        event = Input.RECV_RECEIPT  # no DISCONNECT is pending: it is an ordinary RECEIPT
    expected = TRANSITIONS.get((state, event))
    if expected is None or event is Input.PROTOCOL_FAILURE:
        assert [type(e) for e in out.events] == [ProtocolFailure]
        assert session.state is State.CLOSED
        assert out.close
    else:
        assert not any(isinstance(e, ProtocolFailure) for e in out.events)
        assert session.state is expected


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_a_dead_peer_is_found_exactly_where_the_table_says(state: State) -> None:
    session = Fixture(state).session
    out = session.handle_timer(1e6)
    if (state, Input.PEER_DEAD) in TRANSITIONS:
        assert out.close
        assert session.state is TRANSITIONS[state, Input.PEER_DEAD]
    else:
        assert out == Output(close=state is State.CLOSED)
        assert session.state is state


class SessionMachine(RuleBasedStateMachine):
    """Random sequences of every input; the session must follow the table at each step."""

    def __init__(self) -> None:
        super().__init__()
        self.session = Session(host="/", heart_beat=(1000, 1000))
        self.now = 0.0
        self.messages: list[MessageReceived] = []
        self.receipt = 0

    def expect(self, event: Input, action: Callable[[], object]) -> None:
        before = self.session.state
        target = TRANSITIONS.get((before, event))
        if target is None:
            try:
                action()
            except LocalProtocolError:
                assert self.session.state is before
                return
            raise AssertionError(f"{event} was accepted in {before}")
        try:
            action()
        except LocalProtocolError:
            # Allowed by the table, refused for its arguments (stale message, unknown id):
            # the state must not move.
            refused = True
        else:
            refused = False
        if refused:
            assert self.session.state is before
            return
        assert self.session.state is target

    @rule()
    def connect(self) -> None:
        self.expect(Input.CONNECT, lambda: self.session.connect(self.now))

    @rule(delay=st.floats(min_value=0, max_value=5))
    def timer(self, delay: float) -> None:
        self.now += delay
        before = self.session.state
        out = self.session.handle_timer(self.now)
        if before is State.CLOSED:
            assert out == Output(close=True)
        elif out.close:
            assert self.session.state is TRANSITIONS[before, Input.PEER_DEAD]
        else:
            assert self.session.state is before

    @rule()
    def connection_lost(self) -> None:
        self.expect(Input.CONNECTION_LOST, lambda: self.session.connection_lost(self.now))
        assert self.session.transactions == frozenset()
        assert self.session.pending_receipts == {}

    @rule(frame=st.sampled_from(sorted(BROKER, key=lambda i: i.value)))
    def broker_sends(self, frame: Input) -> None:
        before = self.session.state
        if (before, Input.RECEIVE_DATA) not in TRANSITIONS:
            self.expect(Input.RECEIVE_DATA, lambda: self.session.receive_data(b"\n", self.now))
            return
        if frame is Input.RECV_DISCONNECT_RECEIPT:
            receipts = [r for r, c in self.session.pending_receipts.items() if c == "DISCONNECT"]
            data = f"RECEIPT\nreceipt-id:{receipts[0] if receipts else 'x'}\n\n\0".encode()
        else:
            data = BROKER[frame]
        out = self.session.receive_data(data, self.now)
        self.messages += [e for e in out.events if isinstance(e, MessageReceived)]
        failed = any(isinstance(e, ProtocolFailure) for e in out.events)
        if before is State.CLOSED:
            assert out == Output(close=True)
        elif failed:
            assert self.session.state is State.CLOSED
        else:
            assert (before, frame) in TRANSITIONS or frame is Input.RECV_DISCONNECT_RECEIPT
        assert out.close == (self.session.state is State.CLOSED)

    @rule(receipt=st.booleans())
    def send(self, receipt: bool) -> None:
        self.receipt += 1
        r = f"r{self.receipt}" if receipt else None
        self.expect(Input.SEND, lambda: self.session.send("/q", b"x", receipt=r))

    @rule(ack=st.sampled_from(["auto", "client", "client-individual"]))
    def subscribe(self, ack: str) -> None:
        self.expect(Input.SUBSCRIBE, lambda: self.session.subscribe("/q", id="s", ack=ack))  # type: ignore[arg-type]

    @rule()
    def unsubscribe(self) -> None:
        self.expect(Input.UNSUBSCRIBE, lambda: self.session.unsubscribe("s"))

    @precondition(lambda self: bool(self.messages))
    @rule(index=st.integers(min_value=0), nack=st.booleans())
    def acknowledge(self, index: int, nack: bool) -> None:
        message = self.messages[index % len(self.messages)]
        if nack:
            self.expect(Input.NACK, lambda: self.session.nack(message))
        else:
            self.expect(Input.ACK, lambda: self.session.ack(message))

    @rule()
    def begin(self) -> None:
        self.expect(Input.BEGIN, self.session.begin)

    @rule(commit=st.booleans())
    def end_transaction(self, commit: bool) -> None:
        open_ = sorted(self.session.transactions) or ["none"]
        if commit:
            self.expect(Input.COMMIT, lambda: self.session.commit(open_[0]))
        else:
            self.expect(Input.ABORT, lambda: self.session.abort(open_[0]))

    @rule()
    def disconnect(self) -> None:
        self.expect(Input.DISCONNECT, self.session.disconnect)

    @invariant()
    def deadlines_exist_only_while_open(self) -> None:
        deadline = self.session.next_deadline()
        if self.session.state in (State.CONNECTED, State.DISCONNECTING):
            assert deadline is not None
        else:
            assert deadline is None

    @invariant()
    def version_is_known_exactly_while_connected(self) -> None:
        state = self.session.state
        if state in (State.CONNECTED, State.DISCONNECTING):
            assert self.session.version is not None
            assert self.session.heart_beat is not None
        elif state in (State.DISCONNECTED, State.CONNECTING):
            assert self.session.version is None


TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)

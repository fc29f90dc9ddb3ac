"""shell: scripted through a pipe, and typed into a real terminal (a pty, with pexpect)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pexpect
from click.testing import CliRunner

from stomp_cli import main

if TYPE_CHECKING:
    from conftest import LoopbackBroker

SCRIPT = """\
subscribe /queue/sh client-individual
send /queue/sh hello x-trace:7
wait 1
ack
begin
send /queue/sh in-tx
ack 1
status
abort
status
subscribe /queue/sh bogus
send /queue/sh
ack 9
nonsense
begin
send /queue/sh committed
commit
wait 2
nack 2
help
quit
send /queue/never after-quit
"""


def test_a_piped_session_runs_each_command(broker: LoopbackBroker, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["shell", "-u", broker.uri, "--history", str(tmp_path / "h")],
        input=SCRIPT,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        "subscribed sub-1 to /queue/sh (ack client-individual)",
        "sent to /queue/sh (receipt confirmed)",
        "#1 /queue/sh  message-id: m-1\n  x-trace: 7\nhello",
        "acked #1\n",
        "began tx-",
        "acked #1 in tx-",
        "  sub-1: /queue/sh (ack client-individual)",
        "  open transaction tx-",
        "aborted tx-",
        "usage: subscribe DEST [auto|client|client-individual]",
        "usage: send DEST BODY",
        "no message #9",
        "unknown command 'nonsense': try help",
        "committed tx-",
        "#2 /queue/sh  message-id: m-",
        "nacked #2",
        "commands:",
    ):
        assert expected in out, expected
    assert out.count("  open transaction tx-") == 1  # gone after abort
    # The aborted transaction's SEND never reached the queue; the committed one did.
    bodies = [f.body for f in broker.received("SEND")]
    assert b"in-tx" in bodies  # written, inside the transaction
    assert all(m.body != b"in-tx" for m in broker.stored("/queue/sh"))
    assert len(broker.received("ABORT")) == 1
    assert len(broker.received("COMMIT")) == 1
    assert len(broker.received("NACK")) == 1
    assert broker.stored("/queue/never") == []
    assert broker.received("DISCONNECT")


def test_typed_in_a_terminal_with_messages_arriving_while_typing(
    broker: LoopbackBroker, tmp_path: Path
) -> None:
    history = tmp_path / "history"
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "stomp_cli", "shell", "-u", broker.uri, "--history", str(history)],
        env=env,
        encoding="utf-8",
        dimensions=(30, 120),
        timeout=10,
    )
    try:
        child.expect("type help for the commands")
        child.expect_exact("stomp>")
        child.sendline("subscribe /queue/tty")
        child.expect_exact("subscribed sub-1 to /queue/tty (ack auto)")
        child.send("send /queue/tty half")  # typed, not yet entered
        broker.put("/queue/tty", b"arrived while typing")
        child.expect_exact("arrived while typing")
        child.sendline("-typed")
        child.expect_exact("sent to /queue/tty (receipt confirmed)")
        child.expect_exact("half-typed")  # our own message, delivered to our subscription
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    assert [f.body for f in broker.received("SEND")] == [b"half-typed"]
    lines = history.read_text(encoding="utf-8")
    assert "+subscribe /queue/tty" in lines
    assert "+send /queue/tty half-typed" in lines

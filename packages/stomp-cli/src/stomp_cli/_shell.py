"""``stompctl shell``: an interactive session; incoming messages show while you type.

On a terminal it reads lines with prompt_toolkit (history in a file, editing, incoming
messages printed above the prompt); from a pipe it reads plain lines, so a session can
be scripted. A thread receives messages between commands; the commands run from the reading thread,
never at the same time as a receive.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, cast

from rich.console import Console
from rich.markup import escape

from stomp_cli import _output
from stomp_cli._connection import AckMode
from stomp_cli._errors import describe
from stomp_sync import Client, ClientError, MessageReceived

PROMPT: Final = "stomp> "
_ACK_MODES: Final = ("auto", "client", "client-individual")
HELP: Final = """\
commands:
  send DEST BODY [NAME:VALUE ...]   send a message (in the open transaction, if any)
  subscribe DEST [ACK]              subscribe; ACK is auto, client or client-individual
  unsubscribe ID                    end a subscription
  ack [N] / nack [N]                acknowledge / refuse message #N (default: the last)
  begin / commit / abort            a transaction around the sends and acks that follow
  wait N [SECONDS]                  wait until N messages in all were shown (default 5 s)
  status                            the connection, subscriptions and transaction
  help                              this text
  quit                              disconnect and leave (also Ctrl-D)"""


class Shell:
    """The commands of the shell over one connected client."""

    def __init__(self, client: Client, out: Console) -> None:
        self.client = client
        self.out = out
        self.messages: dict[int, MessageReceived] = {}
        self.received = 0
        self.transaction: str | None = None
        self._print_lock = threading.Lock()
        self._stop = threading.Event()
        # One call at a time: the receiving thread polls the client between commands.
        self._client_lock = threading.Lock()
        self._busy = threading.Event()
        self._receiver = threading.Thread(target=self._receive, name="stompctl-shell", daemon=True)

    def say(self, text: str) -> None:
        """Print a line (rich markup), from any thread."""
        with self._print_lock:
            self.out.print(text)

    def start(self) -> None:
        """Start showing incoming messages."""
        self._receiver.start()

    def stop(self) -> None:
        """Stop the receiving thread."""
        self._stop.set()
        if self._receiver.is_alive():
            self._receiver.join(2.0)

    def _receive(self) -> None:
        while not self._stop.is_set():
            if self._busy.is_set():  # a command is waiting for the client: let it in
                time.sleep(0.005)
                continue
            try:
                with self._client_lock:
                    message = self.client.receive(timeout=0.05)
            except (ClientError, OSError) as exc:
                self.say(f"[red]receive failed:[/] {escape(describe(exc).message)}")
                return
            if message is None:
                continue
            self.received += 1
            self.messages[self.received] = message
            with self._print_lock:
                self.out.print(_output.message_lines(message, self.received))

    def execute(self, line: str) -> bool:
        """Run one command line; return False when the shell should end."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.say(f"[red]error:[/] {escape(str(exc))}")
            return True
        if not words:
            return True
        name, args = words[0].lower(), words[1:]
        if name in ("quit", "exit"):
            return False
        command = self._commands().get(name)
        if command is None:
            self.say(f"[red]unknown command {escape(name)!r}[/]: try help")
            return True
        # wait and help make no client call: the receiving thread goes on meanwhile.
        exclusive = name not in ("wait", "help")
        if exclusive:
            self._busy.set()
        try:
            with self._client_lock if exclusive else contextlib.nullcontext():
                command(args)
        except (ClientError, OSError, ValueError) as exc:
            failure = describe(exc)
            self.say(f"[red]error:[/] {escape(failure.message)}")
        finally:
            self._busy.clear()
        return True

    def _commands(self) -> dict[str, Callable[[list[str]], None]]:
        return {
            "help": lambda _args: self.say(escape(HELP)),
            "send": self._send,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "ack": lambda args: self._acknowledge(args, nack=False),
            "nack": lambda args: self._acknowledge(args, nack=True),
            "begin": self._begin,
            "commit": lambda _args: self._end(commit=True),
            "abort": lambda _args: self._end(commit=False),
            "status": self._status,
            "wait": self._wait,
        }

    def _wait(self, args: list[str]) -> None:
        if not 1 <= len(args) <= 2:
            self.say(escape("usage: wait N [SECONDS]"))
            return
        wanted = int(args[0])
        deadline = time.monotonic() + (float(args[1]) if len(args) == 2 else 5.0)
        while self.received < wanted and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.received < wanted:
            self.say(f"{self.received} of {wanted} messages so far")

    def _send(self, args: list[str]) -> None:
        if len(args) < 2:
            self.say(escape("usage: send DEST BODY [NAME:VALUE ...]"))
            return
        destination, body, *pairs = args
        headers: list[tuple[str, str]] = []
        for pair in pairs:
            name, sep, value = pair.partition(":")
            if not sep or not name:
                self.say(f"[red]error:[/] {escape(pair)!r}: write a header as name:value")
                return
            headers.append((name, value))
        if self.transaction is not None:
            self.client.send(
                destination, body.encode(), headers=headers, transaction=self.transaction
            )
            self.say(f"sent to {escape(destination)} in {self.transaction}")
            return
        self.client.send(destination, body.encode(), headers=headers, receipt=True)
        self.say(f"sent to {escape(destination)} (receipt confirmed)")

    def _subscribe(self, args: list[str]) -> None:
        if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1] not in _ACK_MODES):
            self.say(escape(f"usage: subscribe DEST [{'|'.join(_ACK_MODES)}]"))
            return
        ack = args[1] if len(args) == 2 else "auto"
        subscription = self.client.subscribe(args[0], ack=cast("AckMode", ack))
        self.say(f"subscribed {subscription.id} to {escape(args[0])} (ack {ack})")

    def _unsubscribe(self, args: list[str]) -> None:
        if len(args) != 1:
            self.say("usage: unsubscribe ID")
            return
        self.client.unsubscribe(args[0])
        self.say(f"unsubscribed {escape(args[0])}")

    def _acknowledge(self, args: list[str], *, nack: bool) -> None:
        what = "nack" if nack else "ack"
        if not self.messages:
            self.say(f"nothing to {what}: no message received yet")
            return
        number = max(self.messages) if not args else int(args[0].lstrip("#"))
        message = self.messages.get(number)
        if message is None:
            self.say(f"no message #{number}")
            return
        act = self.client.nack if nack else self.client.ack
        act(message, transaction=self.transaction)
        self.say(f"{what}ed #{number}" + (f" in {self.transaction}" if self.transaction else ""))

    def _begin(self, _args: list[str]) -> None:
        if self.transaction is not None:
            self.say(f"{self.transaction} is open: commit or abort it first")
            return
        self.transaction = self.client.begin()
        self.say(f"began {self.transaction}")

    def _end(self, *, commit: bool) -> None:
        transaction = self.transaction
        if transaction is None:
            self.say("no transaction is open: begin one")
            return
        self.transaction = None
        if commit:
            self.client.commit(transaction)
            self.say(f"committed {transaction} (receipt confirmed)")
        else:
            self.client.abort(transaction)
            self.say(f"aborted {transaction}")

    def _status(self, _args: list[str]) -> None:
        connected = self.client.connected
        version = connected.version.value if connected else "?"
        server = connected.server if connected else None
        self.say(f"connected to {self.client.broker} (STOMP {version}, {server or 'server ?'})")
        for sub_id, subscription in self.client.subscriptions.items():
            self.say(f"  {sub_id}: {escape(subscription.destination)} (ack {subscription.ack})")
        if self.transaction:
            self.say(f"  open transaction {self.transaction}")


def default_history() -> Path:
    """``$XDG_STATE_HOME/stompctl/history`` (``~/.local/state/stompctl/history``)."""
    import os  # noqa: PLC0415

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "stompctl" / "history"


def _terminal_lines(history: Path, shell: Shell) -> Iterator[str]:
    from prompt_toolkit import PromptSession  # noqa: PLC0415
    from prompt_toolkit.history import FileHistory  # noqa: PLC0415
    from prompt_toolkit.patch_stdout import patch_stdout  # noqa: PLC0415

    history.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    with patch_stdout(raw=True):
        # Printing goes through prompt_toolkit's stdout proxy, above the prompt.
        shell.out.file = sys.stdout
        while True:
            try:
                yield session.prompt(PROMPT)
            except KeyboardInterrupt:  # noqa: PERF203 - Ctrl-C drops the line, as shells do
                continue
            except EOFError:
                return


def _piped_lines() -> Iterator[str]:
    for line in sys.stdin:
        yield line.rstrip("\n")


def run_shell(client: Client, out: Console, *, history: Path) -> None:
    """Read and run commands until quit or end of input; the caller disconnects."""
    shell = Shell(client, out)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:
        shell.say(f"connected to {client.broker}; type help for the commands")
    shell.start()
    try:
        lines = _terminal_lines(history, shell) if interactive else _piped_lines()
        for line in lines:
            if not shell.execute(line):
                break
    finally:
        shell.stop()

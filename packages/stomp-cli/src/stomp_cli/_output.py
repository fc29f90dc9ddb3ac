"""What the commands print: consoles (plain when not a terminal), messages as text, JSON or wire."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from stomp_cli._errors import Failure
from stomp_frame import Version, serialize
from stomp_sync import MessageReceived


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr): colours only on a terminal, and never under NO_COLOR."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, highlight=False, soft_wrap=True, emoji=False)


def progress(out: Console) -> Progress:
    """A progress bar, drawn only when *out* is a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=not out.is_terminal,
    )


def report_failure(err: Console, failure: Failure) -> None:
    """Print a failure on stderr: the message, the broker's words, the hint."""
    err.print(Text("error: ", style="bold red") + Text(failure.message))
    if failure.detail:
        for line in failure.detail.splitlines():
            err.print(Text("  | " + line, style="dim"))
    if failure.hint:
        err.print(Text("hint: ", style="bold yellow") + Text(failure.hint))


def body_text(body: bytes) -> str | None:
    """The body as text, or ``None`` when it is not UTF-8."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def message_json(message: MessageReceived) -> str:
    """One JSON line: destination, message id, headers (first value of each), body.

    The body is text when it is UTF-8 (``"encoding": "utf-8"``), else base64
    (``"encoding": "base64"``).
    """
    frame = message.frame
    headers: dict[str, str] = {}
    for name, value in frame.headers:
        headers.setdefault(name, value)
    text = body_text(message.body)
    record: dict[str, Any] = {
        "destination": message.destination,
        "message_id": message.message.message_id,
        "headers": headers,
        "body": text if text is not None else base64.b64encode(message.body).decode("ascii"),
        "encoding": "utf-8" if text is not None else "base64",
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


_SHOWN_APART = frozenset(
    {"destination", "message-id", "subscription", "ack", "content-length", "redelivered"}
)


def message_lines(message: MessageReceived, number: int) -> Text:
    """A message for a person: a title line, the other headers indented, the body."""
    title = Text(f"#{number} ", style="bold cyan")
    title.append(message.destination, style="bold")
    title.append(f"  message-id: {message.message.message_id}", style="dim")
    lines = [title]
    for name, value in message.frame.headers:
        if name not in _SHOWN_APART:
            lines.append(Text(f"  {name}: {value}", style="dim"))
    text = body_text(message.body)
    if text is None:
        lines.append(Text(f"({len(message.body)} bytes, not UTF-8)", style="italic"))
    else:
        lines.append(Text(text))
    return Text("\n").join(lines)


def message_wire(message: MessageReceived, version: Version) -> bytes:
    """The MESSAGE as the negotiated version writes it, NUL included, then a line feed.

    The line feed is a heart-beat between frames, so the output is still a STOMP stream.
    """
    return serialize(message.frame, version) + b"\n"

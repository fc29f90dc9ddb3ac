"""The DEBUG wire trace: every frame in and out, its command and headers, secrets redacted."""

from __future__ import annotations

import logging
import re
from typing import Final

from stomp_frame import Frame
from stomp_session import Event

__all__ = ["trace_in", "trace_out"]

_SECRET: Final = re.compile(rb"^(passcode):[^\n]*", re.MULTILINE)
_SECRET_NAMES: Final = frozenset({"passcode"})


def trace_out(log: logging.Logger, data: bytes) -> None:
    """Log the frame *data* holds (command and headers, the body's size) as written."""
    head, _, body = data.partition(b"\n\n")
    text = _SECRET.sub(rb"\1:***", head).decode("utf-8", "replace").replace("\n", " | ")
    log.debug(">>> %s (%d body bytes)", text, max(0, len(body) - 1))


def trace_in(log: logging.Logger, event: Event) -> None:
    """Log the frame behind a received *event* (command and headers, the body's size)."""
    frame: Frame | None = getattr(event, "frame", None)
    if frame is None:  # a RECEIPT: the session keeps only what it says
        receipt_id = getattr(event, "receipt_id", "")
        log.debug("<<< RECEIPT | receipt-id:%s", receipt_id)
        return
    headers = " | ".join(
        f"{name}:{'***' if name in _SECRET_NAMES else value}" for name, value in frame.headers
    )
    log.debug("<<< %s | %s (%d body bytes)", frame.command, headers, len(frame.body))

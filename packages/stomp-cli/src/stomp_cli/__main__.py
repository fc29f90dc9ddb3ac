"""``python -m stomp_cli``: the same as the ``stompctl`` command."""

from __future__ import annotations

from stomp_cli._cli import run

run()

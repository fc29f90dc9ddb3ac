"""stomp-cli: ``stompctl``, a command line for any STOMP 1.0-1.2 broker.

Commands: ``send``, ``tail``, ``ping``, ``doctor``, ``bench`` and ``shell``; run
``stompctl --help`` or ``python -m stomp_cli --help``. Every command drives the blocking
client of stomp-sync. The exit codes are :class:`ExitCode`.
"""

from __future__ import annotations

import click

from stomp_cli._cli import main as _main
from stomp_cli._cli import run
from stomp_cli._errors import ExitCode

__all__ = ["ExitCode", "main", "run"]

__version__ = "0.1.0"

main: click.Group = _main
"""The ``stompctl`` command group (click), for embedding or testing:
``click.testing.CliRunner().invoke(main, ["ping", "-u", "tcp://localhost:61613"])``."""

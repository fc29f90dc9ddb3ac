#!/usr/bin/env python3
"""Render the failover reports of tests/ha as a reStructuredText table (docs/brokers.rst).

    python3 scripts/brokers/ha_table.py [RESULTS_DIR]

RESULTS_DIR holds the ``<setup>-<client>-kill<N>.json`` files the tests write (default:
``$STOMP_HA_RESULTS``, else ``$HA_DIR/results``, else ``/tmp/stomp-ha/results``).
"killed" names the node of each kill: the consumer's, or "leader": RabbitMQ's queue leader
("cons." when the consumer was on it too). Recovery times are per kill, ``a / b`` for two
kills: from the SIGKILL to the consumer's next message, and to the producer's next
confirmed batch.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

_ORDER = {"activemq": 0, "rabbitmq": 1, "artemis": 2, "sync": 0, "asyncio": 1, "twisted": 2}
_HEADER = (
    "set-up",
    "client",
    "kills",
    "messages",
    "killed",
    "lost",
    "dup. redelivered",
    "dup. re-sent",
    "dup. acked before",
    "dup. unmarked",
    "reconnects (cons./prod.)",
    "to next message (s)",
    "to next confirmed send (s)",
    "total (s)",
)


def _default_dir() -> Path:
    if directory := os.environ.get("STOMP_HA_RESULTS"):
        return Path(directory)
    ha_dir = os.environ.get("HA_DIR") or str(Path(tempfile.gettempdir()) / "stomp-ha")
    return Path(ha_dir) / "results"


def _times(report: dict[str, Any], key: str) -> str:
    values = [kill.get(key) for kill in report["kill_log"]]
    return " / ".join("-" if value is None else f"{value:.1f}" for value in values) or "-"


def _killed(report: dict[str, Any]) -> str:
    names = []
    for kill in report["kill_log"]:
        name = kill["node"]
        if kill.get("target") == "queue-leader":
            name += " (leader)" if kill["node"] != kill.get("consumer_node") else " (leader, cons.)"
        names.append(name)
    return " / ".join(names) or "-"


def rows(reports: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per report, ordered by set-up, kills and client."""
    ordered = sorted(
        reports,
        key=lambda r: (_ORDER.get(r["setup"], 9), r["kills"], _ORDER.get(r["client"], 9)),
    )
    return [
        (
            r["setup"],
            r["client"],
            str(r["kills"]),
            str(r["messages"]),
            _killed(r),
            str(r["lost"]),
            str(r["duplicates"]["redelivered"]),
            str(r["duplicates"]["resent"]),
            str(r["duplicates"].get("acked-before", 0)),
            str(r["duplicates"]["unmarked"]),
            f"{r['reconnects']['consumer']} / {r['reconnects']['producer']}",
            _times(r, "consumer_recovery_s"),
            _times(r, "producer_recovery_s"),
            f"{r['total_s']:.0f}",
        )
        for r in ordered
    ]


def render(table: list[tuple[str, ...]]) -> str:
    """An RST ``list-table`` of ``table`` under the header row."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [_HEADER, *table]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Print the table of the reports in the directory given (or the default one)."""
    directory = Path(argv[1]) if len(argv) > 1 else _default_dir()
    files = sorted(directory.glob("*.json"))
    if not files:
        sys.stderr.write(f"no failover reports in {directory}\n")
        return 1
    reports = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    sys.stdout.write(render(rows(reports)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

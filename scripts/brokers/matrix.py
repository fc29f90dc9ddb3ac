#!/usr/bin/env python3
"""Turn the integration tests' junit xml into the README's interop matrix (Markdown).

::

    nox -s integration -- --junitxml=integration.xml
    python3 scripts/brokers/matrix.py integration.xml                 # print the table
    python3 scripts/brokers/matrix.py integration.xml --readme README.md  # replace it there

Rows are broker (with the ``server`` its CONNECTED named, recorded by tests/integration's
``broker`` fixture) and client; columns are STOMP 1.0, 1.1 and 1.2, TLS and WebSocket. A
cell counts the tests of that kind: ``✓ 12`` all passed, ``✗ 2 of 12`` some failed,
``xfail`` expected failures (a known defect, see the test), ``skip`` tests that did not run.
Tests without a version parameter run on the version the client negotiates, 1.2 on every
broker here (a test asserts that), and count under 1.2. ``-`` means no such test.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = "<!-- interop-matrix:begin (scripts/brokers/matrix.py) -->"
END = "<!-- interop-matrix:end -->"

CLIENTS = {
    "test_frame_wire": "stomp-frame (raw socket)",
    "test_session_brokers": "stomp-session",
    "test_sync_client": "stomp-sync",
    "test_twisted_client": "stomp-twisted",
    "test_asyncio_client": "stomp-asyncio",
    "test_cli": "stomp-cli (stompctl)",
}
"""Test module -> what it exercises (modules not listed are left out of the matrix)."""
BROKERS = ("activemq", "rabbitmq", "artemis", "apollo")
VERSIONS = ("1.0", "1.1", "1.2")
COLUMNS = (*VERSIONS, "TLS", "WebSocket")
_PARAMS = re.compile(r"\[(?P<params>[^\]]*)\]$")


class MatrixError(Exception):
    """The junit xml cannot be read, or the README has no matrix markers."""


@dataclass
class Cell:
    """The outcomes of the tests that fall in one cell."""

    passed: int = 0
    failed: int = 0
    xfailed: int = 0
    skipped: int = 0

    def render(self) -> str:
        """The cell's Markdown text."""
        ran = self.passed + self.failed
        parts = []
        if ran:
            parts.append(f"✓ {ran}" if not self.failed else f"✗ {self.failed} of {ran}")
        if self.xfailed:
            parts.append(f"xfail {self.xfailed}")
        if self.skipped:
            parts.append(f"skip {self.skipped}")
        return ", ".join(parts) or "-"


@dataclass
class Results:
    """Outcomes per (broker, client) row and column, and the broker banners."""

    cells: dict[tuple[str, str], dict[str, Cell]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Cell))
    )
    banners: dict[str, str] = field(default_factory=dict)


def _outcome(case: ET.Element) -> str:
    for child in case:
        if child.tag in {"failure", "error"}:
            return "failed"
        if child.tag == "skipped":
            return "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
    return "passed"


def read(paths: list[Path]) -> Results:
    """Read pytest junit xml files into per-cell counts."""
    results = Results()
    for path in paths:
        try:
            root = ET.parse(path).getroot()  # noqa: S314 - pytest wrote it, on this machine
        except (OSError, ET.ParseError) as exc:
            msg = f"{path}: not a readable junit xml file ({exc})"
            raise MatrixError(msg) from exc
        for prop in root.iter("property"):
            name, value = prop.get("name", ""), prop.get("value", "")
            if name.startswith("broker:") and value:
                results.banners[name.removeprefix("broker:")] = value
        for case in root.iter("testcase"):
            module = (case.get("classname") or "").rpartition(".")[2]
            client = CLIENTS.get(module)
            match = _PARAMS.search(case.get("name") or "")
            if client is None or match is None:
                continue
            params = match["params"].split("-")
            broker = next((p for p in params if p in BROKERS), None)
            if broker is None:
                continue
            version = next((p for p in params if p in VERSIONS), "1.2")
            name = case.get("name") or ""
            column = "TLS" if "tls" in name.lower() else version
            counts = results.cells[(broker, client)][column]
            outcome = _outcome(case)
            setattr(counts, outcome, getattr(counts, outcome) + 1)
    return results


def render(results: Results) -> str:
    """The matrix as a Markdown table."""
    lines = [
        "| broker | client | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for broker in BROKERS:
        rows = [(b, c) for (b, c) in results.cells if b == broker]
        for _, client in sorted(rows, key=lambda row: list(CLIENTS.values()).index(row[1])):
            banner = results.banners.get(broker, "").partition(" ")[0]  # product/version
            label = f"{broker} ({banner})" if banner else broker
            cells = results.cells[(broker, client)]
            row = [cells[column].render() if column in cells else "-" for column in COLUMNS]
            lines.append(f"| {label} | {client} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def replace_in(readme: Path, table: str) -> None:
    """Replace the text between the matrix markers of ``readme`` with ``table``."""
    text = readme.read_text(encoding="utf-8")
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin:
        msg = f"{readme}: no {BEGIN!r} ... {END!r} markers"
        raise MatrixError(msg)
    readme.write_text(text[: begin + len(BEGIN)] + "\n" + table + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Print the matrix, or write it into the README."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("junit", type=Path, nargs="+", help="pytest --junitxml output")
    parser.add_argument("--readme", type=Path, help="write the table between its markers")
    args = parser.parse_args(argv)
    try:
        results = read(args.junit)
        if not results.cells:
            msg = "no broker test results in " + ", ".join(map(str, args.junit))
            raise MatrixError(msg)
        table = render(results)
        if args.readme is not None:
            replace_in(args.readme, table)
        else:
            sys.stdout.write(table)
    except MatrixError as exc:
        sys.stderr.write(f"matrix.py: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

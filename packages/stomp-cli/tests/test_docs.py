"""The console examples of docs/cli.rst and of the README run, and print what they show.

Each block runs against fresh in-process brokers (one open, one with the user admin/secret
and the virtual host ``/`` for commands that log in); ``...`` in a shown line stands for
anything (times, session ids), and ``$ echo $?`` checks the exit code of the command before.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from stomp_cli import main

if TYPE_CHECKING:
    from conftest import LoopbackBroker

MakeBroker = Callable[..., "LoopbackBroker"]

REPO = Path(__file__).resolve().parents[3]
DOCS_PAGE = REPO / "docs" / "cli.rst"
README = REPO / "README.md"
SHOWN_ADDRESS = "127.0.0.1:61613"


def rst_console_blocks(text: str) -> list[str]:
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: console\n\n((?:   .*\n|\n)+)", text, re.M):
        lines = [line[3:] for line in match.group(1).splitlines()]
        blocks.append("\n".join(lines).strip("\n"))
    return blocks


def markdown_console_blocks(text: str) -> list[str]:
    return [b.strip("\n") for b in re.findall(r"```console\n(.*?)```", text, re.S)]


def matches(shown: list[str], printed: list[str]) -> bool:
    if len(shown) != len(printed):
        return False
    for want, got in zip(shown, printed, strict=True):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        if not re.fullmatch(pattern, got):
            return False
    return True


def run_block(block: str, make_broker: MakeBroker) -> int:
    """Run the block's commands; return how many were compared with their output."""
    plain = make_broker()
    secured = make_broker(users={"admin": "secret"}, vhosts=frozenset({"/"}))
    checked = 0
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    last_code: int | None = None
    for command, shown in steps:
        words = shlex.split(command, comments=True)
        if words == ["echo", "$?"]:
            assert [str(last_code)] == shown, command
            checked += 1
            continue
        if words[0] == "pip":
            continue  # an install instruction
        broker = secured if "--login" in words else plain
        words = [w.replace(SHOWN_ADDRESS, f"127.0.0.1:{broker.port}") for w in words]
        if words[:3] == ["python", "-m", "stomp_cli"]:
            done = subprocess.run(
                [sys.executable, *words[1:]], capture_output=True, text=True, check=False
            )
            last_code, output = done.returncode, done.stdout + done.stderr
        elif words[0] == "stompctl":
            result = CliRunner().invoke(main, words[1:], input="")
            last_code, output = result.exit_code, result.output
        else:
            pytest.fail(f"the docs run a command the test cannot: {command}")
        printed = output.replace(f"127.0.0.1:{broker.port}", SHOWN_ADDRESS).splitlines()
        if shown:
            assert matches(shown, printed), f"{command}\nshown:\n{shown}\nprinted:\n{printed}"
            checked += 1
        else:
            assert last_code == 0, f"{command}: exit {last_code}\n{output}"
    return checked


def blocks() -> list[pytest.ParameterSet]:
    found = []
    for path, reader in ((DOCS_PAGE, rst_console_blocks), (README, markdown_console_blocks)):
        if not path.exists():  # an sdist of the package alone
            continue
        text = path.read_text(encoding="utf-8")
        for number, block in enumerate(reader(text), 1):
            if "stompctl" in block:
                found.append(pytest.param(block, id=f"{path.name}-{number}"))
    return found


@pytest.mark.parametrize("block", blocks())
def test_the_example_prints_what_the_docs_show(block: str, make_broker: MakeBroker) -> None:
    run_block(block, make_broker)


def test_the_pages_have_their_examples(make_broker: MakeBroker) -> None:
    ids = [str(param.id) for param in blocks()]
    assert len([i for i in ids if i.startswith("cli.rst")]) >= 5
    assert len([i for i in ids if i.startswith("README.md")]) == 2
    checked = sum(run_block(str(param.values[0]), make_broker) for param in blocks())
    assert checked >= 12


def test_a_difference_is_caught() -> None:
    assert matches(["sent ... to /queue/a"], ["sent 1 message to /queue/a"])
    assert not matches(["sent ... to /queue/a"], ["sent 1 message to /queue/b"])
    assert not matches(["one"], ["one", "two"])

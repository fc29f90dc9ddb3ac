"""The README and the package docstring examples run as written (against a fake broker)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import stomp_asyncio

if TYPE_CHECKING:
    from conftest import MakeBroker

README = Path(__file__).parent.parent / "README.md"
EXAMPLE_URI = "tcp://localhost:61613"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def docstring_example(text: str) -> str:
    block = text.split("::\n", 1)[1].split('\n"""', 1)[0]
    lines = [line[4:] for line in block.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(python_blocks(README.read_text(encoding="utf-8"))[0], id="README"),
        pytest.param(docstring_example(stomp_asyncio.__doc__ or ""), id="docstring"),
    ],
)
async def test_the_example_runs_against_a_broker(
    source: str, make_broker: MakeBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert EXAMPLE_URI in source
    assert "asyncio.run(main())" in source
    broker = await make_broker()
    namespace: dict[str, object] = {}
    code = source.replace(EXAMPLE_URI, broker.uri).replace("asyncio.run(main())", "")
    exec(compile(code, "example", "exec"), namespace)
    main = namespace["main"]
    assert callable(main)
    await asyncio.wait_for(main(), 10.0)
    commands = broker.peers[0].commands()
    assert commands[0] == "CONNECT"
    assert commands[-1] == "DISCONNECT"
    assert "ACK" in commands
    assert "b'" in capsys.readouterr().out

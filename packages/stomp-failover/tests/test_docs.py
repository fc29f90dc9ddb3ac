"""The examples of the README and of the docstrings run as written."""

from __future__ import annotations

import doctest
from pathlib import Path

import stomp_failover

README = Path(__file__).parent.parent / "README.md"


def test_readme_examples_run() -> None:
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_package_docstring_example_runs() -> None:
    result = doctest.testmod(stomp_failover)
    assert result.attempted > 0
    assert result.failed == 0

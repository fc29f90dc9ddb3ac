"""The examples of the README and of the docstrings run as written."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import stomp_twisted
import stomp_twisted.testing

README = Path(__file__).parent.parent / "README.md"


def test_readme_examples_run() -> None:
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("module", [stomp_twisted, stomp_twisted.testing])
def test_package_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0

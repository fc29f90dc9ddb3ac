"""Smoke check of one installed distribution, run by the rehearsal inside a fresh venv.

``python _smoke.py DIST MODULE``: imports MODULE, compares its ``__version__`` to DIST's
metadata, checks that the wheel shipped ``py.typed``, and runs the doctests of the module's
docstrings. Prints one line; exits 1 on any failure. Standard library only.
"""

from __future__ import annotations

import doctest
import importlib
import sys
from importlib import metadata


def main(dist: str, module_name: str) -> int:
    """Check *dist* (import package *module_name*); return the exit status."""
    module = importlib.import_module(module_name)
    installed = metadata.version(dist)
    declared = getattr(module, "__version__", None)
    if declared != installed:
        sys.stderr.write(f"{module_name}.__version__ is {declared}, {dist} {installed}\n")
        return 1
    files = [str(f) for f in metadata.files(dist) or []]
    if f"{module_name}/py.typed" not in files:
        sys.stderr.write(f"{dist} {installed} has no {module_name}/py.typed\n")
        return 1
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    sys.stdout.write(
        f"{dist} {installed}: imported, py.typed, {result.attempted} doctests"
        f" ({result.failed} failed)\n"
    )
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

"""stomp-suite: the whole toolkit in one install, and a check that its layers fit together.

Installing ``stomp-suite`` installs every layer; import them by their own names
(``stomp_frame``, ``stomp_commands``, ``stomp_session``, ``stomp_failover``,
``stomp_websocket``, ``stomp_core``,
``stomp_testing``, ``stomp_sync``, ``stomp_asyncio``, ``stomp_twisted``) and the ``stompctl``
command (``stomp_cli``). This package only says which versions were installed::

    python -m stomp_suite
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import Final

__all__ = ["LAYERS", "versions"]

__version__ = "0.1.0"

LAYERS: Final[dict[str, str]] = {
    "stomp-frame": "stomp_frame",
    "stomp-commands": "stomp_commands",
    "stomp-session": "stomp_session",
    "stomp-failover": "stomp_failover",
    "stomp-websocket": "stomp_websocket",
    "stomp-core": "stomp_core",
    "stomp-testing": "stomp_testing",
    "stomp-sync": "stomp_sync",
    "stomp-asyncio": "stomp_asyncio",
    "stomp-twisted": "stomp_twisted",
    "stomp-cli": "stomp_cli",
}
"""Each distribution of the toolkit and its import package, from the bottom layer up."""


def versions() -> dict[str, str]:
    """Import every layer and return ``{distribution: installed version}``.

    Raises:
        ImportError: a layer is missing or fails to import.
        LookupError: an import package's ``__version__`` disagrees with its distribution's
            metadata (a stale or mixed installation).
    """
    found: dict[str, str] = {}
    for dist, module_name in LAYERS.items():
        module = import_module(module_name)
        installed = metadata.version(dist)
        declared = getattr(module, "__version__", installed)
        if declared != installed:
            msg = f"{module_name}.__version__ is {declared} but {dist} {installed} is installed"
            raise LookupError(msg)
        found[dist] = installed
    return found

"""Sphinx configuration of the stomp-suite documentation (built by ``nox -s docs``).

The build needs no network: no intersphinx, no remote images, no diagram service.
The API reference is generated from ``packages/*`` by ``_ext/stomp_docs.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "stomp-suite"
author = "The stomp-suite developers"
copyright = "the stomp-suite developers; Apache License 2.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "stomp_docs",
]

exclude_patterns = ["_build", ".gitignore"]
root_doc = "index"
nitpicky = True
html_theme = "furo"
html_title = "stomp-suite"
html_static_path: list[str] = []

autodoc_member_order = "groupwise"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
# Dataclass fields are described by their class's "Attributes:" section, so undocumented
# members are left out; the generated pages add them back for enums (their members).
autodoc_default_options = {"members": True, "show-inheritance": True}
python_use_unqualified_type_names = True
python_maximum_signature_line_length = 88

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
napoleon_use_rtype = False
# The Twisted client documents how its Deferreds fail, in Raises' format.
napoleon_custom_sections = [("Fails with", "raises")]

doctest_test_doctest_blocks = "default"

# No intersphinx (it would download inventories): the standard library and third-party
# names in signatures are shown, unlinked.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(collections\.abc|typing|typing_extensions|enum|types|ssl|socket|asyncio|random|logging|pathlib|twisted)(\..*)?",
    ),
    (
        r"py:.*",
        r"(int|float|str|bytes|bytearray|memoryview|bool|object|None|tuple|list|dict|set|frozenset|type|Exception|ValueError|TypeError|KeyError|OSError|BaseException)",
    ),
]
highlight_language = "none"

# Examples run quietly: a session's warnings (a dead peer, say) are logged, not printed.
doctest_global_setup = "import logging\nlogging.disable(logging.CRITICAL)"
doctest_global_cleanup = "import logging\nlogging.disable(logging.NOTSET)"

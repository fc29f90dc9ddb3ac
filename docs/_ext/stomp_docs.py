"""Sphinx extension of the stomp-suite docs: API pages per package, the session's state diagram.

* At ``builder-inited`` it writes ``reference/<dist>.rst`` for every ``packages/*/pyproject.toml``
  (and ``reference/index.rst``), so a new package appears in the reference without editing
  the docs. The files are generated: ``docs/.gitignore`` keeps them out of git.
* ``.. session-transitions::`` renders ``stomp_session.TRANSITIONS`` at build time as a table
  and as an SVG state diagram drawn here (no Graphviz, Mermaid or network).
* Objects re-exported by a package's ``__init__`` are documented under the public name
  (``stomp_frame.Frame``); annotations that name the private module (``stomp_frame._frame.Frame``)
  are resolved to it.
* A public class split into private base classes (``stomp_core.ClientCore``) is documented
  whole: the public members of those bases as its own, and not the bases themselves.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import pkgutil
import re
import sys
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, cast

from docutils import nodes
from docutils.nodes import Element, Node, TextElement
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.domains.python import PythonDomain
from sphinx.environment import BuildEnvironment
from sphinx.errors import PycodeError
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.pycode import ModuleAnalyzer
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from stomp_session import REMOTE_INPUTS, TRANSITIONS, State

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES_DIR = REPO_ROOT / "packages"
GENERATED_DIR = "reference"
logger = logging.getLogger(__name__)
_PRIVATE_PART = re.compile(r"\._[A-Za-z0-9_]+")


# -- the packages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageDoc:
    """What the reference page of one distribution shows."""

    dist: str
    version: str
    description: str
    import_name: str | None
    dependencies: tuple[str, ...]
    siblings: tuple[str, ...]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(project: dict[str, Any], dist: str) -> str:
    """The version of a distribution as its reference page shows it.

    A dynamic version (hatchling reads it from the package's ``__version__``) is taken from
    the installed distribution: the docs session installs every package from its folder.
    """
    if "version" in project.get("dynamic", []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return ""
    return str(project.get("version", ""))


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9._-]+)", requirement)
    if match is None:
        msg = f"cannot read the requirement {requirement!r}"
        raise ValueError(msg)
    return _normalize(match.group(1))


def discover_packages(packages_dir: Path = PACKAGES_DIR) -> list[PackageDoc]:
    """Read every ``packages/*/pyproject.toml``; return them dependencies first.

    The order is the layering: a package comes after every sibling it depends on,
    and packages on the same level come in name order.
    """
    projects: dict[str, dict[str, Any]] = {}
    folders: dict[str, Path] = {}
    for pyproject in sorted(packages_dir.glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        dist = _normalize(project["name"])
        projects[dist] = project
        folders[dist] = pyproject.parent
    found: dict[str, PackageDoc] = {}
    for dist, project in projects.items():
        requirements = tuple(project.get("dependencies", []))
        src = folders[dist] / "src"
        imports = sorted(p.name for p in src.glob("*") if (p / "__init__.py").is_file())
        found[dist] = PackageDoc(
            dist=dist,
            version=_version(project, dist),
            description=str(project.get("description", "")),
            import_name=imports[0] if imports else None,
            dependencies=requirements,
            siblings=tuple(
                name for name in map(_requirement_name, requirements) if name in projects
            ),
        )
    depth: dict[str, int] = {}

    def level(dist: str, seen: tuple[str, ...] = ()) -> int:
        if dist in seen:
            msg = f"dependency cycle among packages: {' -> '.join((*seen, dist))}"
            raise ValueError(msg)
        if dist not in depth:
            below = [level(s, (*seen, dist)) for s in found[dist].siblings]
            depth[dist] = 1 + max(below, default=-1)
        return depth[dist]

    return sorted(found.values(), key=lambda p: (level(p.dist), p.dist))


@dataclass(frozen=True)
class Member:
    """One public name of a package, as its reference page documents it."""

    name: str
    kind: str
    """``class``, ``exception``, ``function``, ``type`` (a type alias), ``data``, or
    ``reexport`` (an object of another distribution; *value* is its public name)."""
    doc: tuple[str, ...] = ()
    """For ``type`` and ``data``: the docstring written after the assignment."""
    annotation: str | None = None
    value: str | None = None
    enum: bool = False
    """A class whose members are an enumeration: listed even without docstrings."""
    inherits: bool = False
    """A class with private base classes, whose public members are documented as its own."""


_KIND_TITLES = {
    "reexport": "Re-exported",
    "class": "Classes",
    "function": "Functions",
    "type": "Type aliases",
    "data": "Constants",
    "exception": "Exceptions",
}
_MAX_VALUE = 100


def _short(text: str) -> str:
    """A type or value as a reader writes it: no ``typing.`` and no private module paths."""
    text = re.sub(r"\btyping\.", "", text)
    return re.sub(r"\b(?:[A-Za-z_][A-Za-z0-9_]*\.)+(?=[A-Z][A-Za-z0-9_]*\b)", "", text)


def _attribute_doc(module: ModuleType, name: str, value: object) -> tuple[str, ...]:
    """Find the docstring of a module-level name: in *module*, or its private submodules."""
    private = sorted(
        loaded
        for loaded, mod in sys.modules.items()
        if loaded.startswith(module.__name__ + "._") and getattr(mod, name, _MISSING) is value
    )
    candidates = [module.__name__, *private]
    for modname in candidates:
        try:
            analyzer = ModuleAnalyzer.for_module(modname)
            analyzer.analyze()
        except PycodeError:
            continue
        if ("", name) in analyzer.attr_docs:
            annotation = analyzer.annotations.get(("", name))
            lines = tuple(analyzer.attr_docs["", name])
            return (annotation or "", *lines)
    return ("",)


_MISSING = object()


def public_members(module: ModuleType) -> list[Member]:
    """Classify every name of ``module.__all__`` for its reference page."""
    members: list[Member] = []
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        home = (
            getattr(value, "__module__", None)
            if inspect.isclass(value) or inspect.isfunction(value)
            else None
        )
        if isinstance(home, str) and public_name(home) != module.__name__:
            # Defined in another public module: documented there, linked from here.
            public = f"{public_name(home)}.{value.__qualname__}"
            members.append(Member(name=name, kind="reexport", value=public))
            continue
        if inspect.isclass(value):
            kind = "exception" if issubclass(value, BaseException) else "class"
            inherits = any(_private_class(base) for base in value.__mro__[1:])
            members.append(
                Member(name=name, kind=kind, enum=issubclass(value, Enum), inherits=inherits)
            )
        elif inspect.isfunction(value) or inspect.isbuiltin(value):
            members.append(Member(name=name, kind="function"))
        else:
            annotation, *doc = _attribute_doc(module, name, value)
            if annotation in ("TypeAlias", "typing.TypeAlias"):
                alias = value if isinstance(value, str) else _short(repr(value))
                members.append(Member(name=name, kind="type", doc=tuple(doc), value=alias))
                continue
            final = re.fullmatch(r"(?:typing\.)?Final\[(.*)\]", annotation)
            if final:
                declared = final.group(1)
            elif annotation and annotation not in ("Final", "typing.Final"):
                declared = annotation
            else:
                declared = type(value).__name__
            shown = public_name(repr(value))
            simple = isinstance(value, (bool, int, float, str, bytes, tuple, Enum))
            members.append(
                Member(
                    name=name,
                    kind="data",
                    doc=tuple(doc),
                    annotation=_short(declared),
                    value=shown if simple and len(shown) <= _MAX_VALUE else None,
                )
            )
    return members


ModuleMembers = tuple[str, "Sequence[Member] | None"]
"""A module's name and its public names (``None``: it could not be imported)."""


def reference_page(package: PackageDoc, modules: Sequence[ModuleMembers]) -> str:
    """The reST source of one distribution's API page.

    *modules* are the import package and its public submodules (``stomp_twisted.testing``),
    each with the names it exports; ``None`` when it could not be imported: then a plain
    ``automodule`` lets autodoc report why, and the build fails.
    """
    title = package.dist
    lines = [
        f".. Generated by docs/_ext/stomp_docs.py from packages/{package.dist}; do not edit.",
        "",
        title,
        "=" * len(title),
        "",
        f"{package.description}",
        "",
        f"Version {package.version}. Install: ``pip install {package.dist}``.",
    ]
    if package.dependencies:
        needs = ", ".join(f"``{r}``" for r in package.dependencies)
        lines.append(f"Depends on {needs}.")
    else:
        lines.append("No dependencies.")
    lines.append("")
    if not modules:
        lines.append("This distribution ships no import package.")
        return "\n".join(lines) + "\n"
    # The docstrings' examples run as doctests in the modules' namespace, as they would
    # with ``python -m doctest``.
    lines += [".. testsetup:: *", ""]
    lines += [f"   from {name} import *" for name, members in modules if members is not None]
    lines.append("")
    for index, (name, members) in enumerate(modules):
        level = "-" if index == 0 else "^"
        if index:
            heading = f"``{name}``"
            lines += [heading, "-" * len(heading), ""]
        if members is None:
            lines += [f".. automodule:: {name}", ""]
            continue
        lines += [f".. automodule:: {name}", "   :no-members:", ""]
        lines += _member_sections(name, members, level)
    return "\n".join(lines) + "\n"


def _member_sections(module: str, members: Sequence[Member], level: str) -> list[str]:
    lines: list[str] = []
    for kind, heading in _KIND_TITLES.items():
        chosen = [m for m in members if m.kind == kind]
        if not chosen:
            continue
        lines += [heading, level * len(heading), ""]
        if kind == "reexport":
            links = ", ".join(f":py:obj:`{m.name} <{m.value}>`" for m in chosen)
            lines += [
                f"Also importable from ``{module}``, documented where they are defined: {links}.",
                "",
            ]
            continue
        for member in chosen:
            full = f"{module}.{member.name}"
            if kind in ("class", "exception", "function"):
                lines.append(f".. auto{kind}:: {full}")
                if member.enum:
                    lines.append("   :undoc-members:")
                if member.inherits:
                    lines.append("   :inherited-members:")
                lines.append("")
                continue
            lines.append(f".. py:{kind}:: {full}")
            if kind == "type" and member.value is not None:
                lines.append(f"   :canonical: {member.value}")
            if kind == "data":
                if member.annotation:
                    lines.append(f"   :type: {member.annotation}")
                if member.value is not None:
                    lines.append(f"   :value: {member.value}")
            lines.append("")
            body = textwrap.dedent("\n".join(member.doc)).strip("\n")
            if body:
                lines += [f"   {line}" if line else "" for line in body.splitlines()]
                lines.append("")
    return lines


def public_modules(import_name: str) -> list[ModuleMembers]:
    """The import package and its public submodules, with their public names."""
    try:
        package = importlib.import_module(import_name)
    except ImportError:
        return [(import_name, None)]  # autodoc reports it, and the build fails
    found: list[ModuleMembers] = [(import_name, public_members(package))]
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        if info.name.startswith("_"):
            continue
        name = f"{import_name}.{info.name}"
        try:
            found.append((name, public_members(importlib.import_module(name))))
        except ImportError:
            found.append((name, None))
    return found


def reference_index(packages: Sequence[PackageDoc]) -> str:
    """The reST source of the reference's index page."""
    lines = [
        ".. Generated by docs/_ext/stomp_docs.py from packages/*; do not edit.",
        "",
        "API reference",
        "=============",
        "",
        "Every distribution's public API, from its docstrings: what its ``__init__`` lists in",
        "``__all__``. Listed from the bottom layer up.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
        *(f"   {package.dist}" for package in packages),
    ]
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_reference(app: Sphinx) -> None:
    """Write the generated API pages into the source folder (``builder-inited``)."""
    out = Path(app.srcdir) / GENERATED_DIR
    out.mkdir(exist_ok=True)
    packages = discover_packages()
    wanted: dict[str, str] = {}
    for package in packages:
        modules = public_modules(package.import_name) if package.import_name else []
        wanted[f"{package.dist}.rst"] = reference_page(package, modules)
    wanted["index.rst"] = reference_index(packages)
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        _write_if_changed(out / name, text)


# -- public names for re-exported objects ----------------------------------------------------


def public_name(target: str) -> str:
    """``stomp_frame._frame.Frame`` -> ``stomp_frame.Frame``: drop private module parts."""
    return _PRIVATE_PART.sub("", target)


def _private_class(cls: type) -> bool:
    """Whether *cls* is defined in a private module and its package does not export it."""
    if not _PRIVATE_PART.search(cls.__module__):
        return False
    package = sys.modules.get(public_name(cls.__module__))
    exported = getattr(package, "__all__", ())
    return not (cls.__name__ in exported and getattr(package, cls.__name__, None) is cls)


class PublicModuleContext(SphinxPostTransform):
    """Point Python references at public names, the way Python itself binds them.

    A docstring or annotation written in ``stomp_twisted._client`` that names
    ``Subscription`` means whatever ``stomp_twisted.Subscription`` is; left alone, Sphinx
    would search by the last name only and find every ``Subscription`` of every package.
    So the module context loses its private parts, a private path in a target is made
    public, and a name bound in the context module is replaced by its defining
    package's public name (``stomp_sync.Subscription`` is ``stomp_session.Subscription``).
    """

    default_priority = 5  # before the ReferencesResolver (10)

    def run(self, **_kwargs: Any) -> None:
        """Rewrite the context and target of every Python reference."""
        for node in self.document.findall(pending_xref):
            if node.get("refdomain") != "py":
                continue
            module = node.get("py:module")
            if module:
                module = node["py:module"] = public_name(module)
            target = node["reftarget"] = public_name(node.get("reftarget", ""))
            if module and target and not target.startswith((".", "~")):
                node["reftarget"] = _bound_name(module, target, node.get("py:class"))


def _bound_name(module: str, target: str, context: str | None = None) -> str:
    """``target`` as seen from ``module``: the public name of the object it is bound to.

    In a member of the class *context* that comes from a private base class (documented
    as the class's own), a name not bound in ``module`` is read where that base was
    written.
    """
    head, _, rest = target.partition(".")
    scope = sys.modules.get(module)
    bound = getattr(scope, head, None)
    owner = getattr(scope, context, None) if context else None
    if bound is None and inspect.isclass(owner):
        for base in owner.__mro__[1:]:
            if _private_class(base):
                bound = getattr(sys.modules.get(base.__module__), head, None)
                if bound is not None:
                    break
    if not (inspect.isclass(bound) or inspect.isfunction(bound)):
        return target
    home = public_name(bound.__module__)
    return ".".join(part for part in (home, bound.__qualname__, rest) if part)


def resolve_reference(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: TextElement
) -> Element | None:
    """Resolve a Python reference that Sphinx could not, the way a reader means it.

    Docstrings live in private modules (``stomp_frame._frame``) but are documented under
    the public package, so the target and the module it is looked up from are retried
    without their private parts, as any kind of object (a type alias named with
    ``:class:``), and by its last name when exactly one documented object has it
    (annotations of aliases come without a module). In the generated API reference a
    name that is not public (a private alias, say) is left unlinked; on the hand-written
    pages it stays an error.
    """
    if node.get("refdomain") != "py":
        return None
    domain = cast("PythonDomain", env.get_domain("py"))
    target = public_name(node.get("reftarget", ""))
    module = node.get("py:module")
    retry = node.deepcopy()
    retry["reftarget"] = target
    retry["py:module"] = public_name(module) if module else None
    refdoc = node.get("refdoc", "")
    for reftype in dict.fromkeys((node["reftype"], "obj")):
        found = domain.resolve_xref(env, refdoc, app.builder, reftype, target, retry, contnode)
        if found is not None:
            return found
    last = target.rpartition(".")[2]
    named = {name for name in domain.objects if name == last or name.endswith("." + last)}
    if len(named) > 1:  # a name several packages export: the one the target names
        named = {name for name in named if name == target or name.endswith("." + target)}
    if len(named) == 1:
        (only,) = named
        retry["reftarget"] = only
        return domain.resolve_xref(env, refdoc, app.builder, "obj", only, retry, contnode)
    if refdoc.startswith(GENERATED_DIR + "/") and not _ignored(app, node["reftype"], target):
        UNLINKED.add(target)
        return contnode
    return None


def _ignored(app: Sphinx, reftype: str, target: str) -> bool:
    """Whether ``nitpick_ignore_regex`` already excuses this target (standard library)."""
    return any(
        re.fullmatch(kind, f"py:{reftype}") and re.fullmatch(name, target)
        for kind, name in app.config.nitpick_ignore_regex
    )


UNLINKED: set[str] = set()
"""Names the API reference shows without a link (not public); reported after the build."""


UNTESTED_IN_REFERENCE: list[str] = []
"""Code blocks of the packages' docstrings that no test runs; reported after the build."""


def report(_app: Sphinx, exception: BaseException | None) -> None:
    """Report on the API reference (``build-finished``).

    Unlinked names go to the log. Untested examples of docstrings go to stderr, which
    ``-q`` does not silence: they do not fail the build (the docstrings belong to the
    packages), but they should become doctests.
    """
    if exception is not None:
        return
    if UNLINKED:
        names = ", ".join(sorted(UNLINKED))
        logger.info("API reference: not public, shown unlinked: %s", names)
    for line in dict.fromkeys(UNTESTED_IN_REFERENCE):
        sys.stderr.write(f"note: API reference {line}\n")


# -- every example runs --------------------------------------------------------------------

PROSE_LANGUAGES = frozenset({"console", "text", "none"})
"""Block languages that hold commands, output or diagrams, not code to run. A plain ``::``
block is ``none`` (``highlight_language``); it must not hold Python."""
TESTS_DIR = REPO_ROOT / "tests"


def _tested_files() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(TESTS_DIR.rglob("*.py")))


def untested_examples(doctree: nodes.document, tested: str) -> list[tuple[Node, str]]:
    """Return the code blocks of a page that no test runs, with the reason.

    Run: doctest blocks (``>>>``) and ``testcode``/``doctest`` directives (the doctest
    builder runs them), and ``literalinclude`` of a file whose path some test under
    ``tests/`` names. Commands and output may stand in ``console``, ``text`` or
    ``none`` blocks, as long as they hold no ``>>>`` session.
    """
    found: list[tuple[Node, str]] = []
    for block in doctree.findall(nodes.literal_block):
        if block.get("testnodetype"):
            continue
        source = block.get("source")
        if source and Path(source).suffix == ".py":
            relative = Path(source).resolve().relative_to(REPO_ROOT).as_posix()
            if relative not in tested:
                found.append((block, f"{relative} is included, but no test under tests/ runs it"))
            continue
        language = block.get("language", "none")
        text = block.astext()
        if language not in PROSE_LANGUAGES:
            found.append((block, f"a {language} block no test runs: use >>> or testcode"))
        elif re.search(r"^\s*>>> ", text, re.MULTILINE):
            found.append((block, "a >>> session in a literal block is not run: drop the ::"))
        elif language == "none" and _looks_like_python(text):
            found.append((block, "Python code in a literal block is not run: use testcode"))
    return found


def _looks_like_python(text: str) -> bool:
    """Whether a ``::`` block is Python code: it parses, and does more than name a value."""
    try:
        tree = ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError):
        return False
    return any(
        not isinstance(node, ast.Expr) or isinstance(node.value, ast.Call) for node in tree.body
    )


def check_examples(app: Sphinx, doctree: nodes.document) -> None:
    """Warn about every code block that no test runs (``doctree-read``).

    On the hand-written pages it is a warning (the build uses -W, so an error); in the
    generated API reference, whose docstrings belong to the packages, it is reported.
    """
    docname = app.env.docname
    for block, reason in untested_examples(doctree, _tested_files()):
        if docname.startswith(GENERATED_DIR + "/"):
            UNTESTED_IN_REFERENCE.append(f"{docname}:{block.line or '?'}: {reason}")
        else:
            logger.warning(reason, location=block, type="stomp-docs", subtype="untested")


# -- the state diagram -----------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """One arrow of the diagram: every input that moves *source* to *target*."""

    source: str
    target: str
    inputs: tuple[str, ...]


def _label(value: Enum, *, remote: bool) -> str:
    text = str(value.value)
    return text if remote else f"{text}()"


def state_order(transitions: Mapping[tuple[Any, Any], Any], initial: Any) -> list[Any]:
    """States from *initial* down, each after every state that leads to it.

    Arrows that close a cycle (back to a state on the current path of a depth-first
    walk from *initial*) are set aside; each state's row is then the length of the
    longest path to it, so the usual course of a connection reads top to bottom.
    """
    following: dict[Any, list[Any]] = defaultdict(list)
    for (source, _), target in transitions.items():
        if source is not target and target not in following[source]:
            following[source].append(target)
    finished: list[Any] = []
    on_path: set[Any] = set()
    cycles: set[tuple[Any, Any]] = set()

    def walk(state: Any) -> None:
        on_path.add(state)
        for target in following[state]:
            if target in on_path:
                cycles.add((state, target))
            elif target not in finished:
                walk(target)
        on_path.discard(state)
        finished.append(state)

    walk(initial)
    for source, _ in transitions:
        if source not in finished:
            walk(source)
    ordered = finished[::-1]
    rank = dict.fromkeys(ordered, 0)
    for state in ordered:
        for target in following[state]:
            if (state, target) not in cycles:
                rank[target] = max(rank[target], rank[state] + 1)
    return sorted(ordered, key=lambda state: (rank[state], ordered.index(state)))


def transition_edges(
    transitions: Mapping[tuple[Any, Any], Any], remote: Iterable[Any]
) -> tuple[list[Edge], dict[str, list[str]]]:
    """Group the table into arrows (state changes) and, per state, the inputs that keep it."""
    remote_inputs = frozenset(remote)
    changes: dict[tuple[str, str], list[str]] = defaultdict(list)
    stays: dict[str, list[str]] = defaultdict(list)
    for (source, event), target in transitions.items():
        label = _label(event, remote=event in remote_inputs)
        if source is target:
            stays[source.name].append(label)
        else:
            changes[source.name, target.name].append(label)
    edges = [Edge(source=s, target=t, inputs=tuple(i)) for (s, t), i in changes.items()]
    return edges, dict(stays)


@dataclass(frozen=True)
class _Bracket:
    rows: tuple[int, ...]
    """Rows joined: the first is the target, the others the sources."""
    inputs: tuple[str, ...]
    side: int
    """-1: left of the boxes (arrows going up), 1: right (going down)."""

    @property
    def span(self) -> int:
        return max(self.rows) - min(self.rows)


class StateDiagram:
    """An SVG drawing of a state table: states in a column, arrows beside it.

    Arrows to the next state down are straight, with their inputs written beside them.
    Every other arrow is a bracket: going down on the right, going up on the left;
    arrows up to the same state with the same inputs share one bracket.
    """

    BOX_W: ClassVar[int] = 180
    BOX_H: ClassVar[int] = 38
    PITCH: ClassVar[int] = 112
    LINE: ClassVar[int] = 14
    CHAR: ClassVar[float] = 7.0
    """Width of one character of the 12px monospace labels (a generous estimate)."""
    MARGIN: ClassVar[int] = 16

    def __init__(self, states: Sequence[str], edges: Sequence[Edge]) -> None:
        self.states = list(states)
        self.row = {state: index for index, state in enumerate(self.states)}
        self.straight = [e for e in edges if self.row[e.target] == self.row[e.source] + 1]
        self.brackets: list[_Bracket] = []
        upward: dict[tuple[int, tuple[str, ...]], list[int]] = defaultdict(list)
        for edge in edges:
            source, target = self.row[edge.source], self.row[edge.target]
            if target == source + 1:
                continue
            if target > source:
                self.brackets.append(_Bracket(rows=(target, source), inputs=edge.inputs, side=1))
            else:
                upward[target, edge.inputs].append(source)
        for (target, inputs), sources in upward.items():
            self.brackets.append(_Bracket(rows=(target, *sorted(sources)), inputs=inputs, side=-1))
        self.brackets.sort(key=lambda b: (b.side, b.span, b.rows))

    def _text_width(self, lines: Iterable[str]) -> float:
        return max((len(line) for line in lines), default=0) * self.CHAR

    def render(self) -> str:
        """Return the SVG document."""
        straight_w = self._text_width(i for e in self.straight for i in e.inputs)
        half = self.BOX_W / 2
        # Horizontal positions of each bracket's vertical line, from the boxes outwards.
        positions: dict[int, float] = {}
        reach = {-1: half + 28.0, 1: max(half, 12 + straight_w) + 28.0}
        for index, bracket in enumerate(self.brackets):
            positions[index] = reach[bracket.side]
            reach[bracket.side] += self._text_width(bracket.inputs) + 34
        left = reach[-1] + self.MARGIN
        right = reach[1] + self.MARGIN
        cx = left
        width = left + right
        top = self.MARGIN + self.LINE
        height = top + (len(self.states) - 1) * self.PITCH + self.BOX_H + self.MARGIN
        parts = [
            (
                f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
                f'width="{width:.0f}" style="max-width: 100%; height: auto" role="img" '
                'aria-label="State diagram of stomp_session.Session">'
            ),
            (
                '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
                'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                '<path d="M0,0 L10,5 L0,10 z" fill="currentColor"/></marker></defs>'
            ),
            '<g font-family="monospace" font-size="12" fill="currentColor" stroke="currentColor">',
        ]

        def y_of(row: int) -> float:
            return top + row * self.PITCH + self.BOX_H / 2

        for row, state in enumerate(self.states):
            y = y_of(row) - self.BOX_H / 2
            parts.append(
                f'<rect x="{cx - half:.1f}" y="{y:.1f}" width="{self.BOX_W}" '
                f'height="{self.BOX_H}" rx="6" fill="none" stroke-width="1.5"/>'
                f'<text x="{cx:.1f}" y="{y + self.BOX_H / 2 + 4:.1f}" text-anchor="middle" '
                f'stroke="none" font-weight="bold">{html.escape(state)}</text>'
            )
        for edge in self.straight:
            y1 = y_of(self.row[edge.source]) + self.BOX_H / 2
            y2 = y_of(self.row[edge.target]) - self.BOX_H / 2
            parts.append(
                f'<line x1="{cx:.1f}" y1="{y1:.1f}" x2="{cx:.1f}" y2="{y2:.1f}" '
                'marker-end="url(#arrow)"/>'
            )
            parts.append(self._lines(edge.inputs, cx + 12, (y1 + y2) / 2, "start"))
        ports: dict[tuple[int, int], int] = defaultdict(int)
        for bracket in self.brackets:
            for row in bracket.rows:
                ports[row, bracket.side] += 1
        used: dict[tuple[int, int], int] = defaultdict(int)
        for index, bracket in enumerate(self.brackets):
            side = bracket.side
            x_box = cx + side * half
            x_line = cx + side * positions[index]

            def port(row: int, side: int = side) -> float:
                count = ports[row, side]
                used[row, side] += 1
                offset = (used[row, side] - (count + 1) / 2) * 10
                return y_of(row) + offset

            target, *sources = bracket.rows
            ys = {row: port(row) for row in bracket.rows}
            y_top = min(ys.values())
            y_bottom = max(ys.values())
            parts.append(
                f'<line x1="{x_line:.1f}" y1="{y_top:.1f}" x2="{x_line:.1f}" '
                f'y2="{y_bottom:.1f}" fill="none"/>'
            )
            parts.extend(
                f'<line x1="{x_box:.1f}" y1="{ys[row]:.1f}" x2="{x_line:.1f}" y2="{ys[row]:.1f}"/>'
                for row in sources
            )
            parts.append(
                f'<line x1="{x_line:.1f}" y1="{ys[target]:.1f}" x2="{x_box:.1f}" '
                f'y2="{ys[target]:.1f}" marker-end="url(#arrow)"/>'
            )
            # The label sits in a gap between two boxes, beside the vertical line.
            rows = sorted(bracket.rows)
            gap = (rows[0] + rows[-1] - 1) // 2
            y_label = y_of(gap) + self.PITCH / 2
            anchor = "start" if side > 0 else "end"
            parts.append(self._lines(bracket.inputs, x_line + side * 6, y_label, anchor))
        parts.append("</g></svg>")
        return "\n".join(parts)

    def _lines(self, lines: Sequence[str], x: float, y_middle: float, anchor: str) -> str:
        first = y_middle - (len(lines) - 1) * self.LINE / 2 + 4
        spans = "".join(
            f'<tspan x="{x:.1f}" y="{first + i * self.LINE:.1f}">{html.escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        return f'<text text-anchor="{anchor}" stroke="none">{spans}</text>'


def session_diagram() -> tuple[str, list[tuple[str, list[str], str]]]:
    """Render ``stomp_session.TRANSITIONS``: the SVG, and table rows (state, inputs, next)."""
    order = state_order(TRANSITIONS, State.DISCONNECTED)
    edges, _ = transition_edges(TRANSITIONS, REMOTE_INPUTS)
    svg = StateDiagram([s.name for s in order], edges).render()
    rows: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (source, event), target in TRANSITIONS.items():
        rows[source.name, target.name].append(_label(event, remote=event in REMOTE_INPUTS))
    position = {state.name: index for index, state in enumerate(order)}
    table = [
        (source, inputs, target)
        for (source, target), inputs in sorted(
            rows.items(), key=lambda item: (position[item[0][0]], position[item[0][1]])
        )
    ]
    return svg, table


class SessionTransitions(SphinxDirective):
    """``.. session-transitions::``: the state diagram and the table of ``TRANSITIONS``."""

    has_content = False

    def run(self) -> list[Node]:
        """Build the nodes (the SVG is raw HTML; other builders get the table alone)."""
        svg, rows = session_diagram()
        figure = nodes.container(classes=["state-diagram"])
        figure += nodes.raw("", svg, format="html")
        table = nodes.table(classes=["transitions"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (22, 56, 22):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["state", "inputs", "next state"])
        body = nodes.tbody()
        group += body
        for source, inputs, target in rows:
            body += self._row([source, ", ".join(inputs), target])
        return [figure, table]

    @staticmethod
    def _row(cells: Sequence[str]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph("", "", nodes.literal(text, text))
            row += entry
        return row


def _prose_attribute_docstring(self: GoogleDocstring) -> list[str]:
    return self._consume_to_end()


def public_bases(bases: Sequence[type]) -> list[type]:
    """*bases* with each private class replaced by its own bases, recursively."""
    shown: list[type] = []
    for base in bases:
        for public in public_bases(base.__bases__) if _private_class(base) else [base]:
            if public not in shown:
                shown.append(public)
    return shown


def show_public_bases(
    _app: Sphinx, _name: str, _obj: object, _options: object, bases: list[type]
) -> None:
    """Show only public bases in the class entries (``autodoc-process-bases``).

    A private base (``stomp_core._requests.Requests``) is a part of the class: its public
    members are documented as the class's own (``:inherited-members:``), and its own
    bases are shown in its place. "Bases: object" is left out.
    """
    shown = public_bases(bases)
    bases[:] = [] if shown == [object] else shown


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the generator, the reference resolver and the directive."""
    # Napoleon reads "text: more" in an attribute's docstring as "type: description";
    # here attribute docstrings are prose and types come from the annotations.
    GoogleDocstring._parse_attribute_docstring = _prose_attribute_docstring  # type: ignore[method-assign]
    app.connect("builder-inited", write_reference)
    app.connect("missing-reference", resolve_reference)
    app.connect("build-finished", report)
    app.connect("doctree-read", check_examples)
    app.add_post_transform(PublicModuleContext)
    app.connect("autodoc-process-bases", show_public_bases)
    app.add_directive("session-transitions", SessionTransitions)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

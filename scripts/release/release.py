"""This project's own release rules; versions, parsing, builds and uploads are left to tools.

hatchling reads and bumps each version: its one source is ``__version__`` in the file named
by ``[tool.hatch.version] path`` (``hatch version minor`` in a package folder runs the same
``python -m hatchling version minor`` that ``bump`` runs); ``packaging`` parses versions and
requirements; ``build`` and ``twine`` build and upload. What is left::

    python scripts/release/release.py bump DIST (major|minor|patch|rc|X.Y.Z|...)
    python scripts/release/release.py check [DIST ...]
    python scripts/release/release.py order
    python scripts/release/release.py tag DIST [--create]

``bump`` bumps with hatchling, opens ``## X.Y.Z (unreleased)`` in the package's
``CHANGELOG.md`` (or renames a newest section still marked unreleased) and warns about
siblings whose range now excludes the new version. ``check``: a dynamic version read by
hatchling, a changelog that opens with it, sibling dependencies as bounded ranges that
admit the sibling's version here. ``order``: the release order along the dependency graph,
with each tag. ``tag``: the checks, plus a dated section with notes, a released (tagged)
version of each sibling within the range, and no such tag yet; prints or creates the tag
``<dist>-v<version>``. Exit status: 0 done, 1 refused (nothing changed), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
Runner = Callable[[Sequence[str]], str]
SOURCE_PROBLEM = (
    '{}: one version source: declare dynamic = ["version"] in [project] and the file holding '
    '__version__ in [tool.hatch.version] path = "src/<import>/__init__.py"'
)


class ReleaseError(Exception):
    """The repository is not in a state the command can act on; nothing was changed."""


@dataclass(frozen=True)
class Package:
    """One distribution of ``packages/``, as its ``pyproject.toml`` declares it."""

    dist: NormalizedName
    folder: Path
    requirements: tuple[Requirement, ...]
    version_source: str | None
    """``[tool.hatch.version] path`` when the version is dynamic, else ``None``."""

    @property
    def changelog(self) -> Path:
        """``CHANGELOG.md`` of the package."""
        return self.folder / "CHANGELOG.md"


def discover(root: Path = ROOT) -> dict[NormalizedName, Package]:
    """Every distribution of ``root/packages/*/pyproject.toml``, by normalized name."""
    found: dict[NormalizedName, Package] = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        project = data.get("project", {})
        try:
            requirements = tuple(Requirement(r) for r in project.get("dependencies", []))
        except InvalidRequirement as error:
            raise ReleaseError(f"{pyproject}: {error}") from None
        path = data.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
        dynamic = "version" in project.get("dynamic", []) and isinstance(path, str)
        dist = canonicalize_name(str(project.get("name", pyproject.parent.name)))
        found[dist] = Package(dist, pyproject.parent, requirements, path if dynamic else None)
    return found


def find(packages: dict[NormalizedName, Package], dist: str) -> Package:
    """The distribution called *dist*; refused with the known names otherwise."""
    try:
        return packages[canonicalize_name(dist)]
    except KeyError:
        msg = f"no distribution {dist!r} (known: {', '.join(sorted(packages)) or 'none'})"
        raise ReleaseError(msg) from None


def hatchling_version(package: Package, *target: str) -> Version:
    """Run ``python -m hatchling version [target]`` in the package; return the version."""
    if target and package.version_source is None:
        raise ReleaseError(SOURCE_PROBLEM.format(package.dist))
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed module, a known folder
        [sys.executable, "-m", "hatchling", "version", *target],
        cwd=package.folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"{package.dist}: hatchling version {' '.join(target)}: {reason}")
    if target:
        return hatchling_version(package)
    try:
        return Version(done.stdout.strip())
    except InvalidVersion:
        msg = f"{package.dist}: hatchling reads {done.stdout.strip()!r}, not a PEP 440 version"
        raise ReleaseError(msg) from None


def siblings(
    package: Package, packages: dict[NormalizedName, Package]
) -> list[tuple[Requirement, Package]]:
    """The requirements of *package* on other distributions of this repository."""
    return [
        (requirement, packages[name])
        for requirement in package.requirements
        if (name := canonicalize_name(requirement.name)) in packages
    ]


def range_problem(requirement: Requirement) -> str | None:
    """Why a sibling requirement is not a bounded range (``>=0.1,<1``), or ``None``."""
    operators = {spec.operator for spec in requirement.specifier}
    if requirement.url:
        return "is a direct reference (name @ url), not a version range"
    if operators & {"==", "==="}:
        return "pins one version (==); published metadata needs a range"
    if not operators & {">=", ">", "~="}:
        return "has no lower bound (>=)"
    if not operators & {"<", "<=", "~="}:
        return "has no upper bound (<)"
    return None


def admits(requirement: Requirement, version: Version) -> bool:
    """Whether *requirement* accepts *version* (a pre-release too, when asked for)."""
    return requirement.specifier.contains(version, prereleases=True)


def release_order(packages: dict[NormalizedName, Package]) -> list[NormalizedName]:
    """Every distribution after the siblings it depends on; ties in name order."""
    sorter: TopologicalSorter[NormalizedName] = TopologicalSorter()
    for dist in sorted(packages):
        sorter.add(dist, *sorted(sibling.dist for _, sibling in siblings(packages[dist], packages)))
    try:
        sorter.prepare()
    except CycleError as error:
        raise ReleaseError(f"dependency cycle: {' -> '.join(error.args[1])}") from None
    order: list[NormalizedName] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def tag_name(dist: str, version: Version) -> str:
    """``stomp-frame-v1.0.0``: the distribution, then its version."""
    return f"{dist}-v{version}"


@dataclass(frozen=True)
class Section:
    """The newest ``## <version> [(date | unreleased)]`` section of a changelog."""

    line: int
    title: str
    version: Version | None
    """``None`` when the title names no version (``## Unreleased``)."""
    unreleased: bool
    notes: int
    """How many non-blank lines it holds."""


def newest_section(text: str) -> Section | None:
    """The first ``## `` section of a Markdown changelog, or ``None``."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if not starts:
        return None
    first, end = starts[0], (starts[1:] or [len(lines)])[0]
    title = lines[first][3:].strip()
    try:
        version: Version | None = Version(title.split(maxsplit=1)[0].strip("[]"))
    except (InvalidVersion, IndexError):
        version = None
    notes = sum(1 for line in lines[first + 1 : end] if line.strip())
    return Section(first, title, version, "unreleased" in title.lower(), notes)


def changelog_problem(package: Package, version: Version, *, for_release: bool) -> str | None:
    """Why the changelog does not open with *version* (or, *for_release*, is not ready)."""
    if not package.changelog.is_file():
        return f"{package.dist}: {package.changelog} is missing; every distribution keeps one"
    section = newest_section(package.changelog.read_text(encoding="utf-8"))
    if section is None or section.version != version:
        opens = "has no '## ' section" if section is None else f"opens with '## {section.title}'"
        return f"{package.changelog} {opens}, but the version is {version}"
    if for_release and section.unreleased:
        return f"{package.changelog}: '## {section.title}': write the date, '## {version} (Y-M-D)'"
    if for_release and section.notes == 0:
        return f"{package.changelog}: the section '## {section.title}' has no notes"
    return None


def _open_section(text: str, old: Version, new: Version) -> str:
    heading, section = f"## {new} (unreleased)\n", newest_section(text)
    lines = text.splitlines(keepends=True)
    if section is None:
        return (text.rstrip("\n") + "\n\n" if text.strip() else "") + heading
    if section.unreleased and section.version in (old, None):
        lines[section.line] = heading
    elif section.version == old:
        lines[section.line : section.line] = [heading, "\n"]
    else:
        raise ReleaseError(f"the newest section is '## {section.title}', the version is {old}")
    return "".join(lines)


def bump(dist: str, target: str, root: Path = ROOT) -> tuple[Version, Version, list[str]]:
    """Bump *dist* with hatchling; open its changelog section; warn about excluding ranges."""
    packages = discover(root)
    package = find(packages, dist)
    old = hatchling_version(package)
    if not package.changelog.is_file():
        raise ReleaseError(f"{package.dist}: {package.changelog} is missing")
    text = package.changelog.read_text(encoding="utf-8")
    try:
        _open_section(text, old, old)  # refuse before hatchling writes anything
    except ReleaseError as error:
        raise ReleaseError(f"{package.changelog}: {error}") from None
    new = hatchling_version(package, target)
    package.changelog.write_text(_open_section(text, old, new), encoding="utf-8")
    return (
        old,
        new,
        [
            f"{other.dist} requires '{requirement}', which excludes {new}: widen it in "
            f"{other.folder / 'pyproject.toml'} and release {other.dist} after {package.dist}"
            for other in packages.values()
            for requirement, sibling in siblings(other, packages)
            if sibling.dist == package.dist and not admits(requirement, new)
        ],
    )


def versions(packages: dict[NormalizedName, Package]) -> dict[NormalizedName, Version | str]:
    """Each distribution's version, or why hatchling could not read it."""
    found: dict[NormalizedName, Version | str] = {}
    for dist, package in packages.items():
        try:
            found[dist] = hatchling_version(package)
        except ReleaseError as error:  # noqa: PERF203 - one subprocess per package anyway
            found[dist] = str(error)
    return found


def problems(
    package: Package,
    packages: dict[NormalizedName, Package],
    known: dict[NormalizedName, Version | str],
    *,
    for_release: bool,
) -> list[str]:
    """Everything that keeps *package* from being consistent (or, *for_release*, released)."""
    version = known[package.dist]
    if isinstance(version, str):
        return [version]
    found = [SOURCE_PROBLEM.format(package.dist)] if package.version_source is None else []
    found += [p for p in [changelog_problem(package, version, for_release=for_release)] if p]
    for requirement, sibling in siblings(package, packages):
        problem, current = range_problem(requirement), known[sibling.dist]
        if problem is not None:
            found.append(f"{package.dist}: the sibling dependency '{requirement}' {problem}")
        elif isinstance(current, Version) and not admits(requirement, current):
            found.append(f"{package.dist}: '{requirement}' excludes {sibling.dist} {current}")
    return found


def git_in(root: Path) -> Runner:
    """A runner of ``git`` in *root* that returns its output."""

    def run(args: Sequence[str]) -> str:
        executable = shutil.which("git") or "git"
        done = subprocess.run(  # noqa: S603 - arguments built here (checked tag names)
            [executable, *args], cwd=root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ReleaseError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    return run


def tagged(dist: str, run: Runner) -> list[Version]:
    """The versions of *dist* that have a tag ``<dist>-v<version>``."""
    names = run(["tag", "--list", f"{dist}-v*"]).split()
    texts = [name.removeprefix(f"{dist}-v") for name in names]
    return [Version(text) for text in texts if _is_version(text)]


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def tag(dist: str, *, create: bool, root: Path = ROOT, run: Runner | None = None) -> list[str]:
    """Check that *dist* is ready for release; return (and with *create*, run) ``git tag``."""
    git = run or git_in(root)
    packages = discover(root)
    package = find(packages, dist)
    known = versions(packages)
    found = problems(package, packages, known, for_release=True)
    found += [
        f"'{requirement}' admits no tagged {sibling.dist}: release {sibling.dist} first"
        for requirement, sibling in siblings(package, packages)
        if not any(admits(requirement, v) for v in tagged(sibling.dist, git))
    ]
    version = known[package.dist]
    if found or not isinstance(version, Version):
        raise ReleaseError("\n".join([f"{package.dist} is not ready for release:", *found]))
    name = tag_name(package.dist, version)
    if git(["tag", "--list", name]).strip():
        raise ReleaseError(f"the tag {name} exists already: bump the version first")
    command = ["tag", "-a", name, "-m", f"{package.dist} {version}"]
    if create:
        git(command)
    return ["git", *command]


def main(argv: Sequence[str] | None = None, *, run: Runner | None = None) -> int:
    """Run a command; return the exit status."""
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this)")
    commands = parser.add_subparsers(dest="command", required=True)
    bump_parser = commands.add_parser("bump", help="bump with hatchling, open a changelog section")
    bump_parser.add_argument("dist")
    bump_parser.add_argument("target", help="major, minor, patch, rc, ... or a version X.Y.Z")
    commands.add_parser("check", help="versions, changelogs, ranges").add_argument(
        "dist", nargs="*"
    )
    commands.add_parser("order", help="the release order, dependencies first, with tags")
    tag_parser = commands.add_parser("tag", help="check a release; print or create its tag")
    tag_parser.add_argument("dist")
    tag_parser.add_argument("--create", action="store_true", help="create the tag with git")
    args = parser.parse_args(argv)
    root, out = args.root.resolve(), sys.stdout.write
    try:
        if args.command == "bump":
            old, new, warnings = bump(args.dist, args.target, root)
            out(f"{args.dist}: {old} -> {new}; CHANGELOG.md opens '## {new} (unreleased)'\n")
            sys.stderr.writelines(f"warning: {warning}\n" for warning in warnings)
        elif args.command == "tag":
            command = tag(args.dist, create=args.create, root=root, run=run)
            words = [f'"{word}"' if " " in word else word for word in command]
            out(("created: " if args.create else "") + " ".join(words) + "\n")
        else:
            packages = discover(root)
            known = versions(packages)
            if args.command == "order":
                for dist in release_order(packages):
                    version = known[dist]
                    name = tag_name(dist, version) if isinstance(version, Version) else "-"
                    out(f"{dist} {version if isinstance(version, Version) else '?'} {name}\n")
                return 0
            chosen = [find(packages, d) for d in args.dist] or list(packages.values())
            found = [p for c in chosen for p in problems(c, packages, known, for_release=False)]
            if found:
                raise ReleaseError("\n".join(dict.fromkeys(found)))
            out(f"ok: {', '.join(p.dist for p in chosen)}\n")
    except ReleaseError as error:
        sys.stderr.write(f"refused: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Release tooling of the monorepo: bump one distribution's version, check it, name its tag.

Each distribution in ``packages/<dist>/`` has its own version, written in two places that
must agree (``[project] version`` in its ``pyproject.toml`` and ``__version__`` in its
``src/<import>/__init__.py``), and its own ``CHANGELOG.md``, whose newest ``## <version>``
section is the version's. Commands::

    python scripts/release/release.py bump DIST (major|minor|patch|X.Y.Z)
    python scripts/release/release.py tag DIST [--create]
    python scripts/release/release.py check [DIST ...]

``bump`` writes the new version in both places and opens ``## X.Y.Z (unreleased)`` at the
top of the changelog (an unreleased newest section is renamed instead: its notes move to
the new version). ``tag`` checks that a release is ready (versions agree, the changelog
section is dated or plain, not "unreleased", and has notes; sibling dependencies are
ranges that admit the siblings' versions) and prints the ``git tag`` command, or runs it
with ``--create``. ``check`` runs the same checks on every distribution. Each refuses an
inconsistent state with a message that says what to fix, and changes nothing then.
Exit status: 0 done, 1 refused, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?")
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}
_FINAL = (3, 0)
_PROJECT_VERSION = re.compile(r'^(version\s*=\s*)"([^"]*)"(\s*(?:#.*)?)$')
_INIT_VERSION = re.compile(r"""^(__version__\s*(?::\s*[\w.\[\]]+\s*)?=\s*)(["'])([^"']*)\2(.*)$""")
_HEADING = re.compile(r"^##\s+(.*?)\s*$")
_SECTION_VERSION = re.compile(r"\[?v?(\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?)\]?(.*)$")
_UNRELEASED = re.compile(r"\bunreleased\b", re.IGNORECASE)
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*(?:;.*)?$")
_SPECIFIER = re.compile(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,]+)\s*")


class ReleaseError(Exception):
    """The repository is not in a state the command can act on; nothing was changed."""


# -- versions -------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Version:
    """A release version ``X.Y.Z``, optionally a pre-release ``X.Y.ZaN``, ``bN`` or ``rcN``."""

    major: int
    minor: int
    patch: int
    pre: tuple[int, int] = _FINAL
    """``(rank, number)``: a 0, b 1, rc 2; a final release is ``(3, 0)`` and sorts last."""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Read ``X.Y.Z`` (or ``X.Y.ZaN``, ``X.Y.ZbN``, ``X.Y.ZrcN``)."""
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            msg = f"{text!r} is not a version of the form X.Y.Z (or X.Y.ZaN, bN, rcN)"
            raise ReleaseError(msg)
        major, minor, patch, kind, number = match.groups()
        pre = (_PRE_RANK[kind], int(number)) if kind else _FINAL
        return cls(int(major), int(minor), int(patch), pre)

    def bumped(self, part: str) -> Version:
        """The next ``major``, ``minor`` or ``patch`` release."""
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        msg = f"unknown part {part!r}: use major, minor or patch"
        raise ReleaseError(msg)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre != _FINAL:
            kind = {rank: name for name, rank in _PRE_RANK.items()}[self.pre[0]]
            text += f"{kind}{self.pre[1]}"
        return text


def _loose_version(text: str) -> Version:
    """A version in a specifier, where ``0.1`` means ``0.1.0``."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        return Version.parse(text)
    numbers = [int(part) for part in parts] + [0] * (3 - len(parts))
    return Version(numbers[0], numbers[1], numbers[2])


# -- requirements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """A dependency of ``[project] dependencies``: a name and its version specifiers."""

    text: str
    name: str
    specifiers: tuple[tuple[str, str], ...]
    url: bool

    @classmethod
    def parse(cls, text: str) -> Requirement:
        """Read ``name[extras] specifiers ; marker`` (or ``name @ url``)."""
        match = _REQUIREMENT.fullmatch(text)
        if match is None:
            msg = f"cannot read the requirement {text!r}"
            raise ReleaseError(msg)
        name, _, rest = match.groups()
        if rest.startswith("@"):
            return cls(text=text, name=normalize(name), specifiers=(), url=True)
        specifiers: list[tuple[str, str]] = []
        for part in filter(None, (p.strip() for p in rest.split(","))):
            spec = _SPECIFIER.fullmatch(part)
            if spec is None:
                msg = f"cannot read the version specifier {part!r} of {text!r}"
                raise ReleaseError(msg)
            specifiers.append((spec.group(1), spec.group(2)))
        return cls(text=text, name=normalize(name), specifiers=tuple(specifiers), url=False)

    def range_problem(self) -> str | None:
        """Why this is not a range with a lower and an upper bound, or ``None``."""
        if self.url:
            return "is a direct reference (name @ url), not a version range"
        operators = {op for op, _ in self.specifiers}
        if operators & {"==", "==="}:
            return "pins one version (==); published metadata needs a range"
        if not operators & {">=", ">", "~="}:
            return "has no lower bound (>=)"
        if not operators & {"<", "<=", "~="}:
            return "has no upper bound (<)"
        return None

    def admits(self, version: Version) -> bool:
        """Whether *version* satisfies every specifier (final releases; ``~=`` as PEP 440)."""
        for op, text in self.specifiers:
            bound = _loose_version(text.removesuffix(".*"))
            if op == "~=":
                count = len(text.split("."))
                upper = (
                    Version(bound.major + 1, 0, 0)
                    if count <= 2
                    else Version(bound.major, bound.minor + 1, 0)
                )
                ok = bound <= version < upper
            else:
                ok = {
                    ">=": version >= bound,
                    ">": version > bound,
                    "<=": version <= bound,
                    "<": version < bound,
                    "==": version == bound,
                    "===": str(version) == text,
                    "!=": version != bound,
                }[op]
            if not ok:
                return False
        return True


def show(path: Path) -> str:
    """A path as the user reads it: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- one distribution on disk ---------------------------------------------------------------


@dataclass(frozen=True)
class Changelog:
    """The sections of a CHANGELOG.md that matter for a release."""

    path: Path
    text: str

    def headings(self) -> list[tuple[int, str]]:
        """``(line index, heading text)`` of every ``## `` section, newest first."""
        lines = self.text.splitlines()
        return [(i, m.group(1)) for i, line in enumerate(lines) if (m := _HEADING.match(line))]

    def newest(self) -> tuple[int, str | None, bool, str] | None:
        """The newest section: ``(line index, version or None, unreleased, heading)``.

        A ``## Unreleased`` section (Keep a Changelog) has no version.
        """
        headings = self.headings()
        if not headings:
            return None
        index, heading = headings[0]
        match = _SECTION_VERSION.fullmatch(heading)
        if match is None:
            if _UNRELEASED.fullmatch(heading.strip("[] ")):
                return (index, None, True, heading)
            msg = f"{show(self.path)}: cannot read a version in its newest section '## {heading}'"
            raise ReleaseError(msg)
        return (index, match.group(1), bool(_UNRELEASED.search(match.group(2))), heading)

    def notes(self, index: int) -> list[str]:
        """The non-blank lines of the section that starts at line *index*."""
        lines = self.text.splitlines()[index + 1 :]
        notes: list[str] = []
        for line in lines:
            if _HEADING.match(line):
                break
            if line.strip():
                notes.append(line)
        return notes


@dataclass(frozen=True)
class Package:
    """The files of one distribution that carry its version."""

    dist: str
    folder: Path
    pyproject: Path
    init: Path | None
    """``src/<import>/__init__.py``; ``None`` for a distribution without an import package."""
    changelog: Path

    @property
    def project(self) -> dict[str, object]:
        """The ``[project]`` table."""
        data = tomllib.loads(self.pyproject.read_text(encoding="utf-8"))
        project = data.get("project")
        if not isinstance(project, dict):
            msg = f"{show(self.pyproject)}: no [project] table"
            raise ReleaseError(msg)
        return project

    def requirements(self) -> list[Requirement]:
        """The ``[project] dependencies``, parsed."""
        dependencies = self.project.get("dependencies", [])
        assert isinstance(dependencies, list)
        return [Requirement.parse(str(text)) for text in dependencies]

    def pyproject_version(self) -> str:
        """``[project] version``; a dynamic version is refused."""
        project = self.project
        dynamic = project.get("dynamic", [])
        if isinstance(dynamic, list) and "version" in dynamic:
            msg = f"{show(self.pyproject)}: the version is dynamic; write it in [project] version"
            raise ReleaseError(msg)
        version = project.get("version")
        if not isinstance(version, str):
            msg = f"{show(self.pyproject)}: no [project] version"
            raise ReleaseError(msg)
        return version

    def init_version(self) -> str | None:
        """``__version__`` of the import package, or ``None`` when there is none."""
        if self.init is None:
            return None
        matches = [
            m.group(3)
            for line in self.init.read_text(encoding="utf-8").splitlines()
            if (m := _INIT_VERSION.match(line))
        ]
        if len(matches) != 1:
            msg = (
                f"{show(self.init)} has {len(matches)} __version__ lines; write exactly one, "
                f'__version__ = "{self.pyproject_version()}" (the [project] version)'
            )
            raise ReleaseError(msg)
        return matches[0]

    def read_changelog(self) -> Changelog:
        """The CHANGELOG.md; refused when missing."""
        if not self.changelog.is_file():
            msg = f"{self.dist}: {show(self.changelog)} is missing; every distribution keeps one"
            raise ReleaseError(msg)
        return Changelog(self.changelog, self.changelog.read_text(encoding="utf-8"))

    def version(self) -> Version:
        """The version, once ``pyproject.toml`` and ``__init__.py`` are known to agree."""
        declared = self.pyproject_version()
        written = self.init_version()
        if self.init is not None and written != declared:
            msg = (
                f"{self.dist}: [project] version is {declared} but __version__ is {written} "
                f"({show(self.init)}); make them equal first"
            )
            raise ReleaseError(msg)
        return Version.parse(declared)


def discover(root: Path = ROOT) -> dict[str, Package]:
    """Every distribution of ``root/packages``, by normalized name."""
    found: dict[str, Package] = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name")
        if not isinstance(name, str):
            continue
        folder = pyproject.parent
        inits = sorted((folder / "src").glob("*/__init__.py"))
        found[normalize(name)] = Package(
            dist=normalize(name),
            folder=folder,
            pyproject=pyproject,
            init=inits[0] if inits else None,
            changelog=folder / "CHANGELOG.md",
        )
    return found


def find(dist: str, root: Path = ROOT) -> Package:
    """The distribution called *dist*; refused with the known names otherwise."""
    packages = discover(root)
    try:
        return packages[normalize(dist)]
    except KeyError:
        known = ", ".join(sorted(packages)) or "none"
        msg = f"no distribution {dist!r} under {show(root / 'packages')} (known: {known})"
        raise ReleaseError(msg) from None


# -- bump -----------------------------------------------------------------------------------


def _replace_project_version(text: str, path: Path, old: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    in_project = False
    hits: list[int] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            in_project = stripped == "[project]"
            continue
        if in_project and (m := _PROJECT_VERSION.match(line.rstrip("\r\n"))) and m.group(2) == old:
            hits.append(i)
    if len(hits) != 1:
        msg = f'{path}: expected one line version = "{old}" in [project], found {len(hits)}'
        raise ReleaseError(msg)
    (i,) = hits
    ending = lines[i][len(lines[i].rstrip("\r\n")) :]
    lines[i] = _PROJECT_VERSION.sub(rf'\g<1>"{new}"\g<3>', lines[i].rstrip("\r\n")) + ending
    result = "".join(lines)
    if tomllib.loads(result)["project"]["version"] != new:  # pragma: no cover - a safety net
        msg = f"{path}: rewriting the version did not give {new}"
        raise ReleaseError(msg)
    return result


def _replace_init_version(text: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if _INIT_VERSION.match(body):
            lines[i] = _INIT_VERSION.sub(rf"\g<1>\g<2>{new}\g<2>\g<4>", body) + line[len(body) :]
    return "".join(lines)


@dataclass(frozen=True)
class Bump:
    """What ``bump`` changed."""

    package: Package
    old: Version
    new: Version
    heading: str
    renamed: str | None
    """The heading of the unreleased section that was renamed, or ``None`` if one was opened."""
    warnings: tuple[str, ...]


def plan_bump(package: Package, target: str) -> tuple[Bump, dict[Path, str]]:
    """Check the state, and compute the bump to *target* (a part or a version): no writes."""
    old = package.version()
    changelog = package.read_changelog()
    newest = changelog.newest()
    new = old.bumped(target) if target in ("major", "minor", "patch") else Version.parse(target)
    if new <= old:
        msg = f"{package.dist}: the new version {new} is not above the current {old}"
        raise ReleaseError(msg)
    heading = f"## {new} (unreleased)"
    lines = changelog.text.splitlines(keepends=True)
    renamed: str | None = None
    if newest is None:
        intro = changelog.text.rstrip("\n") + "\n\n" if changelog.text.strip() else ""
        new_changelog = f"{intro}{heading}\n"
    else:
        index, version, unreleased, text = newest
        if version is not None and version != str(old):
            msg = (
                f"{package.dist}: the newest section of {show(package.changelog)} is '## {text}', "
                f"but the version is {old}; the changelog must open with the current version"
            )
            raise ReleaseError(msg)
        if version is None and len(changelog.headings()) > 1:
            below = changelog.headings()[1][1]
            match = _SECTION_VERSION.fullmatch(below)
            if match is None or match.group(1) != str(old) or _UNRELEASED.search(match.group(2)):
                msg = (
                    f"{package.dist}: below '## {text}' in {show(package.changelog)} comes "
                    f"'## {below}', which is not the released version {old}"
                )
                raise ReleaseError(msg)
        if unreleased:
            ending = lines[index][len(lines[index].rstrip("\r\n")) :]
            lines[index] = heading + ending
            renamed = text
        else:
            lines[index:index] = [heading + "\n", "\n"]
        new_changelog = "".join(lines)
    writes = {changelog.path: new_changelog}
    pyproject_text = package.pyproject.read_text(encoding="utf-8")
    writes[package.pyproject] = _replace_project_version(
        pyproject_text, package.pyproject, str(old), str(new)
    )
    if package.init is not None:
        writes[package.init] = _replace_init_version(
            package.init.read_text(encoding="utf-8"), str(new)
        )
    warnings = tuple(_dependents_excluding(package, new))
    planned = Bump(
        package=package, old=old, new=new, heading=heading, renamed=renamed, warnings=warnings
    )
    return planned, writes


def _dependents_excluding(package: Package, version: Version) -> list[str]:
    root = package.folder.parents[1]
    return [
        f"{other.dist} requires {requirement.text!r}, which excludes {version}: "
        f"widen it in {show(other.pyproject)} before releasing {other.dist} with it"
        for other in discover(root).values()
        for requirement in other.requirements()
        if requirement.name == package.dist and not requirement.admits(version)
    ]


def bump(dist: str, target: str, root: Path = ROOT) -> Bump:
    """Bump *dist* to *target*: pyproject, ``__version__`` and a changelog section."""
    package = find(dist, root)
    result, writes = plan_bump(package, target)
    for path, text in writes.items():
        path.write_text(text, encoding="utf-8")
    return result


# -- checks and the tag ---------------------------------------------------------------------


def problems(package: Package, *, for_release: bool, root: Path = ROOT) -> list[str]:
    """Everything that keeps *package* from being consistent (or, *for_release*, released)."""
    found: list[str] = []
    try:
        version = package.version()
        newest = package.read_changelog().newest()
    except ReleaseError as error:
        return [str(error)]
    if newest is None:
        found.append(f"{show(package.changelog)} has no '## {version}' section")
    else:
        index, section, unreleased, heading = newest
        if section is None:
            if for_release:
                found.append(
                    f"{show(package.changelog)} opens with '## {heading}': name it '## {version}'"
                )
        elif section != str(version):
            found.append(
                f"{show(package.changelog)} opens with '## {heading}', but the version is {version}"
            )
        elif for_release and unreleased:
            found.append(
                f"{show(package.changelog)}: '## {heading}' is marked unreleased; write "
                f"the release date instead, e.g. '## {version} (2025-01-31)'"
            )
        elif for_release and not package.read_changelog().notes(index):
            found.append(f"{show(package.changelog)}: the section '## {heading}' has no notes")
    siblings = discover(root)
    for requirement in package.requirements():
        sibling = siblings.get(requirement.name)
        if sibling is None:
            continue
        problem = requirement.range_problem()
        if problem is not None:
            found.append(f"{package.dist}: the sibling dependency {requirement.text!r} {problem}")
            continue
        try:
            current = sibling.version()
        except ReleaseError as error:
            found.append(str(error))
            continue
        if not requirement.admits(current):
            found.append(
                f"{package.dist}: {requirement.text!r} excludes {sibling.dist} {current}, "
                "the version in this repository"
            )
    return found


def tag_name(dist: str, version: Version) -> str:
    """``stomp-frame-v1.0.0``: the distribution, then its version."""
    return f"{dist}-v{version}"


Runner = Callable[[Sequence[str]], str]


def git(args: Sequence[str]) -> str:
    """Run ``git`` in the repository; return its output."""
    executable = shutil.which("git")
    if executable is None:
        msg = "git is not on PATH"
        raise ReleaseError(msg)
    # The arguments are built by this script (a tag name checked above), not taken from a user.
    done = subprocess.run(  # noqa: S603
        [executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        msg = f"git {' '.join(args)} failed: {done.stderr.strip()}"
        raise ReleaseError(msg)
    return done.stdout


def tag(dist: str, *, create: bool = False, root: Path = ROOT, run: Runner = git) -> list[str]:
    """Check that *dist* is ready for release; return (and with *create*, run) the git command."""
    package = find(dist, root)
    found = problems(package, for_release=True, root=root)
    if found:
        raise ReleaseError("\n".join([f"{package.dist} is not ready for release:", *found]))
    version = package.version()
    name = tag_name(package.dist, version)
    if run(["tag", "--list", name]).strip():
        msg = f"the tag {name} exists already: bump the version first"
        raise ReleaseError(msg)
    command = ["tag", "-a", name, "-m", f"{package.dist} {version}"]
    if create:
        run(command)
    return ["git", *command]


# -- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, root: Path = ROOT, run: Runner = git) -> int:
    """Run a command; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="release.py", description="Versions, changelogs and tags of the distributions."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    bump_parser = commands.add_parser("bump", help="set a new version and open its section")
    bump_parser.add_argument("dist")
    bump_parser.add_argument("target", help="major, minor, patch or a version X.Y.Z")
    tag_parser = commands.add_parser("tag", help="check a release; print or create its tag")
    tag_parser.add_argument("dist")
    tag_parser.add_argument("--create", action="store_true", help="create the tag with git")
    check_parser = commands.add_parser("check", help="check versions, changelogs, ranges")
    check_parser.add_argument("dist", nargs="*")
    args = parser.parse_args(argv)
    out = sys.stdout.write
    try:
        if args.command == "bump":
            done = bump(args.dist, args.target, root)
            action = f"renamed '## {done.renamed}' to" if done.renamed else "opened"
            out(f"{done.package.dist}: {done.old} -> {done.new}; CHANGELOG.md {action} ")
            out(f"'{done.heading}'\n")
            for warning in done.warnings:
                sys.stderr.write(f"warning: {warning}\n")
        elif args.command == "tag":
            command = tag(args.dist, create=args.create, root=root, run=run)
            out(("created: " if args.create else "") + " ".join(_quoted(command)) + "\n")
        else:
            packages = discover(root)
            chosen = [find(d, root) for d in args.dist] or list(packages.values())
            found = {  # a dict keeps the order and drops repeats (a sibling's own problem)
                p: None
                for package in chosen
                for p in problems(package, for_release=False, root=root)
            }
            if found:
                raise ReleaseError("\n".join(found))
            out(f"ok: {', '.join(p.dist for p in chosen)}\n")
    except ReleaseError as error:
        sys.stderr.write(f"refused: {error}\n")
        return 1
    return 0


def _quoted(words: Sequence[str]) -> list[str]:
    return [f'"{word}"' if " " in word else word for word in words]


if __name__ == "__main__":
    sys.exit(main())

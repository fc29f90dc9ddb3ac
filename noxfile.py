"""The one entry point for checks, builds, benchmarks and the demo of the monorepo.

Packages are discovered from ``packages/*/pyproject.toml``; each gets its own
``types-<dist>`` and ``tests-<dist>`` sessions, run in an environment that holds
only that package and the sibling packages it declares (installed from their
local folders, never from PyPI), so an undeclared import of a sibling fails.

Plain ``nox`` runs lint, every type check, every test session, the integration
tests, the client contract, the demo, the build, the isolation check of every wheel,
the docs (built offline, examples run), the tests of the release tooling and the
release rehearsal (every package published to a local index and installed from it).
``nox -s bench`` runs the benchmarks, and ``bump``, ``tag``, ``release-check`` and
``release-order`` drive releases (none of them in the default run).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # nox itself depends on tomli before 3.11
    import tomli as tomllib

ROOT = Path(__file__).parent
PACKAGES_DIR = ROOT / "packages"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
TEST_TOOLS = ["pytest>=8", "hypothesis>=6.100", "coverage[toml]>=7.4"]
TYPE_TOOLS = ["mypy>=1.11"]
LINT_TOOLS = ["ruff>=0.6"]
BUILD_TOOLS = ["build>=1.2", "twine>=5", "hatchling>=1.21"]


@dataclass(frozen=True)
class Package:
    """A distribution of the monorepo, as its pyproject.toml declares it."""

    dist: str
    path: Path
    import_name: str | None
    siblings: tuple[str, ...]
    """Names of sibling distributions it depends on (directly)."""
    test_requires: tuple[str, ...]
    """Third-party requirements of its tests (``[dependency-groups] test``)."""
    test_siblings: tuple[str, ...] = ()
    """Sibling distributions its tests need (named in ``[dependency-groups] test``, such as
    the test broker stomp-testing): installed from their folders in its test sessions."""

    @property
    def has_code(self) -> bool:
        """Whether the package ships an import package (the meta-package may not)."""
        return self.import_name is not None


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    if match is None:
        msg = f"cannot read the requirement {requirement!r}"
        raise ValueError(msg)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _discover() -> dict[str, Package]:
    found: dict[str, dict[str, object]] = {}
    for pyproject in sorted(PACKAGES_DIR.glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        found[_requirement_name(data["project"]["name"])] = data
    packages: dict[str, Package] = {}
    for dist, data in found.items():
        project = data["project"]
        assert isinstance(project, dict)
        path = PACKAGES_DIR / dist
        siblings = tuple(
            name
            for name in (_requirement_name(r) for r in project.get("dependencies", []))
            if name in found
        )
        groups = data.get("dependency-groups", {})
        assert isinstance(groups, dict)
        src = sorted(p.name for p in (path / "src").glob("*") if (p / "__init__.py").exists())
        test_group = [str(r) for r in groups.get("test", [])]
        packages[dist] = Package(
            dist=dist,
            path=path,
            import_name=src[0] if src else None,
            siblings=siblings,
            test_requires=tuple(r for r in test_group if _requirement_name(r) not in found),
            test_siblings=tuple(
                _requirement_name(r) for r in test_group if _requirement_name(r) in found
            ),
        )
    return packages


PACKAGES = _discover()


def closure(dist: str) -> list[Package]:
    """The package and every sibling it depends on, transitively, dependencies first."""
    ordered: list[Package] = []

    def visit(name: str) -> None:
        package = PACKAGES[name]
        if package in ordered:
            return
        for sibling in package.siblings:
            visit(sibling)
        ordered.append(package)

    visit(dist)
    return ordered


def install_closure(session: nox.Session, dist: str, *extra: str, tests: bool = False) -> None:
    """Install a package and its declared siblings from their local folders.

    With *tests*, also the siblings its tests need (and theirs), from their folders too.
    """
    packages = _with_test_siblings(dist) if tests else closure(dist)
    session.install(*(str(p.path) for p in packages), *extra)


def _with_test_siblings(dist: str) -> list[Package]:
    """The closure of *dist* and of each sibling its tests need, dependencies first."""
    packages = closure(dist)
    for sibling in PACKAGES[dist].test_siblings:
        packages += [p for p in closure(sibling) if p not in packages]
    return packages


def _register_package_sessions(package: Package) -> None:
    if not package.has_code:
        return
    src = package.path / "src"
    tests = package.path / "tests"

    @nox.session(name=f"types-{package.dist}", python=PYTHON, tags=["types"])
    def types(session: nox.Session) -> None:
        install_closure(
            session, package.dist, *TYPE_TOOLS, *TEST_TOOLS, *package.test_requires, tests=True
        )
        targets = [str(src / str(package.import_name))]
        if tests.is_dir():
            targets.append(str(tests))
        session.run("mypy", *targets, env={"MYPYPATH": str(src)})

    @nox.session(name=f"tests-{package.dist}", python=PYTHON, tags=["tests"])
    def tests_session(session: nox.Session) -> None:
        install_closure(session, package.dist, *TEST_TOOLS, *package.test_requires, tests=True)
        session.chdir(ROOT)
        data_file = Path(session.create_tmp()) / ".coverage"
        session.run(
            "coverage",
            "run",
            f"--data-file={data_file}",
            f"--source={package.import_name}",
            "-m",
            "pytest",
            str(tests),
            *session.posargs,
        )
        session.run("coverage", "report", f"--data-file={data_file}")


for _package in PACKAGES.values():
    _register_package_sessions(_package)


@nox.session(python=PYTHON, tags=["lint"])
def lint(session: nox.Session) -> None:
    """Ruff check and ruff format --check over the whole tree."""
    session.install(*LINT_TOOLS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON, tags=["integration"])
def integration(session: nox.Session) -> None:
    """Tests against real brokers (tests/integration); they skip when no broker runs.

    Set ``STOMP_REQUIRE_BROKERS=1`` (CI does) to turn a missing broker into a failure.
    """
    integration_dir = ROOT / "tests" / "integration"
    if not any(integration_dir.glob("test_*.py")):
        session.skip("no integration tests yet")
    local = [str(p.path) for p in PACKAGES.values() if p.has_code]
    requires = {r for p in PACKAGES.values() for r in p.test_requires}
    session.install(*local, *TEST_TOOLS, *TYPE_TOOLS, *sorted(requires))
    session.chdir(ROOT)
    session.run("mypy", str(integration_dir))
    session.run("python", "-m", "pytest", str(integration_dir), *session.posargs)


@nox.session(python=PYTHON, default=False)
def ha(session: nox.Session) -> None:
    """Failover on highly available brokers (tests/ha), started by scripts/brokers/ha.sh.

    Starts the set-ups afresh (stopped first: a store grown by earlier runs slows a takeover
    down; they keep running afterwards, ``ha.sh stop`` ends them), runs the tests, which must
    all find their set-up, and prints the table of the reports.
    """
    local = [str(p.path) for p in PACKAGES.values() if p.has_code]
    requires = {r for p in PACKAGES.values() for r in p.test_requires}
    session.install(*local, *TEST_TOOLS, *TYPE_TOOLS, *sorted(requires))
    session.chdir(ROOT)
    session.run("bash", "scripts/brokers/ha.sh", "stop", external=True)
    session.run("bash", "scripts/brokers/ha.sh", "start", external=True)
    session.run("mypy", "tests/ha", "scripts/brokers/ha_table.py")
    ha_dir = Path(os.environ.get("HA_DIR") or Path(os.environ.get("TMPDIR") or "/tmp") / "stomp-ha")
    results = os.environ.get("STOMP_HA_RESULTS") or str(ha_dir / "results")
    shutil.rmtree(results, ignore_errors=True)  # the table shows this run only
    env = {"STOMP_REQUIRE_HA": "1", "STOMP_HA_RESULTS": results}
    try:
        session.run("python", "-m", "pytest", "tests/ha", *session.posargs, env=env)
    finally:
        session.run("python", "scripts/brokers/ha_table.py", results)


@nox.session(python=PYTHON, tags=["contract"])
def contract(session: nox.Session) -> None:
    """The client contract (tests/contract): each behaviour written once, run on every client.

    Every client talks to stomp-testing's in-process broker over a loopback socket; no
    real broker is needed.
    """
    local = [str(p.path) for p in PACKAGES.values() if p.has_code]
    session.install(*local, *TEST_TOOLS, *TYPE_TOOLS)
    session.chdir(ROOT)
    session.run("mypy", "tests/contract")
    session.run("python", "-m", "pytest", "tests/contract", *session.posargs)


@nox.session(python=PYTHON, tags=["demo"])
def demo(session: nox.Session) -> None:
    """The README's main job: a tour of the toolkit that fails loudly if anything misbehaves."""
    session.install(*(str(p.path) for p in PACKAGES.values() if p.has_code))
    session.chdir(ROOT)
    session.run("python", "examples/demo.py", *session.posargs)
    session.run("python", "examples/frames_demo.py")


@nox.session(python=PYTHON, tags=["build"])
def build(session: nox.Session) -> None:
    """Wheel and sdist of every package; py.typed in each wheel; twine check of the metadata."""
    session.install(*BUILD_TOOLS)
    dist_root = ROOT / "dist"
    shutil.rmtree(dist_root, ignore_errors=True)
    for package in PACKAGES.values():
        out = dist_root / package.dist
        session.run(
            "python", "-m", "build", "--no-isolation", "--outdir", str(out), str(package.path)
        )
        wheels = list(out.glob("*.whl"))
        sdists = list(out.glob("*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            session.error(f"{package.dist}: expected one wheel and one sdist in {out}")
        if package.has_code:
            marker = f"{package.import_name}/py.typed"
            with zipfile.ZipFile(wheels[0]) as wheel:
                if marker not in wheel.namelist():
                    session.error(f"{package.dist}: {marker} missing from {wheels[0].name}")
        session.run("twine", "check", "--strict", *(str(p) for p in wheels + sdists))


@nox.session(python=PYTHON, tags=["build"])
def isolation(session: nox.Session) -> None:
    """Each wheel installs alone: its declared siblings' fresh wheels, third parties from PyPI.

    Builds every wheel, then for each distribution creates a fresh virtual environment,
    installs its wheel with the wheels of the siblings it declares (given as files, so
    nothing of ours comes from an index), imports it, and prints what the install pulled
    in. stomp-frame and stomp-failover must install with nothing else at all.
    """
    session.install(*BUILD_TOOLS)
    work = Path(session.create_tmp()) / "isolation"
    shutil.rmtree(work, ignore_errors=True)
    wheels_dir = work / "wheels"
    for package in PACKAGES.values():
        session.run(
            "python", "-m", "build", "--no-isolation", "--wheel", "--outdir", str(wheels_dir),
            str(package.path), silent=True,
        )  # fmt: skip
    wheels = {p.name.split("-")[0].replace("_", "-"): p for p in wheels_dir.glob("*.whl")}
    alone = {"stomp-frame", "stomp-failover"}
    for package in PACKAGES.values():
        env = work / f"venv-{package.dist}"
        session.run("uv", "venv", "--quiet", "--python", sys.executable, str(env), external=True)
        python = str(env / "bin" / "python")
        files = [str(wheels[p.dist]) for p in closure(package.dist)]
        session.run("uv", "pip", "install", "--quiet", "--python", python, *files, external=True)
        module = package.import_name or ""
        session.run(python, "-c", f"import {module}; print('imported', {module}.__name__)")
        frozen = session.run(
            "uv", "pip", "freeze", "--quiet", "--python", python, external=True, silent=True
        )
        names = sorted(
            re.split(r"[=@ ]", line, maxsplit=1)[0].lower()
            for line in str(frozen).splitlines()
            if line.strip()
        )
        session.log(f"{package.dist} pulled in: {', '.join(names)}")
        if package.dist in alone and names != [package.dist]:
            session.error(f"{package.dist} must install alone, got {names}")
        ours = {name for name in names if name in PACKAGES}
        expected = {p.dist for p in closure(package.dist)}
        if ours != expected:
            session.error(f"{package.dist} pulled {sorted(ours)}, declares {sorted(expected)}")


BENCH_PEERS = ["stomp.py", "websocket-client", "stompest==2.3.0", "stompman", "aiostomp", "psutil"]


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks of this project against its peers, in one run (not in the default run).

    Measures the pure-Python build; ``bench-compiled`` measures the compiled one.
    """
    local = [str(p.path) for p in PACKAGES.values() if p.has_code]
    session.install(*local, *BENCH_PEERS)
    _run_benchmarks(session)


@nox.session(name="bench-compiled", python=PYTHON, default=False)
def bench_compiled(session: nox.Session) -> None:
    """The benchmarks with the compiled wheels of the packages that have one (see ``compiled``)."""
    local = [str(p.path) for p in PACKAGES.values() if p.has_code]
    session.install(*local, *BENCH_PEERS, *BUILD_TOOLS)
    _install_compiled(session)
    _run_benchmarks(session)


def _run_benchmarks(session: nox.Session) -> None:
    session.chdir(ROOT)
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


# ==== The compiled build ====================================================================
# A package whose pyproject.toml configures hatch-mypyc's hook (enable-by-default = false)
# also has a compiled build: HATCH_BUILD_HOOKS_ENABLE=1 makes its wheel a platform wheel
# with mypyc-compiled modules. The pure-Python wheel stays the default and is what every
# other session builds and tests; ``compiled`` runs the same tests against the compiled one.


def _has_compiled_build(package: Package) -> bool:
    data = tomllib.loads((package.path / "pyproject.toml").read_text(encoding="utf-8"))
    hooks = data.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
    return "mypyc" in hooks.get("wheel", {}).get("hooks", {})


COMPILED_PACKAGES = [p for p in PACKAGES.values() if _has_compiled_build(p)]
# Whose tests run against the compiled build too: the compiled packages' own, and those
# of the layers built right on them (they feed the parser and serializer every frame).
COMPILED_TEST_DISTS = ["stomp-frame", "stomp-commands", "stomp-session", "stomp-core"]


def _build_compiled(session: nox.Session, out: Path) -> list[Path]:
    """Build the compiled wheel of each package that has one into *out*; return them.

    Built from the sdist (``python -m build`` makes one and builds the wheel from it in a
    temporary folder), so that no compiled module is left next to the sources, where it
    would shadow them in an editable install.
    """
    shutil.rmtree(out, ignore_errors=True)
    wheels = []
    for package in COMPILED_PACKAGES:
        folder = out / package.dist
        session.run(
            "python", "-m", "build", "--outdir", str(folder), str(package.path),
            env={"HATCH_BUILD_HOOKS_ENABLE": "1"},
        )  # fmt: skip
        found = list(folder.glob("*.whl"))
        if len(found) != 1 or found[0].name.endswith("-none-any.whl"):
            session.error(f"{package.dist}: expected one platform wheel in {folder}, got {found}")
        with zipfile.ZipFile(found[0]) as wheel:
            compiled = [n for n in wheel.namelist() if n.endswith((".so", ".pyd"))]
        if not compiled:
            session.error(f"{package.dist}: no compiled module in {found[0].name}")
        session.log(f"{found[0].name}: {len(compiled)} compiled extension files")
        wheels += found
    return wheels


def _install_compiled(session: nox.Session) -> None:
    """Replace the installed pure-Python builds by the compiled wheels, and check they load."""
    wheels = _build_compiled(session, Path(session.create_tmp()) / "compiled")
    session.install("--force-reinstall", "--no-deps", *(str(w) for w in wheels))
    for package in COMPILED_PACKAGES:
        module = package.import_name
        session.run(
            "python", "-c",
            f"import {module}, sys; sys.exit(0 if {module}.COMPILED else "
            f"'{module} imported its pure-Python modules, not the compiled ones')",
        )  # fmt: skip


@nox.session(python=PYTHON, tags=["compiled"])
def compiled(session: nox.Session) -> None:
    """The tests of the compiled packages and of the layers above them, on the compiled build.

    Builds each compiled wheel (a C compiler and Python's headers are needed), installs it
    over the pure-Python one, checks that the compiled modules are the ones imported, and
    runs the unit tests and the short fuzz run against it.
    """
    dists = [d for d in COMPILED_TEST_DISTS if d in PACKAGES]
    packages: list[Package] = []
    for dist in dists:
        packages += [p for p in _with_test_siblings(dist) if p not in packages]
    requires = sorted({r for d in dists for r in PACKAGES[d].test_requires})
    session.install(*(str(p.path) for p in packages), *TEST_TOOLS, *BUILD_TOOLS, *requires)
    _install_compiled(session)
    session.chdir(ROOT)
    tests = [str(PACKAGES[d].path / "tests") for d in dists]
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *tests, *session.posargs)
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider", "tests/fuzz",
        "--hypothesis-profile=fuzz-short",
    )  # fmt: skip


# ==== Python versions and dependency floors =================================================
# Every package claims Python 3.10-3.14 while one interpreter runs here: mypy checks each
# claimed version, vermin checks that nothing newer than 3.10 is used, and ``lowest``
# installs the declared floors of every third-party dependency and runs the unit tests.

# types-<dist> check as for pyproject.toml's python_version (3.10), src and tests together.
TYPE_VERSIONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]


def _third_party(package: Package) -> list[str]:
    """Its third-party requirements: dependencies, every extra's, and its tests'."""
    data = tomllib.loads((package.path / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    extras = project.get("optional-dependencies", {}).values()
    declared = [*project.get("dependencies", []), *(r for extra in extras for r in extra)]
    return [r for r in declared if _requirement_name(r) not in PACKAGES] + [*package.test_requires]


@nox.session(name="types-versions", python=PYTHON, tags=["types"])
@nox.parametrize("target", TYPE_VERSIONS)
def types_versions(session: nox.Session, target: str) -> None:
    """``mypy --strict`` over every package's src, as for Python *target*."""
    coded = [p for p in PACKAGES.values() if p.has_code]
    session.install(*TYPE_TOOLS, *sorted({r for p in coded for r in _third_party(p)}))
    sources = [p.path / "src" for p in coded]
    targets = [str(src / str(p.import_name)) for src, p in zip(sources, coded, strict=True)]
    mypypath = ":".join(str(src) for src in sources)
    session.run("mypy", "--python-version", target, *targets, env={"MYPYPATH": mypypath})


@nox.session(python=PYTHON, tags=["lint"])
def compat(session: nox.Session) -> None:
    """Vermin: no syntax or standard-library name newer than Python 3.10 in any package's src."""
    session.install("vermin>=1.6")
    sources = [str(p.path / "src") for p in PACKAGES.values() if p.has_code]
    session.run("vermin", "-t=3.10-", "--no-tips", "--violations", "--eval-annotations", *sources)


@nox.session(python=PYTHON, default=False)
def lowest(session: nox.Session) -> None:
    """Every package's unit tests with each third-party dependency at its declared floor.

    The declared requirements of every package (extras and test groups included) and the
    test tools are installed with ``--resolution lowest-direct``, then the packages from
    their folders without dependencies; arguments after ``--`` go to pytest.
    """
    if not isinstance(session.virtualenv, nox.virtualenv.VirtualEnv) or (
        session.virtualenv.venv_backend != "uv"
    ):
        session.error("lowest needs uv (pip install uv) for --resolution lowest-direct")
    coded = [p for p in PACKAGES.values() if p.has_code]
    requirements = sorted({r for p in coded for r in _third_party(p)} | set(TEST_TOOLS))
    session.install("--resolution", "lowest-direct", *requirements)
    session.install("--no-deps", *(str(p.path) for p in coded))
    session.run("uv", "pip", "freeze", external=True)
    session.chdir(ROOT)
    failed = []
    for package in coded:
        try:
            session.run("python", "-m", "pytest", str(package.path / "tests"), *session.posargs)
        except nox.command.CommandFailed:  # noqa: PERF203 (a handful of packages)
            failed.append(package.dist)
    if failed:
        session.error(f"tests failed at the dependency floors: {', '.join(failed)}")


@nox.session(name="fuzz-short", python=PYTHON, tags=["fuzz"])
def fuzz_short(session: nox.Session) -> None:
    """The bounded run of ``fuzz`` in the default run (600 examples per test)."""
    _fuzz(session, "fuzz-short")


@nox.session(python=PYTHON, default=False)
def fuzz(session: nox.Session) -> None:
    """Fuzz stomp-frame's parser and serializer with Hypothesis at scale (tests/fuzz).

    ``STOMP_FUZZ_EXAMPLES`` sets the examples per test (default 20,000); ``-- --short``
    runs the bounded run of CI instead; other arguments go to pytest.
    """
    args = [arg for arg in session.posargs if arg != "--short"]
    _fuzz(session, "fuzz" if args == session.posargs else "fuzz-short", *args)


def _fuzz(session: nox.Session, profile: str, *args: str) -> None:
    session.install(str(PACKAGES["stomp-frame"].path), *TEST_TOOLS, *TYPE_TOOLS)
    session.chdir(ROOT)
    session.run("mypy", "tests/fuzz")
    session.run(
        "python", "-m", "pytest", "tests/fuzz", f"--hypothesis-profile={profile}",
        "--hypothesis-show-statistics", *args,
    )  # fmt: skip


# ==== Documentation and release tooling ====================================================
# This block is appended and kept at the end of the file; it owns docs/, scripts/release/,
# tests/docs/ and tests/release/. It reuses PACKAGES, PYTHON and the tool lists above.

DOCS_TOOLS = ["sphinx>=8.1,<10", "furo>=2024.8", "types-docutils"]
TOMLI = "tomli>=2"  # read on Python 3.10; mypy (python_version 3.10) checks that branch
RELEASE_SCRIPT = ROOT / "scripts" / "release" / "release.py"


@nox.session(python=PYTHON, tags=["docs"])
def docs(session: nox.Session) -> None:
    """Build the docs (HTML, warnings are errors) and run every example in them.

    The build itself needs no network. Steps: mypy and the unit tests of the Sphinx
    extension (tests/docs), the HTML build with -W (which also fails on a code block that
    no test runs), then the doctest builder, which runs every ``>>>`` example of the pages
    and of the packages' docstrings. Output: build/docs/html. ``examples/asyncio_client.py``,
    included by "Compose your own client", runs in the integration session.
    """
    local = [str(p.path) for p in PACKAGES.values() if p.has_code]
    session.install(*local, *DOCS_TOOLS, *TEST_TOOLS, *TYPE_TOOLS, TOMLI)
    session.chdir(ROOT)
    session.run("mypy", "docs/conf.py", "docs/_ext", "tests/docs", "examples/asyncio_client.py")
    session.run("python", "-m", "pytest", "tests/docs", *session.posargs)
    out = ROOT / "build" / "docs"
    shutil.rmtree(out, ignore_errors=True)
    for builder in ("html", "doctest"):
        session.run(
            "sphinx-build", "-W", "--keep-going", "-E", "-q", "-b", builder,
            "docs", str(out / builder),
        )  # fmt: skip


RELEASE_TOOLS = ["packaging>=24", "hatchling>=1.21"]


@nox.session(name="release-tests", python=PYTHON, tags=["release"])
def release_tests(session: nox.Session) -> None:
    """Type-check and unit-test the release tooling (scripts/release, tests/release)."""
    session.install(*RELEASE_TOOLS, *TEST_TOOLS, *TYPE_TOOLS, TOMLI)
    session.chdir(ROOT)
    session.run("mypy", "scripts/release", "tests/release")
    session.run("python", "-m", "pytest", "tests/release", *session.posargs)


def _release(session: nox.Session, command: str) -> None:
    session.install(*RELEASE_TOOLS)
    session.chdir(ROOT)
    session.run("python", str(RELEASE_SCRIPT), command, *session.posargs)


@nox.session(python=PYTHON, default=False)
def bump(session: nox.Session) -> None:
    """Bump one package with hatchling: ``nox -s bump -- stomp-frame minor`` (or ``0.2.0``)."""
    if len(session.posargs) != 2:
        session.error("usage: nox -s bump -- DIST (major|minor|patch|rc|X.Y.Z)")
    _release(session, "bump")


@nox.session(python=PYTHON, default=False)
def tag(session: nox.Session) -> None:
    """Check a release and print its tag: ``nox -s tag -- stomp-frame [--create]``."""
    if not session.posargs:
        session.error("usage: nox -s tag -- DIST [--create]")
    _release(session, "tag")


@nox.session(name="release-check", python=PYTHON, default=False)
def release_check(session: nox.Session) -> None:
    """Check every package (or those named): version source, changelog, sibling ranges."""
    _release(session, "check")


@nox.session(name="release-order", python=PYTHON, default=False)
def release_order(session: nox.Session) -> None:
    """Print the release order along the dependency graph, with each version and tag."""
    _release(session, "order")


@nox.session(python=PYTHON, tags=["release"])
def rehearsal(session: nox.Session) -> None:
    """Publish every package to a local pypiserver with twine, then install from it.

    Builds each wheel and sdist, uploads them (with authentication) to pypiserver on
    127.0.0.1, and in fresh venvs installs each package alone, the meta-package, everything
    built from its sdist, and an older-and-newer mix of the most depended-on package and a
    dependent (scripts/release/rehearse.py says what each step asserts). The server is
    stopped whatever happens. Work folder: ``.nox/rehearsal/tmp/rehearsal``.
    """
    session.install(*BUILD_TOOLS, *RELEASE_TOOLS, "pypiserver[passlib]>=2.1", TOMLI)
    session.chdir(ROOT)
    work = Path(session.create_tmp()) / "rehearsal"
    session.run("python", "-m", "scripts.release.rehearse", str(work))


# ==== End of the documentation and release tooling block ===================================

"""Rehearse a release: publish every package to a real local index, then install from it.

Run by ``nox -s rehearsal`` (``python -m scripts.release.rehearse WORK`` from the repository
root, in a venv holding build, twine, hatchling, packaging and pypiserver; ``uv`` on PATH).

1. Builds every package's wheel and sdist, starts pypiserver on 127.0.0.1 with upload
   authentication (a random password for this run), checks that an upload with a wrong
   password is refused, and uploads them all with twine.
2. In a fresh venv per case, with uv and only that index (plus the default index, PyPI,
   for third-party dependencies; ``first-index``, so none of our names can come from PyPI),
   installs: each package alone; ``stomp-suite``; every package built from its sdist (and
   runs the tests shipped in the bottom package's sdist). Each checks which of our
   distributions got installed, at which version, and imports each one, compares
   ``__version__`` to the metadata and runs the doctests of its ``__init__``.
3. The older-and-newer mix, on a copy of two packages: the package most depended on (the
   base, stomp-frame) gets ``release.py bump ... minor`` and is published; its simplest
   dependent (stomp-commands), already published, installs with the new base and with the
   old one. Then the dependent is bumped with a range that excludes the new base:
   ``release.py check`` refuses it, it is published anyway, and the resolver refuses to
   install it with the new base, and installs it with the old one.

The server is stopped whatever happens (an exception, Ctrl-C, SIGTERM); on Linux it also
gets SIGTERM when this process dies. Exit status 0 when every step passed.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from scripts.release import release

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = release.ROOT
SMOKE = Path(__file__).with_name("_smoke.py")


class RehearsalError(Exception):
    """A step of the rehearsal did not do what a release needs."""


def log(text: str) -> None:
    """One line of the account, flushed (the nox log interleaves it with commands)."""
    sys.stdout.write(f"rehearsal: {text}\n")
    sys.stdout.flush()


def run(
    args: Sequence[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command (never shown with its environment: it may hold the password)."""
    return subprocess.run(  # noqa: S603 - commands built by this script
        [str(a) for a in args], capture_output=True, text=True, check=False, env=env, cwd=cwd
    )


def must(
    args: Sequence[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    """Run a command that must succeed; return its standard output."""
    done = run(args, env=env, cwd=cwd)
    if done.returncode != 0:
        shown = " ".join(str(a) for a in args)
        msg = f"{shown} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        raise RehearsalError(msg)
    return done.stdout


# -- the index server -----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def serving(command: Sequence[str], url: str, log_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends, however it ends; wait until *url* answers first."""
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    with log_file.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the command is built by this script
            list(command),
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads started here
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    text = log_file.read_text(errors="replace")
                    msg = f"the server exited with {process.returncode} before answering:\n{text}"
                    raise RehearsalError(msg)
                try:
                    with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback http
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        msg = f"no answer from {url} within 30 s; log in {log_file}"
                        raise RehearsalError(msg) from None
                    time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            signal.signal(signal.SIGTERM, previous)


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd entry in the ``{SHA}`` scheme (passlib reads it; a one-run password)."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    return f"{user}:{{SHA}}{digest}\n"


# -- installing from the index --------------------------------------------------------------


class Index:
    """The local index of this run, and how to publish to it and install from it."""

    def __init__(self, upload_url: str, simple_url: str, password: str, work: Path) -> None:
        self.upload_url = upload_url
        self.simple_url = simple_url
        self._password = password
        self.work = work
        self.ours: list[str] = []

    def __repr__(self) -> str:
        return f"Index({self.simple_url!r})"

    def upload(self, files: Sequence[Path], *, password: str | None = None) -> None:
        """Upload with twine, the credentials in its environment, not on its command line."""
        env = {
            **_environment(),
            "TWINE_USERNAME": "release",
            "TWINE_PASSWORD": self._password if password is None else password,
            "TWINE_NON_INTERACTIVE": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        args = [sys.executable, "-m", "twine", "upload", "--disable-progress-bar"]
        must([*args, "--repository-url", self.upload_url, *files], env=env)

    def venv(self, name: str) -> Path:
        """A fresh virtual environment; its python."""
        folder = self.work / "venvs" / name
        shutil.rmtree(folder, ignore_errors=True)
        must(["uv", "venv", "--quiet", "--python", sys.executable, folder], env=_environment())
        return folder / "bin" / "python"

    def install(
        self, python: Path, *requirements: str, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """``uv pip install`` from this index first, third parties from the default index."""
        refresh = [arg for dist in self.ours for arg in ("--refresh-package", dist)]
        return run(
            [
                "uv", "pip", "install", "--python", python, "--index", self.simple_url,
                "--index-strategy", "first-index", *refresh, *extra, *requirements,
            ],
            env=_environment(),
        )  # fmt: skip


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["NO_PROXY"] = env["no_proxy"] = ",".join(
        filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"])
    )
    return env


def installed(python: Path) -> dict[NormalizedName, Version]:
    """What the venv holds, by normalized name."""
    frozen = must(["uv", "pip", "freeze", "--python", python], env=_environment())
    found: dict[NormalizedName, Version] = {}
    for line in frozen.splitlines():
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        found[canonicalize_name(requirement.name)] = Version(spec.version)
    return found


def expect_ours(
    python: Path, expected: dict[NormalizedName, Version], packages: set[NormalizedName]
) -> None:
    """Our distributions in the venv are exactly *expected*, at these versions."""
    ours = {d: v for d, v in installed(python).items() if d in packages}
    if ours != expected:
        msg = f"{python.parents[1].name}: installed {_show(ours)}, expected {_show(expected)}"
        raise RehearsalError(msg)


def _show(versions: dict[NormalizedName, Version]) -> str:
    return ", ".join(f"{d} {v}" for d, v in sorted(versions.items())) or "none"


def smoke(python: Path, packages: dict[NormalizedName, release.Package], *dists: str) -> None:
    """Import each distribution, compare its version, run its ``__init__`` doctests."""
    for dist in dists:
        package = packages[canonicalize_name(dist)]
        modules = sorted(p.parent.name for p in package.folder.glob("src/*/__init__.py"))
        if not modules:  # a meta-package without code: its metadata was checked already
            continue
        out = must([python, SMOKE, dist, modules[0]])
        log(f"  {python.parents[1].name}: {out.strip()}")


# -- the rehearsal --------------------------------------------------------------------------


def closure(
    dist: NormalizedName, packages: dict[NormalizedName, release.Package]
) -> set[NormalizedName]:
    """*dist* and every sibling it needs, transitively."""
    found = {dist}
    for _, sibling in release.siblings(packages[dist], packages):
        found |= closure(sibling.dist, packages)
    return found


def build(folder: Path, out: Path) -> list[Path]:
    """Wheel and sdist of a package folder, with the tools of this venv."""
    must([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, folder])
    return sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))


def base_and_dependent(
    packages: dict[NormalizedName, release.Package],
) -> tuple[NormalizedName, NormalizedName]:
    """The package most depended on, and its dependent with the fewest siblings."""
    dependents: dict[NormalizedName, list[release.Package]] = {d: [] for d in packages}
    for package in packages.values():
        for _, sibling in release.siblings(package, packages):
            dependents[sibling.dist].append(package)
    base = min(packages, key=lambda d: (-len(dependents[d]), d))
    if not dependents[base]:
        msg = "no package depends on another: nothing to mix"
        raise RehearsalError(msg)
    dependent = min(
        dependents[base], key=lambda p: (len(release.siblings(p, packages)), p.dist)
    ).dist
    return base, dependent


def rehearse(work: Path) -> None:
    """Every step; raises RehearsalError at the first that fails."""
    packages = release.discover(ROOT)
    versions = {d: release.hatchling_version(p) for d, p in packages.items()}
    shutil.rmtree(work, ignore_errors=True)
    served = work / "index"
    served.mkdir(parents=True)
    files: list[Path] = []
    for dist, package in packages.items():
        files += build(package.folder, work / "dist" / dist)
    log(f"built {len(files)} files for {len(packages)} packages")
    password = secrets.token_urlsafe(24)
    (work / "htpasswd").write_text(htpasswd_line("release", password), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "pypiserver", "run", "--host", "127.0.0.1", "--port", str(port),
        "--passwords", str(work / "htpasswd"), "--authenticate", "update",
        "--disable-fallback", str(served),
    ]  # fmt: skip
    with serving(command, f"{url}/simple/", work / "pypiserver.log"):
        index = Index(f"{url}/", f"{url}/simple/", password, work)
        index.ours = sorted(packages)
        try:
            index.upload(files[:1], password="wrong")  # noqa: S106 - a wrong one on purpose
        except RehearsalError:
            log("an upload with a wrong password is refused")
        else:
            raise RehearsalError("the index accepted an upload with a wrong password")
        if any(served.iterdir()):
            raise RehearsalError("the refused upload left files in the index")
        index.upload(files)
        log(f"uploaded with twine to {url}: {len(list(served.iterdir()))} files")
        _each_alone(index, packages, versions)
        _sdists(index, packages, versions, work)
        _mix(index, packages, versions, work)


def _each_alone(
    index: Index,
    packages: dict[NormalizedName, release.Package],
    versions: dict[NormalizedName, Version],
) -> None:
    for dist in release.release_order(packages):
        python = index.venv(dist)
        done = index.install(python, dist)
        if done.returncode != 0:
            raise RehearsalError(f"pip install {dist} from the index failed:\n{done.stderr}")
        expect_ours(python, {d: versions[d] for d in closure(dist, packages)}, set(packages))
        smoke(python, packages, *sorted(closure(dist, packages)))
        log(f"{dist} alone: {_show({d: versions[d] for d in closure(dist, packages)})}")
    suite = release.release_order(packages)[-1]
    report = must([index.work / "venvs" / suite / "bin" / "python", "-m", suite.replace("-", "_")])
    shown = {
        canonicalize_name(line.split()[0]): Version(line.split()[1]) for line in report.splitlines()
    }
    if not shown or any(versions[d] != v for d, v in shown.items()):
        raise RehearsalError(f"python -m {suite} printed:\n{report}")
    log(f"{suite}: python -m {suite.replace('-', '_')} lists {len(shown)} layers")


def _sdists(
    index: Index,
    packages: dict[NormalizedName, release.Package],
    versions: dict[NormalizedName, Version],
    work: Path,
) -> None:
    suite = release.release_order(packages)[-1]
    python = index.venv("from-sdists")
    no_binary = [arg for dist in packages for arg in ("--no-binary", dist)]
    done = index.install(python, suite, extra=no_binary)
    if done.returncode != 0:
        raise RehearsalError(f"installing {suite} from sdists failed:\n{done.stderr}")
    expect_ours(python, {d: versions[d] for d in closure(suite, packages)}, set(packages))
    not_built = [
        d for d in closure(suite, packages) if f"Built {d}=={versions[d]}" not in done.stderr
    ]
    if not_built:
        raise RehearsalError(f"uv did not build {', '.join(sorted(not_built))} from the sdist")
    smoke(python, packages, *sorted(closure(suite, packages)))
    base, _ = base_and_dependent(packages)
    (sdist,) = (work / "dist" / base).glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked", filter="data")
    (tests,) = (work / "unpacked").glob("*/tests")
    tools = ["pytest>=8", "hypothesis>=6.100"]
    if index.install(python, *tools).returncode != 0:
        raise RehearsalError("installing pytest into the sdist venv failed")
    out = must([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests], cwd=tests.parent)
    log(f"from sdists: {len(packages)} built into wheels by uv; {base}'s sdist tests: "
        f"{out.strip().splitlines()[-1]}")  # fmt: skip


def _mix(
    index: Index,
    packages: dict[NormalizedName, release.Package],
    versions: dict[NormalizedName, Version],
    work: Path,
) -> None:
    base, dependent = base_and_dependent(packages)
    copy = work / "next"
    for dist in (base, dependent):
        shutil.copytree(packages[dist].folder, copy / "packages" / packages[dist].folder.name)
    script: list[str | Path] = [sys.executable, "-m", "scripts.release.release", "--root", copy]
    must([*script, "bump", base, "minor"], cwd=ROOT)
    copied = release.discover(copy)
    old, new = versions[base], release.hatchling_version(copied[base])
    index.upload(build(copied[base].folder, work / "next-dist" / base))
    log(f"published {base} {new} (bumped with release.py bump {base} minor)")
    every = set(packages)
    for pins, want in (((), new), ((f"{base}=={old}",), old)):
        python = index.venv(f"mix-{dependent}-{base}-{want}")
        done = index.install(python, dependent, *pins)
        if done.returncode != 0:
            raise RehearsalError(f"{dependent} with {base} {want}:\n{done.stderr}")
        expect_ours(python, {dependent: versions[dependent], base: want}, every)
        smoke(python, packages, dependent)
        log(f"{dependent} {versions[dependent]} (published before) installs with {base} {want}")
    must([*script, "bump", dependent, "patch"], cwd=ROOT)
    pyproject = copied[dependent].folder / "pyproject.toml"
    (wide,) = (str(r) for r in copied[dependent].requirements if r.name == base)
    narrow = f"{base}>={old},<{new}"
    text = pyproject.read_text(encoding="utf-8")
    old_texts = [t for t in _dependency_texts(text) if Requirement(t).name == base]
    if len(old_texts) != 1:
        raise RehearsalError(f"{pyproject}: cannot find the one requirement on {base}")
    pyproject.write_text(text.replace(f'"{old_texts[0]}"', f'"{narrow}"'), encoding="utf-8")
    checked = run([*script, "check", dependent], cwd=ROOT)
    if checked.returncode != 1 or f"excludes {base} {new}" not in checked.stderr:
        raise RehearsalError(f"release.py check accepted '{narrow}':\n{checked.stderr}")
    log(f"release.py check refuses '{narrow}' (was '{wide}')")
    narrowed = release.hatchling_version(release.discover(copy)[dependent])
    index.upload(build(copied[dependent].folder, work / "next-dist" / dependent))
    python = index.venv("mix-refused")
    done = index.install(python, f"{dependent}=={narrowed}", f"{base}=={new}")
    if done.returncode == 0 or "No solution found" not in done.stderr or base not in done.stderr:
        raise RehearsalError(f"the resolver did not refuse {dependent} {narrowed}:\n{done.stderr}")
    log(f"the resolver refuses {dependent} {narrowed} ('{narrow}') with {base} {new}")
    python = index.venv("mix-narrowed")
    if index.install(python, f"{dependent}=={narrowed}").returncode != 0:
        raise RehearsalError(f"{dependent} {narrowed} does not install")
    expect_ours(python, {dependent: narrowed, base: old}, every)
    log(f"{dependent} {narrowed} alone installs with {base} {old}")


def _dependency_texts(pyproject_text: str) -> list[str]:
    data = tomllib.loads(pyproject_text)
    return [str(text) for text in data["project"].get("dependencies", [])]


def main(argv: Sequence[str] | None = None) -> int:
    """``rehearse.py WORK``: run every step in the folder WORK (emptied first)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m scripts.release.rehearse WORK\n")
        return 2
    started = time.monotonic()
    try:
        rehearse(Path(args[0]).resolve())
    except (RehearsalError, release.ReleaseError) as error:
        sys.stderr.write(f"rehearsal failed: {error}\n")
        return 1
    log(f"every step passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""scripts/release/release.py: the project's own release rules, on small repositories.

Each test builds a repository in a temporary folder in the shape of this one (alpha; beta,
which depends on alpha by a range; suite, which depends on both), with versions that real
hatchling reads and bumps, and a git that is faked where tags matter.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from scripts.release import release
from scripts.release.release import ReleaseError

REPO = Path(__file__).resolve().parents[2]


def write_package(
    root: Path,
    dist: str,
    *,
    version: str = "0.1.0",
    dependencies: Sequence[str] = (),
    changelog: str | None = None,
    dynamic: bool = True,
) -> Path:
    folder = root / "packages" / dist
    module = dist.replace("-", "_")
    (folder / "src" / module).mkdir(parents=True)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    declared = 'dynamic = ["version"]' if dynamic else f'version = "{version}"'
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling>=1.21"]\nbuild-backend = "hatchling.build"\n\n'
        f'[project]\nname = "{dist}"\n{declared}\ndependencies = [{deps}]\n\n'
        f'[tool.hatch.version]\npath = "src/{module}/__init__.py"\n',
        encoding="utf-8",
    )
    (folder / "src" / module / "__init__.py").write_text(
        f'"""{dist}."""\n\n__version__ = "{version}"\n', encoding="utf-8"
    )
    if changelog is None:
        changelog = f"# Changelog\n\nIntro.\n\n## {version} (2025-01-01)\n\nFirst release.\n"
    (folder / "CHANGELOG.md").write_text(changelog, encoding="utf-8")
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_package(tmp_path, "alpha")
    write_package(tmp_path, "beta", dependencies=["alpha>=0.1,<1"])
    write_package(tmp_path, "suite", dependencies=["alpha>=0.1,<1", "beta~=0.1"])
    return tmp_path


def init_text(root: Path, dist: str) -> str:
    module = dist.replace("-", "_")
    return (root / "packages" / dist / "src" / module / "__init__.py").read_text(encoding="utf-8")


def changelog_text(root: Path, dist: str) -> str:
    return (root / "packages" / dist / "CHANGELOG.md").read_text(encoding="utf-8")


def snapshot(root: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


class FakeGit:
    def __init__(self, *tags: str) -> None:
        self.tags = list(tags)
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        if list(args[:2]) == ["tag", "--list"]:
            prefix = args[2].removesuffix("*")
            exact = not args[2].endswith("*")
            return "".join(
                f"{t}\n" for t in self.tags if (t == args[2] if exact else t.startswith(prefix))
            )
        if list(args[:2]) == ["tag", "-a"]:
            self.tags.append(args[2])
            return ""
        raise AssertionError(args)


class TestDiscovery:
    def test_reads_names_requirements_and_hatchlings_versions(self, repo: Path) -> None:
        packages = release.discover(repo)
        assert sorted(packages) == ["alpha", "beta", "suite"]
        assert [str(r) for r, _ in release.siblings(release.find(packages, "suite"), packages)] == [
            "alpha<1,>=0.1",
            "beta~=0.1",
        ]
        assert release.versions(packages) == dict.fromkeys(packages, Version("0.1.0"))

    def test_release_order_puts_dependencies_first(self, repo: Path) -> None:
        write_package(repo, "aardvark", dependencies=["suite>=0.1,<1"])
        assert release.release_order(release.discover(repo)) == [
            "alpha",
            "beta",
            "suite",
            "aardvark",
        ]

    def test_a_cycle_is_refused_with_its_path(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha", dependencies=["beta>=0.1,<1"])
        write_package(tmp_path, "beta", dependencies=["alpha>=0.1,<1"])
        with pytest.raises(ReleaseError, match=r"dependency cycle: (alpha|beta) -> "):
            release.release_order(release.discover(tmp_path))

    def test_a_static_version_is_read_but_refused_as_a_second_source(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha", version="0.3.0", dynamic=False)
        packages = release.discover(tmp_path)
        (package,) = packages.values()
        assert release.hatchling_version(package) == Version("0.3.0")
        problems = release.problems(
            package, packages, release.versions(packages), for_release=False
        )
        assert problems == [release.SOURCE_PROBLEM.format("alpha")]
        assert "one version source" in problems[0]
        before = snapshot(tmp_path)
        with pytest.raises(ReleaseError, match=r'dynamic = \["version"\]'):
            release.bump("alpha", "minor", tmp_path)
        assert snapshot(tmp_path) == before


class TestRanges:
    @pytest.mark.parametrize("text", ["alpha>=0.1,<1", "alpha~=0.1", "alpha >0.1, <=0.9"])
    def test_a_bounded_range_is_a_range(self, text: str) -> None:
        assert release.range_problem(Requirement(text)) is None

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("alpha==0.1.0", "pins one version"),
            ("alpha>=0.1", "no upper bound"),
            ("alpha<1", "no lower bound"),
            ("alpha", "no lower bound"),
            ("alpha @ https://example.invalid/alpha.whl", "direct reference"),
        ],
    )
    def test_pins_open_ranges_and_urls_are_not(self, text: str, problem: str) -> None:
        found = release.range_problem(Requirement(text))
        assert found is not None
        assert problem in found

    @pytest.mark.parametrize(
        ("text", "version", "expected"),
        [
            ("alpha>=0.1,<1", "0.9.3", True),
            ("alpha>=0.1,<1", "1.0.0", False),
            ("alpha>=0.1,<1", "0.1.0rc1", False),
            ("alpha>=0.1.0rc1,<1", "0.1.0rc1", True),
            ("alpha~=0.2", "0.9.0", True),
            ("alpha~=0.2.1", "0.3.0", False),
        ],
    )
    def test_admits_follows_pep_440(self, text: str, version: str, expected: bool) -> None:
        assert release.admits(Requirement(text), Version(version)) is expected


class TestChangelog:
    def test_reads_the_newest_section(self) -> None:
        text = "# C\n\n## 1.2.0rc1 (unreleased)\n\n- a\n- b\n\n## 1.1.0\n\n- c\n"
        section = release.newest_section(text)
        assert section == release.Section(2, "1.2.0rc1 (unreleased)", Version("1.2.0rc1"), True, 2)

    def test_a_heading_without_a_version_has_none(self) -> None:
        section = release.newest_section("## Unreleased\n")
        assert section is not None
        assert section.version is None
        assert section.unreleased


class TestBump:
    def test_minor_bumps_the_one_source_and_opens_a_section(self, repo: Path) -> None:
        assert release.bump("alpha", "minor", repo) == (Version("0.1.0"), Version("0.2.0"), [])
        assert '__version__ = "0.2.0"' in init_text(repo, "alpha")
        assert changelog_text(repo, "alpha").startswith(
            "# Changelog\n\nIntro.\n\n## 0.2.0 (unreleased)\n\n## 0.1.0 (2025-01-01)\n"
        )
        (alpha,) = (p for p in release.discover(repo).values() if p.dist == "alpha")
        assert release.hatchling_version(alpha) == Version("0.2.0")

    def test_hatchling_segments_and_explicit_versions(self, repo: Path) -> None:
        assert release.bump("alpha", "major,rc", repo)[1] == Version("1.0.0rc0")
        assert release.bump("beta", "0.3.0", repo)[1] == Version("0.3.0")

    def test_an_unreleased_section_is_renamed_with_its_notes(self, tmp_path: Path) -> None:
        changelog = "# C\n\n## 0.1.0 (unreleased)\n\n- a note\n"
        write_package(tmp_path, "alpha", changelog=changelog)
        release.bump("alpha", "patch", tmp_path)
        assert changelog_text(tmp_path, "alpha") == "# C\n\n## 0.1.1 (unreleased)\n\n- a note\n"

    @pytest.mark.parametrize("target", ["0.1.0", "0.0.9"])
    def test_refuses_a_version_not_above_the_current(self, repo: Path, target: str) -> None:
        before = snapshot(repo)
        with pytest.raises(ReleaseError, match="not higher than the original version"):
            release.bump("alpha", target, repo)
        assert snapshot(repo) == before

    def test_refuses_a_changelog_opening_with_another_version(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha", changelog="## 0.0.9\n\n- old\n")
        before = snapshot(tmp_path)
        with pytest.raises(ReleaseError, match=r"'## 0\.0\.9', the version is 0\.1\.0"):
            release.bump("alpha", "minor", tmp_path)
        assert snapshot(tmp_path) == before

    def test_warns_about_dependents_whose_range_excludes_the_new_version(self, repo: Path) -> None:
        _, _, warnings = release.bump("alpha", "major", repo)
        assert len(warnings) == 2
        assert warnings[0].startswith("beta requires 'alpha<1,>=0.1', which excludes 1.0.0")
        assert "release beta after alpha" in warnings[0]

    def test_unknown_names_list_the_known_ones(self, repo: Path) -> None:
        with pytest.raises(ReleaseError, match="known: alpha, beta, suite"):
            release.bump("gamma", "minor", repo)

    def test_names_are_compared_normalized(self, repo: Path) -> None:
        assert release.bump("Alpha", "patch", repo)[1] == Version("0.1.1")


class TestChecks:
    def check(self, root: Path, *, for_release: bool = False) -> list[str]:
        packages = release.discover(root)
        known = release.versions(packages)
        return [
            p
            for pkg in packages.values()
            for p in release.problems(pkg, packages, known, for_release=for_release)
        ]

    def test_a_consistent_repository_passes(self, repo: Path) -> None:
        assert self.check(repo, for_release=True) == []

    def test_a_bump_leaves_the_changelog_unready_and_a_range_behind(self, repo: Path) -> None:
        release.bump("alpha", "1.0.0", repo)
        found = self.check(repo)
        assert found == [
            "beta: 'alpha<1,>=0.1' excludes alpha 1.0.0",
            "suite: 'alpha<1,>=0.1' excludes alpha 1.0.0",
        ]
        assert any(
            "'## 1.0.0 (unreleased)': write the date" in p
            for p in self.check(repo, for_release=True)
        )

    def test_pins_and_missing_changelogs_are_reported(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha")
        write_package(tmp_path, "beta", dependencies=["alpha==0.1.0", "requests==2.0"])
        (tmp_path / "packages" / "alpha" / "CHANGELOG.md").unlink()
        found = self.check(tmp_path)
        assert len(found) == 2
        assert "CHANGELOG.md is missing" in found[0]
        assert (
            found[1]
            == "beta: the sibling dependency 'alpha==0.1.0' pins one version (==); published "
            "metadata needs a range"
        )

    def test_a_section_without_notes_is_not_released(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha", changelog="## 0.1.0 (2025-01-01)\n\n")
        assert self.check(tmp_path) == []
        changelog = tmp_path / "packages" / "alpha" / "CHANGELOG.md"
        assert self.check(tmp_path, for_release=True) == [
            f"{changelog}: the section '## 0.1.0 (2025-01-01)' has no notes"
        ]


class TestTag:
    def test_prints_the_command_and_creates_it_only_when_asked(self, repo: Path) -> None:
        git = FakeGit()
        expected = ["git", "tag", "-a", "alpha-v0.1.0", "-m", "alpha 0.1.0"]
        assert release.tag("alpha", create=False, root=repo, run=git) == expected
        assert git.tags == []
        release.tag("alpha", create=True, root=repo, run=git)
        assert git.tags == ["alpha-v0.1.0"]

    def test_refuses_an_existing_tag(self, repo: Path) -> None:
        with pytest.raises(ReleaseError, match=r"alpha-v0\.1\.0 exists already"):
            release.tag("alpha", create=True, root=repo, run=FakeGit("alpha-v0.1.0"))

    def test_siblings_are_released_first(self, repo: Path) -> None:
        with pytest.raises(ReleaseError, match="admits no tagged alpha: release alpha first"):
            release.tag("beta", create=False, root=repo, run=FakeGit("alpha-v0.0.1", "alpha-vX"))
        git = FakeGit("alpha-v0.1.0")
        assert release.tag("beta", create=False, root=repo, run=git)[3] == "beta-v0.1.0"

    def test_refuses_a_section_still_marked_unreleased(self, repo: Path) -> None:
        release.bump("alpha", "minor", repo)
        with pytest.raises(ReleaseError, match=r"write the date, '## 0\.2\.0 \(Y-M-D\)'"):
            release.tag("alpha", create=True, root=repo, run=FakeGit())


class TestCommandLine:
    def test_bump_reports_and_warns(self, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert release.main(["--root", str(repo), "bump", "alpha", "major"]) == 0
        out, err = capsys.readouterr()
        assert out == "alpha: 0.1.0 -> 1.0.0; CHANGELOG.md opens '## 1.0.0 (unreleased)'\n"
        assert err.count("warning: ") == 2

    def test_a_refusal_exits_1_and_check_lists_the_problems(
        self, repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert release.main(["--root", str(repo), "check"]) == 0
        assert capsys.readouterr().out == "ok: alpha, beta, suite\n"
        release.bump("alpha", "1.0.0", repo)
        assert release.main(["--root", str(repo), "check", "beta"]) == 1
        assert capsys.readouterr().err == "refused: beta: 'alpha<1,>=0.1' excludes alpha 1.0.0\n"

    def test_order_prints_versions_and_tags(
        self, repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert release.main(["--root", str(repo), "order"]) == 0
        assert capsys.readouterr().out.splitlines() == [
            "alpha 0.1.0 alpha-v0.1.0",
            "beta 0.1.0 beta-v0.1.0",
            "suite 0.1.0 suite-v0.1.0",
        ]

    def test_tag_prints_a_command_to_paste(
        self, repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert release.main(["--root", str(repo), "tag", "alpha"], run=FakeGit()) == 0
        assert capsys.readouterr().out == 'git tag -a alpha-v0.1.0 -m "alpha 0.1.0"\n'

    def test_bad_arguments_exit_2(self) -> None:
        with pytest.raises(SystemExit) as raised:
            release.main(["bump", "alpha"])
        assert raised.value.code == 2

    def test_runs_as_a_script(self, repo: Path) -> None:
        script = REPO / "scripts" / "release" / "release.py"
        done = subprocess.run(
            [sys.executable, str(script), "--root", str(repo), "check"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert (done.returncode, done.stdout) == (0, "ok: alpha, beta, suite\n")


def test_this_repository_passes_its_own_checks() -> None:
    packages = release.discover(REPO)
    assert len(packages) >= 2
    known = release.versions(packages)
    found = [
        p
        for pkg in packages.values()
        for p in release.problems(pkg, packages, known, for_release=False)
    ]
    assert found == []
    assert release.release_order(packages)[-1] == "stomp-suite"

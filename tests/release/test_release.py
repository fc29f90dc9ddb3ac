"""scripts/release/release.py: bumping, checking and tagging one distribution of a monorepo.

Each test builds a small repository in a temporary folder, in the shape of this one: a
package with code (``__version__``), a package depending on it by a range, and a
meta-package without code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from scripts.release import release
from scripts.release.release import ReleaseError, Requirement, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def write_package(
    root: Path,
    dist: str,
    *,
    version: str = "0.1.0",
    init_version: str | None = "0.1.0",
    dependencies: Sequence[str] = (),
    changelog: str | None = None,
    code: bool = True,
) -> Path:
    folder = root / "packages" / dist
    folder.mkdir(parents=True)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (folder / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["hatchling>=1.21"]\n'
        "\n"
        "[project]\n"
        f'name = "{dist}"\n'
        f'version = "{version}"  # the release\n'
        f"dependencies = [{deps}]\n"
        "\n"
        "[tool.example]\n"
        f'version = "{version}"\n',
        encoding="utf-8",
    )
    if code:
        package = folder / "src" / dist.replace("-", "_")
        package.mkdir(parents=True)
        line = "" if init_version is None else f'__version__ = "{init_version}"\n'
        (package / "__init__.py").write_text(
            f'"""{dist}."""\n\n__all__: list[str] = []\n\n{line}', encoding="utf-8"
        )
    if changelog is None:
        changelog = f"# Changelog\n\nIntro text.\n\n## {version}\n\nFirst release.\n"
    (folder / "CHANGELOG.md").write_text(changelog, encoding="utf-8")
    return folder


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with alpha (code), beta (depends on alpha) and suite (no code)."""
    write_package(tmp_path, "alpha")
    write_package(tmp_path, "beta", dependencies=["alpha>=0.1,<1"])
    write_package(tmp_path, "suite", code=False, dependencies=["alpha>=0.1,<1", "beta>=0.1,<1"])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def project_version(folder: Path) -> str:
    data = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    version = data["project"]["version"]
    assert isinstance(version, str)
    return version


def snapshot(root: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


class TestVersion:
    def test_parses_and_writes_back_releases_and_pre_releases(self) -> None:
        for text in ("0.1.0", "1.20.3", "2.0.0a1", "2.0.0b2", "2.0.0rc10"):
            assert str(Version.parse(text)) == text

    def test_orders_pre_releases_before_their_release(self) -> None:
        order = ["1.0.0a1", "1.0.0a2", "1.0.0b1", "1.0.0rc1", "1.0.0", "1.0.1", "1.1.0"]
        parsed = [Version.parse(text) for text in order]
        assert parsed == sorted(parsed)

    @pytest.mark.parametrize("text", ["1.0", "v1.0.0", "1.0.0.dev1", "1.0.0-rc1", ""])
    def test_refuses_what_is_not_x_y_z(self, text: str) -> None:
        with pytest.raises(ReleaseError, match="not a version"):
            Version.parse(text)

    @pytest.mark.parametrize(
        ("part", "expected"), [("major", "2.0.0"), ("minor", "1.3.0"), ("patch", "1.2.4")]
    )
    def test_bumps_each_part_and_resets_the_lower_ones(self, part: str, expected: str) -> None:
        assert str(Version.parse("1.2.3").bumped(part)) == expected


class TestRequirement:
    @pytest.mark.parametrize("text", ["alpha>=0.1,<1", "alpha~=0.1", "alpha >0.1, <=0.9"])
    def test_a_bounded_range_is_a_range(self, text: str) -> None:
        assert Requirement.parse(text).range_problem() is None

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("alpha==0.1.0", "pins one version"),
            ("alpha>=0.1", "no upper bound"),
            ("alpha<1", "no lower bound"),
            ("alpha", "no lower bound"),
            ("alpha @ file:///src/alpha", "direct reference"),
        ],
    )
    def test_pins_open_ranges_and_urls_are_not(self, text: str, problem: str) -> None:
        found = Requirement.parse(text).range_problem()
        assert found is not None
        assert problem in found

    def test_admits_follows_the_specifiers(self) -> None:
        requirement = Requirement.parse("alpha>=0.1,<1; python_version >= '3.10'")
        assert requirement.name == "alpha"
        assert requirement.admits(Version.parse("0.1.0"))
        assert requirement.admits(Version.parse("0.9.9"))
        assert not requirement.admits(Version.parse("1.0.0"))
        assert not requirement.admits(Version.parse("0.0.9"))
        compatible = Requirement.parse("alpha~=1.4.2")
        assert compatible.admits(Version.parse("1.4.9"))
        assert not compatible.admits(Version.parse("1.5.0"))


class TestBump:
    def test_minor_updates_pyproject_init_and_opens_a_changelog_section(self, repo: Path) -> None:
        done = release.bump("alpha", "minor", repo)
        folder = repo / "packages" / "alpha"
        assert (str(done.old), str(done.new)) == ("0.1.0", "0.2.0")
        assert project_version(folder) == "0.2.0"
        init = (folder / "src" / "alpha" / "__init__.py").read_text(encoding="utf-8")
        assert '__version__ = "0.2.0"\n' in init
        changelog = (folder / "CHANGELOG.md").read_text(encoding="utf-8")
        assert changelog == (
            "# Changelog\n\nIntro text.\n\n## 0.2.0 (unreleased)\n\n## 0.1.0\n\nFirst release.\n"
        )

    def test_only_the_project_table_version_changes(self, repo: Path) -> None:
        release.bump("alpha", "patch", repo)
        text = (repo / "packages" / "alpha" / "pyproject.toml").read_text(encoding="utf-8")
        assert 'version = "0.1.1"  # the release\n' in text
        assert '[tool.example]\nversion = "0.1.0"\n' in text

    def test_an_explicit_version_is_taken_as_given(self, repo: Path) -> None:
        release.bump("alpha", "1.0.0rc1", repo)
        assert project_version(repo / "packages" / "alpha") == "1.0.0rc1"

    @pytest.mark.parametrize("target", ["0.1.0", "0.0.9", "0.1.0rc1"])
    def test_refuses_a_version_not_above_the_current(self, repo: Path, target: str) -> None:
        before = snapshot(repo)
        with pytest.raises(ReleaseError, match=r"not above the current 0\.1\.0"):
            release.bump("alpha", target, repo)
        assert snapshot(repo) == before

    def test_refuses_when_init_and_pyproject_disagree_and_writes_nothing(
        self, tmp_path: Path
    ) -> None:
        write_package(tmp_path, "alpha", init_version="0.0.9")
        before = snapshot(tmp_path)
        with pytest.raises(ReleaseError, match=r"version is 0.1.0 but __version__ is 0.0.9"):
            release.bump("alpha", "minor", tmp_path)
        assert snapshot(tmp_path) == before

    def test_refuses_an_init_without_version(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha", init_version=None)
        with pytest.raises(ReleaseError, match=r'0 __version__ lines.*__version__ = "0.1.0"'):
            release.bump("alpha", "minor", tmp_path)

    def test_refuses_a_changelog_that_opens_with_another_version(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha", changelog="# Changelog\n\n## 0.0.5\n\n- old\n")
        before = snapshot(tmp_path)
        with pytest.raises(ReleaseError, match=r"'## 0.0.5', but the version is 0.1.0"):
            release.bump("alpha", "minor", tmp_path)
        assert snapshot(tmp_path) == before

    def test_refuses_a_missing_changelog(self, repo: Path) -> None:
        (repo / "packages" / "alpha" / "CHANGELOG.md").unlink()
        with pytest.raises(ReleaseError, match=r"CHANGELOG\.md is missing"):
            release.bump("alpha", "minor", repo)

    def test_refuses_a_dynamic_version(self, tmp_path: Path) -> None:
        folder = write_package(tmp_path, "alpha")
        pyproject = folder / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        text = text.replace('version = "0.1.0"  # the release\n', 'dynamic = ["version"]\n')
        pyproject.write_text(text, encoding="utf-8")
        with pytest.raises(ReleaseError, match="the version is dynamic"):
            release.bump("alpha", "minor", tmp_path)

    def test_an_unreleased_newest_section_is_renamed_with_its_notes(self, tmp_path: Path) -> None:
        changelog = "# Changelog of alpha\n\n## 0.1.0 (unreleased)\n\n- first notes\n"
        folder = write_package(tmp_path, "alpha", changelog=changelog)
        done = release.bump("alpha", "minor", tmp_path)
        assert done.renamed == "0.1.0 (unreleased)"
        assert (folder / "CHANGELOG.md").read_text(encoding="utf-8") == (
            "# Changelog of alpha\n\n## 0.2.0 (unreleased)\n\n- first notes\n"
        )

    def test_a_keep_a_changelog_unreleased_section_becomes_the_new_version(
        self, tmp_path: Path
    ) -> None:
        changelog = "# Changelog\n\n## [Unreleased]\n\n- new\n\n## [0.1.0] - 2024-01-01\n\n- old\n"
        folder = write_package(tmp_path, "alpha", changelog=changelog)
        release.bump("alpha", "patch", tmp_path)
        text = (folder / "CHANGELOG.md").read_text(encoding="utf-8")
        assert text.startswith("# Changelog\n\n## 0.1.1 (unreleased)\n\n- new\n\n## [0.1.0]")

    def test_a_meta_package_without_code_has_no_init_to_update(self, repo: Path) -> None:
        release.bump("suite", "major", repo)
        assert project_version(repo / "packages" / "suite") == "1.0.0"

    def test_warns_when_a_dependent_range_excludes_the_new_version(self, repo: Path) -> None:
        done = release.bump("alpha", "major", repo)
        dependents = sorted(warning.split()[0] for warning in done.warnings)
        assert dependents == ["beta", "suite"]
        assert "'alpha>=0.1,<1', which excludes 1.0.0" in done.warnings[0]

    def test_unknown_distribution_names_the_known_ones(self, repo: Path) -> None:
        with pytest.raises(ReleaseError, match=r"known: alpha, beta, suite"):
            release.bump("gamma", "minor", repo)

    def test_names_are_compared_normalized(self, repo: Path) -> None:
        assert str(release.bump("Alpha", "patch", repo).new) == "0.1.1"


class FakeGit:
    """Records git commands; ``tags`` are the tags that exist."""

    def __init__(self, tags: Sequence[str] = ()) -> None:
        self.tags = list(tags)
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        if list(args[:2]) == ["tag", "--list"]:
            return "\n".join(tag for tag in self.tags if tag == args[2])
        return ""


class TestTag:
    def test_prints_the_tag_command_without_creating_it(self, repo: Path) -> None:
        git = FakeGit()
        command = release.tag("alpha", root=repo, run=git)
        assert command == ["git", "tag", "-a", "alpha-v0.1.0", "-m", "alpha 0.1.0"]
        assert git.calls == [["tag", "--list", "alpha-v0.1.0"]]

    def test_create_runs_git_tag(self, repo: Path) -> None:
        git = FakeGit()
        release.tag("alpha", create=True, root=repo, run=git)
        assert git.calls[-1] == ["tag", "-a", "alpha-v0.1.0", "-m", "alpha 0.1.0"]

    def test_refuses_an_existing_tag(self, repo: Path) -> None:
        with pytest.raises(ReleaseError, match=r"alpha-v0\.1\.0 exists already"):
            release.tag("alpha", root=repo, run=FakeGit(["alpha-v0.1.0"]))

    def test_refuses_a_section_still_marked_unreleased(self, repo: Path) -> None:
        release.bump("alpha", "minor", repo)
        with pytest.raises(ReleaseError, match=r"'## 0.2.0 \(unreleased\)' is marked unreleased"):
            release.tag("alpha", root=repo, run=FakeGit())

    def test_refuses_a_section_without_notes(self, repo: Path) -> None:
        release.bump("alpha", "minor", repo)
        changelog = repo / "packages" / "alpha" / "CHANGELOG.md"
        text = changelog.read_text(encoding="utf-8")
        changelog.write_text(text.replace(" (unreleased)", " (2025-02-01)"), encoding="utf-8")
        with pytest.raises(ReleaseError, match="has no notes"):
            release.tag("alpha", root=repo, run=FakeGit())
        changelog.write_text(
            changelog.read_text(encoding="utf-8").replace(
                "## 0.2.0 (2025-02-01)\n", "## 0.2.0 (2025-02-01)\n\n- A change.\n"
            ),
            encoding="utf-8",
        )
        assert release.tag("alpha", root=repo, run=FakeGit())[3] == "alpha-v0.2.0"

    def test_refuses_a_sibling_pin(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha")
        write_package(tmp_path, "beta", dependencies=["alpha==0.1.0"])
        with pytest.raises(ReleaseError, match=r"'alpha==0.1.0' pins one version"):
            release.tag("beta", root=tmp_path, run=FakeGit())

    def test_refuses_a_range_that_excludes_the_sibling_in_the_repository(self, repo: Path) -> None:
        release.bump("alpha", "1.0.0", repo)
        with pytest.raises(ReleaseError, match=r"'alpha>=0.1,<1' excludes alpha 1.0.0"):
            release.tag("beta", root=repo, run=FakeGit())

    def test_third_party_pins_are_not_the_tools_business(self, tmp_path: Path) -> None:
        write_package(tmp_path, "alpha", dependencies=["twisted==24.3.0"])
        assert release.tag("alpha", root=tmp_path, run=FakeGit())[3] == "alpha-v0.1.0"


class TestCommandLine:
    def test_bump_reports_what_it_did(self, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert release.main(["bump", "alpha", "minor"], root=repo) == 0
        out = capsys.readouterr().out
        assert out == "alpha: 0.1.0 -> 0.2.0; CHANGELOG.md opened '## 0.2.0 (unreleased)'\n"

    def test_a_refusal_exits_1_with_the_reason(
        self, repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert release.main(["bump", "alpha", "0.0.1"], root=repo) == 1
        assert capsys.readouterr().err.startswith("refused: alpha: the new version 0.0.1")

    def test_bad_arguments_exit_2(self, repo: Path) -> None:
        with pytest.raises(SystemExit) as exited:
            release.main(["bump", "alpha"], root=repo)
        assert exited.value.code == 2

    def test_tag_prints_a_command_to_paste(
        self, repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert release.main(["tag", "beta"], root=repo, run=FakeGit()) == 0
        assert capsys.readouterr().out == 'git tag -a beta-v0.1.0 -m "beta 0.1.0"\n'

    def test_check_passes_a_consistent_repository_and_lists_every_problem(
        self, repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert release.main(["check"], root=repo) == 0
        assert capsys.readouterr().out == "ok: alpha, beta, suite\n"
        init = repo / "packages" / "alpha" / "src" / "alpha" / "__init__.py"
        init.write_text('__version__ = "0.1.1"\n', encoding="utf-8")
        (repo / "packages" / "suite" / "CHANGELOG.md").write_text("# Changelog\n")
        assert release.main(["check"], root=repo) == 1
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith("refused: alpha: [project] version is 0.1.0 but __version__")
        assert err[1:] == ["packages/suite/CHANGELOG.md has no '## 0.1.0' section"]


def test_this_repository_publishes_sibling_dependencies_as_ranges() -> None:
    """Every package names its siblings by a bounded range that admits their versions here.

    Local development installs the siblings from their folders: a range that excludes the
    folder's version would make that install fail.
    """
    packages = release.discover(REPO)
    assert {"stomp-frame", "stomp-commands", "stomp-session", "stomp-failover"} <= set(packages)
    for package in packages.values():
        for requirement in package.requirements():
            sibling = packages.get(requirement.name)
            if sibling is None:
                continue
            assert requirement.range_problem() is None, (package.dist, requirement.text)
            current = Version.parse(sibling.pyproject_version())
            assert requirement.admits(current), (package.dist, requirement.text, str(current))

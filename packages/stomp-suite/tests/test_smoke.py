"""Every layer imports, and the versions the suite pulled in satisfy each other's ranges."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import stomp_suite
from stomp_suite import LAYERS, versions


def test_every_layer_imports_with_a_version_matching_its_metadata() -> None:
    found = versions()
    assert list(found) == list(LAYERS)
    for dist, version in found.items():
        assert Version(version) == Version(metadata.version(dist))


@pytest.mark.parametrize("dist", ["stomp-suite", *LAYERS])
def test_declared_sibling_ranges_are_satisfied_by_what_is_installed(dist: str) -> None:
    siblings = [
        Requirement(text)
        for text in metadata.requires(dist) or []
        if Requirement(text).name in LAYERS and Requirement(text).marker is None
    ]
    if dist == "stomp-suite":
        assert {r.name for r in siblings} == set(LAYERS)
    for requirement in siblings:
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{dist} wants {requirement}, {installed} is installed"
        )
        assert requirement.specifier, f"{dist}: {requirement.name} must be a range, not unpinned"


def test_the_suite_names_layers_in_dependency_order() -> None:
    seen: set[str] = set()
    for dist in LAYERS:
        needs = {Requirement(r).name for r in metadata.requires(dist) or []} & set(LAYERS)
        assert needs <= seen, f"{dist} needs {needs - seen}, listed later"
        seen.add(dist)


def test_the_command_line_prints_every_layer() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stomp_suite"], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(LAYERS)
    assert stomp_suite.__version__ == metadata.version("stomp-suite")


def test_main_reports_each_layer_once(capsys: pytest.CaptureFixture[str]) -> None:
    from stomp_suite.__main__ import main

    main()
    report = dict(line.split() for line in capsys.readouterr().out.splitlines())
    assert report == versions()

"""scripts/release/rehearse.py: the server is stopped whatever happens; the picks it makes.

The rehearsal itself runs as ``nox -s rehearsal``; these tests cover what it relies on with
a stand-in server (``python -m http.server``), so they need no index and no network.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from scripts.release import rehearse, release
from tests.release.test_release import write_package

REPO = Path(__file__).resolve().parents[2]


def http_server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def gone(pid: int) -> bool:
    """Whether *pid* has exited (polled: a killed process needs a moment to be reaped)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").is_file():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] == "Z":  # a zombie of a parent that is gone too: it has exited
                return True
        time.sleep(0.05)
    return False


class TestServing:
    def test_the_server_answers_in_the_block_and_is_stopped_after_an_error(
        self, tmp_path: Path
    ) -> None:
        port = rehearse.free_port()
        url = f"http://127.0.0.1:{port}/"
        with (  # noqa: PT012 - the block is the test
            pytest.raises(ValueError, match="inside"),
            rehearse.serving(http_server(port), url, tmp_path / "log") as process,
        ):
            assert accepts(port)
            raise ValueError("inside")
        assert process.poll() is not None
        assert not accepts(port)

    def test_a_server_that_exits_at_once_is_reported_with_its_output(self, tmp_path: Path) -> None:
        command = [sys.executable, "-c", "import sys; print('no such option'); sys.exit(3)"]
        with (
            pytest.raises(rehearse.RehearsalError, match="exited with 3") as raised,
            rehearse.serving(command, "http://127.0.0.1:9/", tmp_path / "log"),
        ):
            pytest.fail("the block must not run")
        assert "no such option" in str(raised.value)

    @pytest.mark.parametrize(
        ("how", "status"),
        [("SIGTERM", 128 + signal.SIGTERM), ("SIGKILL", -signal.SIGKILL)],
    )
    def test_the_server_does_not_outlive_a_killed_rehearsal(
        self, tmp_path: Path, how: str, status: int
    ) -> None:
        """SIGTERM runs the clean-up (exit 143 from SystemExit); SIGKILL leaves it to the
        parent-death signal (Linux)."""
        if how == "SIGKILL" and sys.platform != "linux":
            pytest.skip("the parent-death signal is Linux only")
        port = rehearse.free_port()
        script = textwrap.dedent(f"""
            import os, signal, sys, time
            from pathlib import Path
            from scripts.release import rehearse
            command = {http_server(port)!r}
            with rehearse.serving(command, "http://127.0.0.1:{port}/", Path({str(tmp_path)!r}) / "log") as p:
                print(p.pid, flush=True)
                os.kill(os.getpid(), signal.{how})
                time.sleep(60)
        """)  # noqa: E501
        with subprocess.Popen(
            [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            server = int(child.stdout.readline())
            assert child.wait() == status
        assert gone(server)
        assert not accepts(port)


def test_the_htpasswd_entry_is_the_sha_scheme_of_htpasswd_s() -> None:
    digest = base64.b64encode(hashlib.sha1(b"s3cret").digest()).decode()
    assert rehearse.htpasswd_line("release", "s3cret") == f"release:{{SHA}}{digest}\n"
    assert "s3cret" not in rehearse.htpasswd_line("release", "s3cret")


def test_the_password_stays_out_of_the_index_repr() -> None:
    index = rehearse.Index("http://x/", "http://x/simple/", "s3cret", Path())
    assert "s3cret" not in repr(index)


def test_base_and_dependent_are_the_most_needed_and_its_simplest_user(tmp_path: Path) -> None:
    write_package(tmp_path, "alpha")
    write_package(tmp_path, "beta", dependencies=["alpha>=0.1,<1", "gamma>=0.1,<1"])
    write_package(tmp_path, "gamma", dependencies=["alpha>=0.1,<1"])
    write_package(tmp_path, "suite", dependencies=["alpha>=0.1,<1", "beta~=0.1", "gamma~=0.1"])
    packages = release.discover(tmp_path)
    assert rehearse.base_and_dependent(packages) == ("alpha", "gamma")
    assert rehearse.closure(canonicalize_name("beta"), packages) == {
        "alpha",
        "beta",
        "gamma",
    }


def test_nothing_to_mix_without_a_dependency(tmp_path: Path) -> None:
    write_package(tmp_path, "alpha")
    with pytest.raises(rehearse.RehearsalError, match="nothing to mix"):
        rehearse.base_and_dependent(release.discover(tmp_path))


def test_this_repository_mixes_its_frame_and_commands() -> None:
    packages = release.discover(REPO)
    assert rehearse.base_and_dependent(packages) == ("stomp-frame", "stomp-commands")

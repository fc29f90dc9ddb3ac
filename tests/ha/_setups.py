"""The highly available set-ups of ``scripts/brokers/ha.sh``, as the failover tests reach them.

Everything comes from ``$HA_DIR/ha.env`` (default ``/tmp/stomp-ha/ha.env``) or from the same
``STOMP_HA_*`` variables in the environment: the failover URI over every node, the login, the
headers the set-up needs on SUBSCRIBE and SEND, and per node its port and the commands that
kill it (SIGKILL) and start it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeAlias, get_args

from tests.integration._brokers import read_env_file

SetupName: TypeAlias = Literal["activemq", "rabbitmq", "artemis"]
SETUP_NAMES: Final[tuple[SetupName, ...]] = get_args(SetupName)
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
HA_SCRIPT: Final = REPO_ROOT / "scripts" / "brokers" / "ha.sh"
START_HINT: Final = "start it with scripts/brokers/ha.sh start"


class NodeCommandError(RuntimeError):
    """A node's kill or start command failed (the message holds its output)."""


def ha_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return ``$HA_DIR``, with the default of ``scripts/brokers/ha.sh``."""
    env = os.environ if environ is None else environ
    if directory := env.get("HA_DIR") or env.get("STOMP_HA_DIR"):
        return Path(directory)
    return Path(env.get("TMPDIR") or "/tmp") / "stomp-ha"


def ha_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``STOMP_HA_*`` settings: ``ha.env``'s, overridden by the environment's."""
    env = os.environ if environ is None else environ
    settings = read_env_file(ha_dir(env) / "ha.env")
    settings.update((key, value) for key, value in env.items() if key.startswith("STOMP_HA_"))
    return settings


def _headers(text: str) -> dict[str, str]:
    pairs = (item.partition(":") for item in text.split(",") if item.strip())
    return {name.strip(): value.strip() for name, _, value in pairs}


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _run(command: str, timeout: float) -> str:
    try:
        done = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"{command!r} did not finish within {timeout:.0f}s"
        raise NodeCommandError(msg) from exc
    if done.returncode != 0:
        msg = f"{command!r} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        raise NodeCommandError(msg)
    return done.stdout


@dataclass(frozen=True, kw_only=True)
class Node:
    """One broker process of a set-up."""

    name: str
    port: int
    pid_command: str
    """Prints the node's pid (``ha.sh pid NODE``), checked to be the node's process."""
    start_command: str

    def pid(self) -> int:
        """The pid of the node's process (``ha.sh pid``: checked to be the node's)."""
        return int(_run(self.pid_command, 60))

    def kill(self, pid: int) -> None:
        """SIGKILL the node, as ``pid()`` named it; return once the process is gone.

        A crash: no warning, and its stored state stays.
        """
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and not _zombie(pid):
            if time.monotonic() > deadline:
                msg = f"{self.name} (pid {pid}) still alive 30s after SIGKILL"
                raise NodeCommandError(msg)
            time.sleep(0.01)

    def start(self) -> float:
        """Start the node again; return once it serves or stands by, with the seconds taken."""
        began = time.monotonic()
        _run(self.start_command, 240)
        return time.monotonic() - began


@dataclass(frozen=True, kw_only=True)
class Setup:
    """One highly available set-up: its failover URI, credentials and nodes."""

    name: SetupName
    uri: str
    login: str
    passcode: str
    vhost: str
    nodes: tuple[Node, ...]
    subscribe_headers: Mapping[str, str]
    """What the set-up needs on SUBSCRIBE (RabbitMQ: ``x-queue-type:quorum``)."""
    send_headers: Mapping[str, str]
    """What the set-up needs on SEND (RabbitMQ declares the queue on SEND too)."""

    leader_command: str | None = None
    """RabbitMQ: a command that, given a queue name, prints the node leading that queue."""

    def leader(self, destination: str) -> Node | None:
        """The node leading ``destination``'s queue; None where no node leads (a pair)."""
        if self.leader_command is None:
            return None
        queue = destination.rpartition("/")[2]
        name = _run(f"{self.leader_command} {queue}", 120).strip()
        for node in self.nodes:
            if node.name == name:
                return node
        msg = f"{self.name}: queue {queue} led by unknown node {name!r}"
        raise LookupError(msg)

    def node_on(self, port: int) -> Node:
        """The node listening on ``port``."""
        for node in self.nodes:
            if node.port == port:
                return node
        msg = f"{self.name}: no node on port {port}"
        raise LookupError(msg)


def load_setup(name: SetupName, environ: Mapping[str, str] | None = None) -> Setup | None:
    """Describe set-up ``name``; None when ``ha.sh`` has not reported it up."""
    settings = ha_settings(environ)
    if name not in settings.get("STOMP_HA_SETUPS", "").split():
        return None
    prefix = f"STOMP_HA_{name.upper()}_"
    nodes = []
    for node in settings[prefix + "NODES"].split():
        key = f"STOMP_HA_{node.upper()}_"
        nodes.append(
            Node(
                name=node,
                port=int(settings[key + "PORT"]),
                pid_command=f"{settings[key + 'KILL'].rpartition(' kill ')[0]} pid {node}",
                start_command=settings[key + "START"],
            )
        )
    return Setup(
        name=name,
        uri=settings[prefix + "URI"],
        login=settings[prefix + "LOGIN"],
        passcode=settings[prefix + "PASSCODE"],
        vhost=settings[prefix + "VHOST"],
        nodes=tuple(nodes),
        subscribe_headers=_headers(settings.get(prefix + "SUBSCRIBE_HEADERS", "")),
        send_headers=_headers(settings.get(prefix + "SEND_HEADERS", "")),
        leader_command=settings.get(prefix + "LEADER") or None,
    )

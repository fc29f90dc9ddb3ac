"""Where the integration tests find the real brokers, and how they restart one.

Addresses come from the ``STOMP_*`` variables that ``scripts/brokers/start.sh`` writes to
``$BROKERS_DIR/brokers.env`` (CI loads that file into the environment). Variables missing from
the environment are read from that file directly, and what neither gives falls back to the
ports of ``scripts/brokers/start.sh`` and ``docker-compose.yml``.
"""

from __future__ import annotations

import os
import shlex
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol, TypeAlias, get_args

BrokerName: TypeAlias = Literal["activemq", "rabbitmq", "artemis"]
BROKER_NAMES: Final[tuple[BrokerName, ...]] = get_args(BrokerName)

NackOutcome: TypeAlias = Literal["dead-letter", "requeue", "discard"]
"""What a broker does with a NACKed persistent message (STOMP 1.1 and 1.2)."""
SelectorRefusal: TypeAlias = Literal["answered", "unanswered", "ignored"]
"""How a broker treats a SUBSCRIBE whose ``selector`` does not parse."""

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SCRIPTS_DIR: Final = REPO_ROOT / "scripts" / "brokers"
START_HINT: Final = "start it with scripts/brokers/start.sh"


@dataclass(frozen=True, kw_only=True)
class _Defaults:
    port: int
    tls_port: int
    login: str
    passcode: str
    vhost: str
    dead_letter_prefix: str | None


_DEFAULTS: Final[Mapping[BrokerName, _Defaults]] = {
    "activemq": _Defaults(
        port=61613,
        tls_port=61614,
        login="admin",
        passcode="admin",
        vhost="localhost",
        dead_letter_prefix="DLQ.",
    ),
    "rabbitmq": _Defaults(
        port=61623,
        tls_port=61624,
        login="guest",
        passcode="guest",
        vhost="/",
        dead_letter_prefix=None,
    ),
    "artemis": _Defaults(
        port=61653,
        tls_port=61654,
        login="admin",
        passcode="admin",
        vhost="localhost",
        dead_letter_prefix=None,
    ),
}


@dataclass(frozen=True, kw_only=True)
class BrokerFacts:
    """How one broker behaves where brokers differ, as measured (docs/brokers.rst).

    The tests branch on these facts, never on the broker's name, so that each difference is
    asserted both ways: a broker that changes its behaviour fails its test.
    """

    nack: NackOutcome
    """NACK of a persistent message: moved to a dead-letter queue (ActiveMQ), requeued and
    redelivered at once, marked (RabbitMQ), or acknowledged and dropped (Artemis)."""
    selector_refusal: SelectorRefusal
    """A SUBSCRIBE whose selector does not parse: an ERROR naming the SUBSCRIBE's receipt
    (ActiveMQ), an ERROR without ``receipt-id`` (Artemis), or no error (RabbitMQ has none)."""
    closes_on_error: frozenset[str]
    """The STOMP versions on which the broker closes the connection after any ERROR it
    sends (Artemis: 1.2 only; on 1.0 and 1.1 it goes on)."""
    transactional_acks: bool
    """An ACK inside a transaction waits for COMMIT (an ABORT leaves the message
    unacknowledged); False: the broker applies it at once (Artemis)."""
    server_in_1_0: bool
    """CONNECTED names the broker (``server`` header) on STOMP 1.0 too."""
    error_before_drop: bool
    """A client that stops heart-beating gets an ERROR before the broker closes it."""
    prefetch_in_bytes: bool
    """``activemq.prefetchSize`` is read as a window in bytes, not messages (Artemis: a
    window smaller than one message lets a single unacknowledged message through)."""
    websocket_binary: bool = True
    """Over WebSocket, binary messages are read (RabbitMQ); False: only text messages, so a
    body must be UTF-8 to cross (ActiveMQ 5.17 ignores binary messages)."""


_FACTS: Final[Mapping[BrokerName, BrokerFacts]] = {
    "activemq": BrokerFacts(
        nack="dead-letter",
        selector_refusal="answered",
        closes_on_error=frozenset(),
        transactional_acks=True,
        server_in_1_0=True,
        error_before_drop=False,
        prefetch_in_bytes=False,
        websocket_binary=False,
    ),
    "rabbitmq": BrokerFacts(
        nack="requeue",
        selector_refusal="ignored",
        closes_on_error=frozenset(),
        transactional_acks=True,
        server_in_1_0=True,
        error_before_drop=False,
        prefetch_in_bytes=False,
    ),
    "artemis": BrokerFacts(
        nack="discard",
        selector_refusal="unanswered",
        closes_on_error=frozenset({"1.2"}),
        transactional_acks=False,
        server_in_1_0=False,
        error_before_drop=True,
        prefetch_in_bytes=True,
    ),
}

# Passed to start.sh on a restart, so the broker comes back on the ports it had.
_PORT_VARIABLES: Final[Mapping[BrokerName, tuple[str, str]]] = {
    "activemq": ("AMQ_STOMP_PORT", "AMQ_STOMP_TLS_PORT"),
    "rabbitmq": ("RABBIT_STOMP_PORT", "RABBIT_STOMP_TLS_PORT"),
    "artemis": ("ARTEMIS_STOMP_PORT", "ARTEMIS_STOMP_TLS_PORT"),
}


class QueueNamer(Protocol):
    """The ``unique_queue`` fixture: makes a destination name no earlier run used."""

    def __call__(self, prefix: str = "test") -> str:
        """Return ``/queue/<prefix>-<32 hex digits>``."""
        ...


class BrokerScriptError(RuntimeError):
    """scripts/brokers/start.sh or stop.sh failed (the message holds its output)."""


def default_brokers_dir(environ: Mapping[str, str]) -> Path:
    """Return ``$BROKERS_DIR``, with the default of ``scripts/brokers/start.sh``."""
    if directory := environ.get("BROKERS_DIR"):
        return Path(directory)
    return Path(environ.get("TMPDIR") or "/tmp") / "stomp-brokers"


def read_env_file(path: Path) -> dict[str, str]:
    """Read a ``brokers.env`` (shell ``NAME=value`` lines, values maybe quoted); {} if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, raw = line.strip().partition("=")
        if not sep or name.startswith("#") or not name.isidentifier():
            continue
        words = shlex.split(raw, comments=True)
        values[name] = words[0] if words else ""
    return values


def broker_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the ``STOMP_*`` settings: the environment's, completed from ``brokers.env``."""
    env = os.environ if environ is None else environ
    settings = dict(read_env_file(default_brokers_dir(env) / "brokers.env"))
    settings.update((key, value) for key, value in env.items() if key.startswith("STOMP_"))
    return settings


@dataclass(frozen=True, kw_only=True)
class BrokerInfo:
    """One real broker as the tests reach it."""

    name: BrokerName
    host: str
    port: int
    """Plain STOMP port."""
    tls_port: int
    """STOMP over TLS (the server certificate is signed by ``ca_file``)."""
    login: str
    passcode: str
    vhost: str
    """The CONNECT ``host`` header: RabbitMQ's virtual host ``/``; ActiveMQ ``localhost``."""
    ca_file: Path | None
    """The test CA; None when unknown (TLS tests should skip then)."""
    client_cert: Path | None
    """A client certificate signed by the test CA (PEM)."""
    client_key: Path | None
    brokers_dir: Path | None
    """The ``BROKERS_DIR`` the scripts started this broker in; None when they did not."""
    dead_letter_prefix: str | None = None
    """ActiveMQ: a NACKed persistent message of queue ``X`` goes to queue ``<prefix>X``."""
    nio_port: int | None = None
    """ActiveMQ's ``stomp+nio`` connector (another I/O implementation of the same protocol)."""
    version_label: str | None = None
    """The broker's version as the scripts installed it (``STOMP_<B>_VERSION``), if known."""
    ws_url: str | None = None
    """STOMP over WebSocket (``STOMP_<B>_WS_URL``, ``ws://host:port/path``), if it offers it."""
    wss_url: str | None = None
    """STOMP over WebSocket with TLS (``STOMP_<B>_WSS_URL``), if it offers it."""

    @property
    def facts(self) -> BrokerFacts:
        """How this broker behaves where brokers differ."""
        return _FACTS[self.name]

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of plain STOMP."""
        return (self.host, self.port)

    @property
    def tls_address(self) -> tuple[str, int]:
        """``(host, tls_port)`` of STOMP over TLS."""
        return (self.host, self.tls_port)

    @property
    def restartable(self) -> bool:
        """Whether ``stop``/``start``/``restart`` can work: scripts/brokers/start.sh ran it."""
        return self.brokers_dir is not None and (self.brokers_dir / "run").is_dir()

    def is_reachable(self, timeout: float = 2.0, *, tls: bool = False) -> bool:
        """Whether the plain (or TLS) port accepts a TCP connection within ``timeout`` seconds."""
        address = self.tls_address if tls else self.address
        try:
            with socket.create_connection(address, timeout=timeout):
                return True
        except OSError:
            return False

    def ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        """Return a client context that verifies the broker against the test CA.

        Connect it with ``server_hostname=broker.host`` (the certificate names ``localhost`` and
        ``127.0.0.1``). With ``client_cert``, the client certificate is presented too.
        """
        if self.ca_file is None:
            msg = f"{self.name}: no test CA known (STOMP_TLS_CA is not set)"
            raise LookupError(msg)
        context = ssl.create_default_context(cafile=self.ca_file)
        if client_cert:
            if self.client_cert is None or self.client_key is None:
                msg = f"{self.name}: no client certificate known (STOMP_TLS_CLIENT_CERT/KEY)"
                raise LookupError(msg)
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def dead_letter_queue(self, destination: str) -> str | None:
        """Return where the broker moves NACKed messages of ``destination``, if it does.

        ``/queue/x`` gives ``/queue/DLQ.x`` on ActiveMQ; None on RabbitMQ, which requeues,
        and on Artemis, which drops a NACKed message (its dead-letter queues ``DLQ.<address>``
        take only messages that failed ``max-delivery-attempts`` deliveries).
        """
        if self.facts.nack != "dead-letter":
            return None
        if self.dead_letter_prefix is None:
            return None
        name = destination.rpartition("/")[2]
        return f"/queue/{self.dead_letter_prefix}{name}"

    def stop(self, *, kill: bool = False, timeout: float = 120.0) -> None:
        """Stop this broker alone (``kill``: SIGKILL, a crash); its stored state stays."""
        self._run_script("stop.sh", {"STOP_SIGNAL": "KILL" if kill else "TERM"}, timeout)

    def start(self, *, timeout: float = 180.0) -> None:
        """Start this broker alone, keeping its stored state; returns once it answers CONNECT."""
        plain, tls = _PORT_VARIABLES[self.name]
        extra = {"KEEP_STATE": "1", plain: str(self.port), tls: str(self.tls_port)}
        if self.nio_port is not None:
            extra["AMQ_STOMP_NIO_PORT"] = str(self.nio_port)
        self._run_script("start.sh", extra, timeout)

    def restart(self, *, kill: bool = False, timeout: float = 180.0) -> float:
        """Stop and start this broker alone, keeping its queues and persistent messages.

        Returns the seconds it took. ``kill`` stops it with SIGKILL instead of a clean shutdown.
        """
        began = time.monotonic()
        self.stop(kill=kill, timeout=timeout)
        self.start(timeout=timeout)
        return time.monotonic() - began

    def _run_script(self, script: str, extra: Mapping[str, str], timeout: float) -> None:
        if self.brokers_dir is None or not self.restartable:
            msg = f"{self.name} was not started by scripts/brokers/start.sh: it cannot be restarted"
            raise BrokerScriptError(msg)
        env = {**os.environ, **extra, "BROKERS": self.name, "BROKERS_DIR": str(self.brokers_dir)}
        command = ["bash", str(SCRIPTS_DIR / script)]
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            msg = f"{script} for {self.name} did not finish within {timeout:.0f}s"
            raise BrokerScriptError(msg) from exc
        if done.returncode != 0:
            msg = f"{script} for {self.name} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            raise BrokerScriptError(msg)


def uri_of(broker: BrokerInfo, *, tls: bool = False, options: str = "") -> str:
    """The broker's ``tcp://`` URI (``ssl://`` with *tls*).

    With *options*: ``failover:(uri)?options``.
    """
    host, port = broker.tls_address if tls else broker.address
    scheme = "ssl" if tls else "tcp"
    uri = f"{scheme}://{host}:{port}"
    return f"failover:({uri})?{options}" if options else uri


def client_settings(broker: BrokerInfo, timeout: float) -> dict[str, object]:
    """What every client of these tests is given: the broker's login, passcode and virtual host,
    and *timeout* for connecting, CONNECTED, receipts and DISCONNECT."""
    return {
        "login": broker.login,
        "passcode": broker.passcode,
        "vhost": broker.vhost,
        "connect_timeout": timeout,
        "connected_timeout": timeout,
        "receipt_timeout": timeout,
        "disconnect_timeout": timeout,
    }


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def load_broker(name: BrokerName, environ: Mapping[str, str] | None = None) -> BrokerInfo:
    """Describe broker ``name`` from the environment, ``brokers.env`` and the defaults."""
    env = os.environ if environ is None else environ
    settings = broker_environment(env)
    defaults = _DEFAULTS[name]
    prefix = f"STOMP_{name.upper()}_"

    def get(key: str, default: str) -> str:
        return settings.get(prefix + key) or default

    brokers_dir = settings.get("STOMP_BROKERS_DIR")
    if brokers_dir is None and (default_brokers_dir(env) / "run").is_dir():
        brokers_dir = str(default_brokers_dir(env))
    return BrokerInfo(
        name=name,
        host=get("HOST", "127.0.0.1"),
        port=int(get("PORT", str(defaults.port))),
        tls_port=int(get("TLS_PORT", str(defaults.tls_port))),
        login=get("LOGIN", defaults.login),
        passcode=get("PASSCODE", defaults.passcode),
        vhost=get("VHOST", defaults.vhost),
        ca_file=_path(settings.get("STOMP_TLS_CA")),
        client_cert=_path(settings.get("STOMP_TLS_CLIENT_CERT")),
        client_key=_path(settings.get("STOMP_TLS_CLIENT_KEY")),
        brokers_dir=_path(brokers_dir),
        dead_letter_prefix=settings.get(prefix + "DLQ_PREFIX") or defaults.dead_letter_prefix,
        nio_port=int(nio) if (nio := settings.get(prefix + "NIO_PORT")) else None,
        version_label=settings.get(prefix + "VERSION") or None,
        ws_url=settings.get(prefix + "WS_URL") or None,
        wss_url=settings.get(prefix + "WSS_URL") or None,
    )


def server_banner(info: BrokerInfo, timeout: float = 5.0) -> str | None:
    """Return the ``server`` header of the broker's CONNECTED (STOMP 1.2), None if none came.

    A raw-socket CONNECT, independent of the packages under test: the integration results
    name the broker version they ran against (scripts/brokers/matrix.py reads it).
    """
    connect = (
        "CONNECT\naccept-version:1.2\n"
        f"host:{info.vhost}\nlogin:{info.login}\npasscode:{info.passcode}\n\n\0"
    )
    data = b""
    try:
        with socket.create_connection(info.address, timeout=timeout) as sock:
            sock.sendall(connect.encode())
            while b"\0" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            sock.sendall(b"DISCONNECT\n\n\0")
    except OSError:
        return None
    lines = data.lstrip(b"\r\n").partition(b"\0")[0].decode("utf-8", "replace").splitlines()
    if not lines or lines[0] != "CONNECTED":
        return None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name == "server":
            return value.replace("\\c", ":").replace("\\\\", "\\")
    return None


def brokers_required(
    name: BrokerName | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether broker ``name`` missing is a failure rather than a skip.

    ``STOMP_REQUIRE_BROKERS=1`` (CI) requires every broker; a list of names
    (``STOMP_REQUIRE_BROKERS="activemq artemis"``, spaces or commas) requires those only.
    Without ``name``: whether any broker is required.
    """
    env = os.environ if environ is None else environ
    value = env.get("STOMP_REQUIRE_BROKERS", "").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    named = set(value.replace(",", " ").split()) - {"0", "false", "no", "off"}
    unknown = sorted(named.difference(BROKER_NAMES))
    if unknown:
        msg = f"STOMP_REQUIRE_BROKERS names unknown brokers {unknown} (known: {BROKER_NAMES})"
        raise ValueError(msg)
    return bool(named) if name is None else name in named

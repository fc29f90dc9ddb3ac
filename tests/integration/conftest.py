"""Fixtures for tests against real brokers (started by scripts/brokers/start.sh).

* ``broker``: a :class:`BrokerInfo`, the test runs once per broker (ids ``activemq``,
  ``rabbitmq``); ``@pytest.mark.broker("rabbitmq")`` limits a test (or class, module) to the
  brokers named. A broker that does not accept a TCP connection skips the test, or fails it
  when ``STOMP_REQUIRE_BROKERS`` requires it (``1``: every broker, as CI sets; or a list of
  names).
* ``tls_broker``: ``broker`` when its TLS port answers and the test CA and client certificate
  (``STOMP_TLS_*``) exist; otherwise skipped (failed when the broker is required).
* ``unique_queue``: ``unique_queue("orders")`` gives a fresh ``/queue/orders-<uuid>``:
  RabbitMQ's queues are durable and ActiveMQ's persistent, so names must not repeat across runs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest

from stomp_frame import Version
from stomp_twisted.testing import ReactorThread
from tests.integration._brokers import (
    BROKER_NAMES,
    START_HINT,
    BrokerInfo,
    BrokerName,
    QueueNamer,
    brokers_required,
    load_broker,
    server_banner,
)

_CONNECT_TIMEOUT = 2.0
_PREFIX = re.compile(r"[A-Za-z0-9_-]+")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses ``broker`` once per broker its ``broker`` marks allow."""
    if "broker" not in metafunc.fixturenames:
        return
    names: list[BrokerName] = list(BROKER_NAMES)
    marks = list(metafunc.definition.iter_markers("broker"))
    if marks:
        wanted = {str(arg) for mark in marks for arg in mark.args}
        unknown = sorted(wanted.difference(BROKER_NAMES))
        if unknown or not wanted:
            msg = f"@pytest.mark.broker takes broker names among {BROKER_NAMES}, got {unknown}"
            raise pytest.UsageError(msg)
        names = [name for name in BROKER_NAMES if name in wanted]
    metafunc.parametrize("broker", names, indirect=True, ids=names)


def _unavailable(name: BrokerName, msg: str) -> NoReturn:
    if brokers_required(name):
        pytest.fail(f"{msg} (required by STOMP_REQUIRE_BROKERS)", pytrace=False)
    pytest.skip(msg)


_BANNERS: dict[BrokerName, str | None] = {}
"""The ``server`` header of each broker that a test used in this run."""


@pytest.fixture
def broker(
    request: pytest.FixtureRequest, record_testsuite_property: Callable[[str, object], None]
) -> BrokerInfo:
    """The broker this run of the test is for, known to accept TCP connections.

    The first time a broker is used, its CONNECTED ``server`` header is recorded as the
    junit-xml suite property ``broker:<name>`` (scripts/brokers/matrix.py shows it).
    """
    name: BrokerName = request.param
    info = load_broker(name)
    if not info.is_reachable(timeout=_CONNECT_TIMEOUT):
        host, port = info.address
        _unavailable(name, f"{name} not running (no TCP connection to {host}:{port}): {START_HINT}")
    if name not in _BANNERS:
        _BANNERS[name] = banner = server_banner(info)
        record_testsuite_property(f"broker:{name}", banner or info.version_label or "")
    return info


@pytest.fixture
def tls_broker(broker: BrokerInfo) -> BrokerInfo:
    """``broker``, when its TLS port answers and the test CA and client certificate are known."""
    files = {"STOMP_TLS_CA": broker.ca_file, "STOMP_TLS_CLIENT_CERT": broker.client_cert}
    files["STOMP_TLS_CLIENT_KEY"] = broker.client_key
    missing = [name for name, path in files.items() if path is None or not path.is_file()]
    if missing:
        absent = ", ".join(missing)
        _unavailable(broker.name, f"{broker.name}: TLS files unknown or absent ({absent})")
    if not broker.is_reachable(timeout=_CONNECT_TIMEOUT, tls=True):
        host, port = broker.tls_address
        _unavailable(broker.name, f"{broker.name}: no TCP connection to the TLS port {host}:{port}")
    return broker


@pytest.fixture
def unique_queue() -> QueueNamer:
    """``unique_queue("orders")`` -> ``/queue/orders-<uuid4 hex>``, fresh on every call."""

    def make(prefix: str = "test") -> str:
        # ActiveMQ reads "." as a hierarchy separator, "," "*" ">" as composite/wildcards
        if not _PREFIX.fullmatch(prefix):
            msg = f"queue prefix {prefix!r}: use letters, digits, '_' and '-' only"
            raise ValueError(msg)
        return f"/queue/{prefix}-{uuid.uuid4().hex}"

    return make


@pytest.fixture(params=list(Version), ids=[v.value for v in Version])
def version(request: pytest.FixtureRequest) -> Version:
    """Each STOMP version in turn (a test may narrow it with ``pytest.mark.parametrize``)."""
    value: Version = request.param
    return value


@pytest.fixture(scope="session")
def twisted_reactor() -> Iterator[ReactorThread]:
    """The global reactor, running in a daemon thread for the whole session."""
    running = ReactorThread()
    yield running
    running.stop()

"""doctor: every step reported, and a precise hint for each usual mistake."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from stomp_cli import ExitCode, main

if TYPE_CHECKING:
    from conftest import LoopbackBroker


def doctor(*args: str) -> Result:
    return CliRunner().invoke(main, ["doctor", *args], catch_exceptions=False)


def test_a_healthy_broker_passes_every_step(broker: LoopbackBroker) -> None:
    result = doctor("-u", broker.uri)
    assert result.exit_code == 0, result.output
    steps = [line.split()[:2] for line in result.stdout.splitlines() if line.startswith("  ok")]
    assert steps == [["ok", "DNS"], ["ok", "TCP"], ["ok", "STOMP"]]
    assert "server   TestBroker/1.0" in result.stdout
    assert "session  s-1" in result.stdout
    assert result.stdout.endswith("all checks passed\n")


def test_tls_shows_the_verified_certificate(tls_broker: LoopbackBroker, ca_file: Path) -> None:
    result = doctor("-u", tls_broker.uri, "--ca-file", str(ca_file))
    assert result.exit_code == 0, result.output
    assert "  ok    TLS      TLSv1" in result.stdout
    assert "names    DNS:127.0.0.1" in result.stdout or "IP Address:127.0.0.1" in result.stdout
    assert "issuer" in result.stdout


def test_an_untrusted_certificate_stops_at_tls_with_its_fingerprint(
    tls_broker: LoopbackBroker,
) -> None:
    result = doctor("-u", tls_broker.uri)
    assert result.exit_code == ExitCode.TLS
    assert "FAIL  TLS      certificate verify failed" in result.stdout
    assert "presented sha256:" in result.stdout
    assert "--ca-file" in result.stdout
    assert "STOMP" not in result.stdout  # the later steps are not tried
    assert tls_broker.received("CONNECT") == []


def test_plain_text_to_a_tls_port_names_the_right_scheme(tls_broker: LoopbackBroker) -> None:
    plain = tls_broker.uri.replace("ssl://", "tcp://")
    result = doctor("-u", plain, "--connect-timeout", "1")
    assert result.exit_code in (ExitCode.CONNECTION, ExitCode.TIMEOUT)
    assert f"hint: this port speaks TLS: use ssl://127.0.0.1:{tls_broker.port}" in result.stdout


def test_tls_to_a_plain_port_is_caught_at_the_handshake(broker: LoopbackBroker) -> None:
    result = doctor("-u", broker.uri.replace("tcp://", "ssl://"), "--connect-timeout", "1")
    assert result.exit_code == ExitCode.TLS
    assert "FAIL  TLS" in result.stdout
    assert "use tcp://" in result.stdout


def test_a_wrong_port_is_refused_at_tcp(free_port: int) -> None:
    result = doctor("-u", f"tcp://127.0.0.1:{free_port}")
    assert result.exit_code == ExitCode.CONNECTION
    assert "FAIL  TCP" in result.stdout
    assert "hint: nothing listens at" in result.stdout


def test_bad_credentials_show_the_brokers_text(secured_broker: LoopbackBroker) -> None:
    result = doctor("-u", secured_broker.uri, "--login", "admin", "--passcode", "nope")
    assert result.exit_code == ExitCode.AUTH
    assert "FAIL  STOMP    the broker refused the connection: Bad CONNECT" in result.stdout
    assert "| Access refused for user 'admin'" in result.stdout
    assert "nope" not in result.stdout


@pytest.fixture
def chatty_port() -> Iterator[int]:
    """A port whose server speaks first, as ActiveMQ's OpenWire port does."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.sendall(b"\x00\x00\x01\x00\x01ActiveMQ\x00\x00\x00\x0c")
            threading.Timer(2.0, sock.close).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_another_protocols_port_is_recognised(chatty_port: int) -> None:
    result = doctor("-u", f"tcp://127.0.0.1:{chatty_port}", "--connect-timeout", "0.5")
    assert result.exit_code in (ExitCode.CONNECTION, ExitCode.TIMEOUT)
    assert "as STOMP brokers never do" in result.stdout
    assert "OpenWire" in result.stdout

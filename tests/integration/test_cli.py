"""stompctl against the real brokers: send and tail, ping, doctor, bench, TLS and its failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result

from stomp_cli import ExitCode, main
from tests.integration._brokers import BrokerInfo, QueueNamer


def stompctl(broker: BrokerInfo, command: str, *args: str, tls: bool = False) -> Result:
    port = broker.tls_port if tls else broker.port
    scheme = "ssl" if tls else "tcp"
    login = ["--login", broker.login, "--passcode", broker.passcode, "--vhost", broker.vhost]
    return CliRunner().invoke(
        main,
        [command, "-u", f"{scheme}://{broker.host}:{port}", *login, *args],
        input="",
        catch_exceptions=False,
    )


def test_send_then_tail_as_json(broker: BrokerInfo, unique_queue: QueueNamer) -> None:
    queue = unique_queue("cli")
    sent = stompctl(broker, "send", queue, "one\ntwo\nthree", "-H", "x-n:1", "--persistent")
    assert sent.exit_code == 0, sent.output
    assert "sent 1 message" in sent.stdout
    many = CliRunner().invoke(
        main,
        ["send", "-u", f"tcp://{broker.host}:{broker.port}", "--login", broker.login,
         "--passcode", broker.passcode, "--vhost", broker.vhost, queue, "--lines"],
        input="a\nb\n",
        catch_exceptions=False,
    )  # fmt: skip
    assert many.exit_code == 0, many.output
    assert "sent 2 messages" in many.stdout
    tailed = stompctl(broker, "tail", queue, "--count", "3", "--timeout", "10", "--json")
    assert tailed.exit_code == 0, tailed.output
    records = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert [r["body"] for r in records] == ["one\ntwo\nthree", "a", "b"]
    assert all(r["destination"] == queue for r in records)
    assert records[0]["headers"]["x-n"] == "1"
    empty = stompctl(broker, "tail", queue, "--count", "1", "--timeout", "1")
    assert empty.exit_code == ExitCode.TIMEOUT


def test_ping_names_the_broker(broker: BrokerInfo) -> None:
    result = stompctl(broker, "ping")
    assert result.exit_code == 0, result.output
    server = {"activemq": "ActiveMQ/", "rabbitmq": "RabbitMQ/", "artemis": "ActiveMQ-Artemis/"}[
        broker.name
    ]
    assert f"server       {server}" in result.stdout
    assert "STOMP 1.2" in result.stdout


def test_bench_runs_end_to_end(broker: BrokerInfo, unique_queue: QueueNamer) -> None:
    result = stompctl(
        broker, "bench", unique_queue("bench"), "-n", "500", "--ack", "client-individual", "--json"
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["messages"] == 500
    assert figures["rate"] > 0


@pytest.mark.broker("rabbitmq")
def test_doctor_explains_a_wrong_virtual_host_on_rabbitmq(broker: BrokerInfo) -> None:
    result = CliRunner().invoke(
        main,
        ["doctor", "-u", f"tcp://{broker.host}:{broker.port}", "--login", broker.login,
         "--passcode", broker.passcode, "--vhost", "no-such-vhost"],
    )  # fmt: skip
    assert result.exit_code == ExitCode.AUTH
    assert "Virtual host 'no-such-vhost' access denied" in result.stdout
    assert "hint: wrong virtual host" in result.stdout


def test_bad_credentials_show_the_brokers_error(broker: BrokerInfo) -> None:
    result = CliRunner().invoke(
        main,
        ["ping", "-u", f"tcp://{broker.host}:{broker.port}", "--login", broker.login,
         "--passcode", "not-the-passcode", "--vhost", broker.vhost],
    )  # fmt: skip
    assert result.exit_code == ExitCode.AUTH
    assert "the broker refused the connection" in result.stderr
    assert "hint: bad credentials" in result.stderr
    assert "not-the-passcode" not in result.output


def test_doctor_over_tls_shows_the_certificate(tls_broker: BrokerInfo) -> None:
    assert tls_broker.ca_file is not None
    result = stompctl(tls_broker, "doctor", "--ca-file", str(tls_broker.ca_file), tls=True)
    assert result.exit_code == 0, result.output
    assert "  ok    TLS      TLSv1" in result.stdout
    assert "issuer   commonName=STOMP test CA" in result.stdout
    assert result.stdout.endswith("all checks passed\n")


def test_a_client_certificate_is_presented(tls_broker: BrokerInfo) -> None:
    assert tls_broker.ca_file is not None
    assert tls_broker.client_cert is not None
    assert tls_broker.client_key is not None
    result = stompctl(
        tls_broker, "ping", "--ca-file", str(tls_broker.ca_file),
        "--cert", str(tls_broker.client_cert), "--key", str(tls_broker.client_key), tls=True,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_wrong_certificate_authority_fails_tls(tls_broker: BrokerInfo, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))  # a CA that signed nothing of the broker's
    result = stompctl(tls_broker, "doctor", "--ca-file", str(other), tls=True)
    assert result.exit_code == ExitCode.TLS
    assert "certificate verify failed" in result.stdout
    assert "presented sha256:" in result.stdout
    assert "hint: the broker's certificate is not trusted" in result.stdout
    ping = stompctl(tls_broker, "ping", "--ca-file", str(other), tls=True)
    assert ping.exit_code == ExitCode.TLS


def test_tls_to_the_plain_port_and_plain_text_to_the_tls_port(broker: BrokerInfo) -> None:
    to_plain = CliRunner().invoke(
        main, ["doctor", "-u", f"ssl://{broker.host}:{broker.port}", "--connect-timeout", "3"]
    )
    assert to_plain.exit_code == ExitCode.TLS, to_plain.output
    assert "use tcp://" in to_plain.stdout
    to_tls = CliRunner().invoke(
        main, ["doctor", "-u", f"tcp://{broker.host}:{broker.tls_port}", "--connect-timeout", "3"]
    )
    assert to_tls.exit_code in (ExitCode.CONNECTION, ExitCode.TIMEOUT), to_tls.output
    assert f"use ssl://{broker.host}:{broker.tls_port}" in to_tls.stdout

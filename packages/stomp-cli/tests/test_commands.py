"""send, tail and ping against the in-process broker, through click's runner."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from stomp_cli import ExitCode, main
from stomp_frame import Frame, Parser, Version

if TYPE_CHECKING:
    from conftest import LoopbackBroker


def stompctl(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


class TestSend:
    def test_the_body_argument_is_one_message_confirmed_by_a_receipt(
        self, broker: LoopbackBroker
    ) -> None:
        result = stompctl("send", "-u", broker.uri, "/queue/a", "hello")
        assert result.exit_code == 0, result.output
        assert result.stdout == "sent 1 message to /queue/a (receipt confirmed)\n"
        (stored,) = broker.stored("/queue/a")
        assert stored.body == b"hello"
        (sent,) = broker.received("SEND")
        assert sent.get("receipt") is not None

    def test_lines_of_stdin_are_messages_and_headers_are_added(
        self, broker: LoopbackBroker
    ) -> None:
        result = stompctl(
            "send", "-u", broker.uri, "/queue/b", "--lines", "--persistent",
            "-H", "x-trace:42", "-H", "x-colon:a:b", "--content-type", "text/plain",
            input="one\ntwo\nthree\n",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "sent 3 messages to /queue/b (each confirmed by a receipt)" in result.stdout
        stored = broker.stored("/queue/b")
        assert [m.body for m in stored] == [b"one", b"two", b"three"]
        assert stored[0].get("persistent") == "true"
        assert stored[0].get("x-trace") == "42"
        assert stored[0].get("x-colon") == "a:b"
        assert stored[0].get("content-type") == "text/plain"

    def test_a_file_is_sent_as_is_count_times_without_receipts(
        self, broker: LoopbackBroker, tmp_path: Path
    ) -> None:
        data = bytes(range(256))
        path = tmp_path / "payload.bin"
        path.write_bytes(data)
        result = stompctl(
            "send", "-u", broker.uri, "/queue/c", "-f", str(path), "--count", "4", "--no-receipt"
        )
        assert result.exit_code == 0, result.output
        assert result.stdout == "sent 4 messages to /queue/c\n"
        assert [m.body for m in broker.stored("/queue/c")] == [data] * 4
        assert all(f.get("receipt") is None for f in broker.received("SEND"))

    def test_quiet_prints_nothing(self, broker: LoopbackBroker) -> None:
        result = stompctl("send", "-u", broker.uri, "-q", "/queue/q", "x")
        assert (result.exit_code, result.stdout) == (0, "")

    def test_a_body_and_a_file_together_are_a_usage_error(
        self, broker: LoopbackBroker, tmp_path: Path
    ) -> None:
        path = tmp_path / "body"
        path.write_text("x")
        result = stompctl("send", "-u", broker.uri, "/queue/a", "body", "-f", str(path))
        assert result.exit_code == ExitCode.USAGE
        assert "not both" in result.stderr
        assert broker.received("SEND") == []

    def test_a_header_without_colon_is_refused_before_connecting(
        self, broker: LoopbackBroker
    ) -> None:
        result = stompctl("send", "-u", broker.uri, "/queue/a", "x", "-H", "nocolon")
        assert result.exit_code == ExitCode.USAGE
        assert "name:value" in result.stderr
        assert broker.connections == []


class TestTail:
    def test_prints_messages_for_people_and_stops_at_count(self, broker: LoopbackBroker) -> None:
        broker.put("/queue/t", b"first", {"priority": "4"})
        broker.put("/queue/t", b"second")
        broker.put("/queue/t", b"third")
        result = stompctl("tail", "-u", broker.uri, "/queue/t", "--count", "2")
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [
            "#1 /queue/t  message-id: m-1",
            "  priority: 4",
            "first",
            "#2 /queue/t  message-id: m-2",
            "second",
        ]
        assert [m.body for m in broker.stored("/queue/t")] == [b"third"]

    def test_json_lines_carry_headers_and_text_or_base64_bodies(
        self, broker: LoopbackBroker
    ) -> None:
        broker.put("/queue/j", "zürich".encode(), {"kind": "text"})
        broker.put("/queue/j", b"\xff\x00\xfe", {"kind": "binary"})
        result = stompctl("tail", "-u", broker.uri, "/queue/j", "-n", "2", "--json")
        assert result.exit_code == 0, result.output
        first, second = (json.loads(line) for line in result.stdout.splitlines())
        assert first["body"] == "zürich"
        assert first["encoding"] == "utf-8"
        assert first["headers"]["kind"] == "text"
        assert first["destination"] == "/queue/j"
        assert first["message_id"] == "m-1"
        assert second["encoding"] == "base64"
        assert base64.b64decode(second["body"]) == b"\xff\x00\xfe"

    def test_raw_output_parses_back_into_the_frames(self, broker: LoopbackBroker) -> None:
        broker.put("/queue/r", b"a\x00b")
        broker.put("/queue/r", b"line:two")
        result = stompctl("tail", "-u", broker.uri, "/queue/r", "-n", "2", "--raw")
        assert result.exit_code == 0, result.output
        parser = Parser(Version.V1_2)
        messages = [f for f in parser.feed(result.stdout_bytes) if isinstance(f, Frame)]
        assert [m.body for m in messages] == [b"a\x00b", b"line:two"]

    def test_client_ack_acknowledges_what_was_printed(self, broker: LoopbackBroker) -> None:
        for body in (b"1", b"2", b"3"):
            broker.put("/queue/ack", body)
        result = stompctl(
            "tail", "-u", broker.uri, "/queue/ack", "-n", "2", "--ack", "client-individual"
        )
        assert result.exit_code == 0, result.output
        assert len(broker.received("ACK")) == 2
        # The third was delivered but not acknowledged: back on the queue after DISCONNECT.
        (left,) = broker.stored("/queue/ack")
        assert left.body == b"3"

    def test_peek_leaves_every_message_on_the_queue(self, broker: LoopbackBroker) -> None:
        broker.put("/queue/p", b"keep me")
        result = stompctl("tail", "-u", broker.uri, "/queue/p", "-n", "1", "--peek")
        assert result.exit_code == 0, result.output
        assert "keep me" in result.stdout
        assert broker.received("ACK") == []
        (kept,) = broker.stored("/queue/p")
        assert (kept.body, kept.get("redelivered")) == (b"keep me", "true")

    def test_nack_refuses_each_message(self, broker: LoopbackBroker) -> None:
        broker.put("/queue/n", b"refused")
        result = stompctl("tail", "-u", broker.uri, "/queue/n", "-n", "1", "--nack")
        assert result.exit_code == 0, result.output
        assert len(broker.received("NACK")) == 1
        assert broker.received("ACK") == []

    def test_nack_on_stomp_1_0_is_a_usage_error(self, broker: LoopbackBroker) -> None:
        result = stompctl("tail", "-u", broker.uri, "/queue/n", "--nack", "--version", "1.0")
        assert result.exit_code == ExitCode.USAGE
        assert "1.1 or later" in result.stderr

    def test_fewer_messages_than_count_before_the_timeout_exit_6(
        self, broker: LoopbackBroker
    ) -> None:
        broker.put("/queue/few", b"only one")
        result = stompctl("tail", "-u", broker.uri, "/queue/few", "-n", "2", "--timeout", "0.3")
        assert result.exit_code == ExitCode.TIMEOUT
        assert "only one" in result.stdout
        assert "1 of 2 messages within 0.3 s" in result.stderr

    def test_a_timeout_without_count_ends_quietly(self, broker: LoopbackBroker) -> None:
        result = stompctl("tail", "-u", broker.uri, "/queue/empty", "--timeout", "0.2")
        assert (result.exit_code, result.stdout) == (0, "")

    def test_subscribe_headers_are_passed(self, broker: LoopbackBroker) -> None:
        stompctl("tail", "-u", broker.uri, "/queue/s", "-H", "selector:a = 1", "-t", "0.1")
        (subscribe,) = broker.received("SUBSCRIBE")
        assert subscribe.get("selector") == "a = 1"


class TestPing:
    def test_reports_what_the_broker_said(self, broker: LoopbackBroker) -> None:
        result = stompctl("ping", "-u", broker.uri)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0].startswith(f"connected to {broker.uri} in ")
        assert "  version      STOMP 1.2" in lines
        assert "  server       TestBroker/1.0" in lines
        assert "  session      s-1" in lines
        assert lines[-1].endswith("ms (DISCONNECT)")
        assert [f.command for f in broker.connections[0].frames] == ["CONNECT", "DISCONNECT"]

    @pytest.mark.parametrize("version", ["1.0", "1.1"])
    def test_offers_the_versions_asked(self, broker: LoopbackBroker, version: str) -> None:
        result = stompctl("ping", "-u", broker.uri, "--version", version)
        assert f"STOMP {version}" in result.stdout
        (connect,) = broker.received("CONNECT")
        # STOMP 1.0 has no accept-version header: a CONNECT without it asks for 1.0.
        assert connect.get("accept-version") == (None if version == "1.0" else version)

    def test_an_unknown_version_is_a_usage_error(self, broker: LoopbackBroker) -> None:
        result = stompctl("ping", "-u", broker.uri, "--version", "2.0")
        assert result.exit_code == ExitCode.USAGE
        assert "1.0, 1.1, 1.2" in result.stderr


class TestFailures:
    def test_nothing_listening_is_a_connection_failure_with_a_port_hint(
        self, free_port: int
    ) -> None:
        result = stompctl("ping", "-u", f"tcp://127.0.0.1:{free_port}")
        assert result.exit_code == ExitCode.CONNECTION
        assert "Connection refused" in result.stderr
        assert "hint: nothing listens at" in result.stderr

    def test_bad_credentials_show_the_brokers_error_text(
        self, secured_broker: LoopbackBroker
    ) -> None:
        result = stompctl(
            "ping", "-u", secured_broker.uri, "--login", "admin", "--passcode", "wrong",
            "--vhost", "/",
        )  # fmt: skip
        assert result.exit_code == ExitCode.AUTH
        assert "the broker refused the connection: Bad CONNECT" in result.stderr
        assert "Access refused for user 'admin'" in result.stderr
        assert "hint: bad credentials" in result.stderr
        assert "wrong" not in result.output  # the passcode is never shown

    def test_a_wrong_virtual_host_is_named(self, secured_broker: LoopbackBroker) -> None:
        result = stompctl(
            "ping", "-u", secured_broker.uri, "--login", "admin", "--passcode", "secret"
        )
        assert result.exit_code == ExitCode.AUTH
        assert "Virtual host '127.0.0.1' access denied" in result.stderr
        assert "hint: wrong virtual host" in result.stderr
        ok = stompctl(
            "ping", "-u", secured_broker.uri, "--login", "admin", "--passcode", "secret",
            "--vhost", "/",
        )  # fmt: skip
        assert ok.exit_code == 0, ok.output

    def test_the_passcode_comes_from_the_environment_or_a_prompt(
        self, secured_broker: LoopbackBroker
    ) -> None:
        env = CliRunner(env={"STOMP_PASSCODE": "secret", "STOMP_VHOST": "/"})
        by_env = env.invoke(main, ["ping", "-u", secured_broker.uri, "--login", "admin"])
        assert by_env.exit_code == 0, by_env.output
        prompted = CliRunner(env={"STOMP_VHOST": "/"}).invoke(
            main, ["ping", "-u", secured_broker.uri, "--login", "admin", "-P"], input="secret\n"
        )
        assert prompted.exit_code == 0, prompted.output
        assert "secret" not in prompted.output  # not echoed
        assert [c.get("passcode") for c in secured_broker.received("CONNECT")] == ["secret"] * 2

    def test_no_connected_in_time_is_a_timeout_with_a_hint(
        self, silent_broker: LoopbackBroker
    ) -> None:
        result = stompctl("ping", "-u", silent_broker.uri, "--connect-timeout", "0.3")
        assert result.exit_code == ExitCode.TIMEOUT
        assert "no CONNECTED" in result.stderr
        assert "hint:" in result.stderr

    def test_a_bad_uri_is_a_usage_error(self) -> None:
        result = stompctl("ping", "-u", "tcp://host:notaport")
        assert result.exit_code == ExitCode.USAGE
        assert "bad URI" in result.stderr


class TestTls:
    def test_verified_with_the_ca_file(self, tls_broker: LoopbackBroker, ca_file: Path) -> None:
        result = stompctl("ping", "-u", tls_broker.uri, "--ca-file", str(ca_file))
        assert result.exit_code == 0, result.output
        assert "STOMP 1.2" in result.stdout

    def test_an_unknown_ca_fails_verification_with_a_hint(self, tls_broker: LoopbackBroker) -> None:
        result = stompctl("ping", "-u", tls_broker.uri)
        assert result.exit_code == ExitCode.TLS
        assert "certificate verify failed" in result.stderr
        assert "--ca-file" in result.stderr

    def test_insecure_connects_with_a_warning(self, tls_broker: LoopbackBroker) -> None:
        result = stompctl("ping", "-u", tls_broker.uri, "--insecure")
        assert result.exit_code == 0, result.output
        assert "warning: --insecure" in result.stderr

    def test_plain_text_to_a_tls_port_is_explained(self, tls_broker: LoopbackBroker) -> None:
        plain = tls_broker.uri.replace("ssl://", "tcp://")
        result = stompctl("ping", "-u", plain, "--connect-timeout", "1")
        assert result.exit_code in (ExitCode.CONNECTION, ExitCode.TIMEOUT)
        assert "use ssl://" in result.stderr

    def test_tls_to_a_plain_port_is_explained(self, broker: LoopbackBroker) -> None:
        result = stompctl(
            "ping", "-u", broker.uri.replace("tcp://", "ssl://"), "--connect-timeout", "0.5"
        )
        assert result.exit_code == ExitCode.TLS
        assert "use tcp://" in result.stderr

"""bench: the figures of a run through the in-process broker."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from stomp_cli import ExitCode, main
from stomp_cli._bench import percentile

if TYPE_CHECKING:
    from conftest import LoopbackBroker


@pytest.mark.parametrize("ack", ["auto", "client", "client-individual"])
def test_json_figures_of_a_run(broker: LoopbackBroker, ack: str) -> None:
    result = CliRunner().invoke(
        main,
        ["bench", "-u", broker.uri, "/queue/bench", "-n", "250", "--size", "32",
         "--ack", ack, "--persistent", "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["destination"] == "/queue/bench"
    assert (figures["messages"], figures["size"], figures["ack"]) == (250, 32, ack)
    assert figures["persistent"] is True
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"] <= figures["latency_max_ms"]
    assert figures["rate"] > 0
    assert figures["cpu_seconds"] >= 0
    sends = broker.received("SEND")
    assert len(sends) == 250
    assert all(len(f.body) == 32 and f.get("persistent") == "true" for f in sends)
    assert [f.get("receipt") is not None for f in sends].count(True) == 1
    acks = broker.received("ACK")
    assert len(acks) == {"auto": 0, "client": 3, "client-individual": 250}[ack]
    assert broker.stored("/queue/bench") == []


def test_the_table_names_each_figure(broker: LoopbackBroker) -> None:
    result = CliRunner().invoke(main, ["bench", "-u", broker.uri, "-n", "20"])
    assert result.exit_code == 0, result.output
    for row in ("messages/s", "latency p50", "latency p99", "client CPU", "CPU per message"):
        assert row in result.stdout
    (subscribe,) = broker.received("SUBSCRIBE")
    assert (subscribe.get("destination") or "").startswith("/queue/stompctl-bench-")


def test_messages_that_do_not_come_back_are_a_timeout(broker: LoopbackBroker) -> None:
    broker.blackholes.add("/queue/lossy")
    result = CliRunner().invoke(
        main, ["bench", "-u", broker.uri, "/queue/lossy", "-n", "10", "--timeout", "0.3"]
    )
    assert result.exit_code == ExitCode.TIMEOUT
    assert "0 of 10 messages came back from /queue/lossy" in result.stderr


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0

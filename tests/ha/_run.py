"""One failover run: what was sent, confirmed and received, the kills, and the report.

The clients' drivers (test_failover.py) move messages; this module counts them the way
tests/integration's restart-under-load tests do:

* the producer sends batches of persistent messages, a receipt on the last SEND of each
  batch; a batch is confirmed when that RECEIPT came on the connection that carried the whole
  batch (the client's ``counters.connections`` did not move). Otherwise (``ConnectionLost``,
  ``WaitTimeout``, or a reconnection during the batch) it sends the batch again, each SEND
  marked ``x-resent:true``: a SEND whose receipt was lost may be stored all the same;
* the consumer acknowledges every message (``client-individual``), and counts a message seen
  before as a duplicate by cause: marked ``redelivered`` by the broker; marked
  ``acked_before`` by the client (an ACK has no receipt: a broker killed before the ACK
  reached its store delivers the message again, possibly without its own mark, as Artemis
  does, and the client core marks a message whose id it acknowledged on a lost
  connection); a marked re-send; or unmarked (a failure);
* a killer thread SIGKILLs the node the consumer is connected to once the consumer has a
  share of the messages, and starts it again; the producer waits for each kill at its own
  share, so that it sends into the outage.

Recovery times: from the kill to the first message the consumer received on a connection made
after it (or, if the consumer kept its connection, the first message sent after it), and to
the first confirmed batch that the producer began after it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.ha._setups import Setup

logger = logging.getLogger(__name__)

RESENT_HEADER = "x-resent"
SEQ_HEADER = "seq"
SENT_AT_HEADER = "x-sent-at"
"""When the SEND was written (this process's monotonic clock)."""
BATCH = 100


@dataclass(kw_only=True)
class Kill:
    """One SIGKILL of a node, and how long everything took to come back."""

    node: str
    target: str
    """Why this node: ``consumer`` (the node the consumer is on; for a pair, the live one)
    or ``queue-leader`` (RabbitMQ: the node leading the queue, wherever the consumer is)."""
    consumer_node: str
    at: float
    wall: float = field(default_factory=time.time)
    """The kill's wall-clock time, to read the brokers' logs beside the report."""
    consumer_connections: int
    consumer_recovery: float | None = None
    producer_recovery: float | None = None
    restart: float | None = None


@dataclass(kw_only=True)
class FailoverRun:
    """The shared state of one run (producer, consumer and killer threads or tasks)."""

    setup: Setup
    client: str
    total: int
    kills: int
    queue: str
    limit: float = 420.0
    """Seconds the whole run may take."""
    began: float = field(default_factory=time.monotonic)
    received: Counter[int] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    unmarked: list[int] = field(default_factory=list)
    confirmed: set[int] = field(default_factory=set)
    acked_on: dict[int, int] = field(default_factory=dict)
    """Message number -> the consumer's connection count when it was first acknowledged."""
    resent_batches: int = 0
    consumer_reconnects: int = 0
    producer_reconnects: int = 0
    kill_log: list[Kill] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    killed: list[threading.Event] = field(default_factory=list)
    producer_done: threading.Event = field(default_factory=threading.Event)
    killer_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.killed = [threading.Event() for _ in range(self.kills)]

    @property
    def deadline(self) -> float:
        """The monotonic time by which the run must be over."""
        return self.began + self.limit

    def check(self) -> None:
        """Raise when the run is over its time or another party failed."""
        if self.failures:
            msg = f"another party of the run failed: {self.failures[0]!r}"
            raise RuntimeError(msg)
        if time.monotonic() > self.deadline:
            msg = f"the run took more than {self.limit:.0f}s"
            raise TimeoutError(msg)

    # ---- thresholds
    def consumer_trigger(self, k: int) -> int:
        """Distinct messages the consumer has when kill ``k`` (0-based) starts."""
        return self.total * (k + 1) // (self.kills + 2)

    def producer_pause(self, k: int) -> int:
        """Messages the producer sends before it waits for kill ``k``."""
        return (self.total * (k + 1) // (self.kills + 1)) // BATCH * BATCH

    # ---- producer side
    def send_headers(self, seq: int, *, resent: bool) -> dict[str, str]:
        """The headers of SEND number ``seq``."""
        headers = {
            **self.setup.send_headers,
            "persistent": "true",
            SEQ_HEADER: str(seq),
            SENT_AT_HEADER: f"{time.monotonic():.6f}",
        }
        if resent:
            headers[RESENT_HEADER] = "true"
        return headers

    def batch_confirmed(self, first: int, size: int, began: float) -> None:
        """A batch's RECEIPT came on the connection that carried all of it."""
        now = time.monotonic()
        with self.lock:
            self.confirmed.update(range(first, first + size))
            for kill in self.kill_log:
                if kill.producer_recovery is None and began >= kill.at:
                    kill.producer_recovery = now - kill.at

    def batch_resent(self) -> None:
        """A batch is being sent again."""
        with self.lock:
            self.resent_batches += 1

    def wait_for_kill(self, sent: int, timeout: float = 300.0) -> bool:
        """Called before each batch: at a pause point, wait for that kill; False on timeout."""
        for k in range(self.kills):
            if sent == self.producer_pause(k):
                return self.killed[k].wait(timeout)
        return True

    # ---- consumer side
    def message(
        self,
        seq: int,
        *,
        redelivered: bool,
        acked_before: bool,
        resent: bool,
        connections: int,
        sent_at: float,
    ) -> None:
        """The consumer took message ``seq`` (on its ``connections``-th connection).

        *redelivered* is the broker's mark, *acked_before* the client's.
        A kill's consumer recovery is the first message taken on a connection made after the
        kill, or, when the consumer kept its connection (a cluster node other than its own
        was killed), the first message sent after the kill.
        """
        now = time.monotonic()
        with self.lock:
            if self.received[seq]:
                if redelivered:
                    self.duplicates["redelivered"] += 1
                elif acked_before:
                    self.duplicates["acked-before"] += 1
                elif resent:
                    self.duplicates["resent"] += 1
                else:
                    self.duplicates["unmarked"] += 1
                    self.unmarked.append(seq)
            self.received[seq] += 1
            for kill in self.kill_log:
                if kill.consumer_recovery is None and (
                    connections > kill.consumer_connections or sent_at > kill.at
                ):
                    kill.consumer_recovery = now - kill.at

    def acked(self, seq: int, connections: int) -> None:
        """The consumer's ACK of message ``seq`` went out on its ``connections``-th connection."""
        with self.lock:
            self.acked_on.setdefault(seq, connections)

    def complete(self) -> bool:
        """Whether the consumer has every message the producer sent (confirmed or not)."""
        return len(self.received) >= self.total

    # ---- killer
    def killer(
        self, consumer_port: Callable[[], int | None], connections: Callable[[], int]
    ) -> None:
        """Kill the consumer's node at each trigger, then start it again (a thread's target)."""
        try:
            for k in range(self.kills):
                deadline = time.monotonic() + 300
                while len(self.received) < self.consumer_trigger(k):
                    if time.monotonic() > deadline or self.failures:
                        msg = f"kill {k + 1}: the consumer never reached {self.consumer_trigger(k)}"
                        raise RuntimeError(msg)
                    time.sleep(0.02)
                port = consumer_port()
                while port is None:  # between two connections: wait for the next one
                    if time.monotonic() > deadline or self.failures:
                        msg = f"kill {k + 1}: the consumer is not connected"
                        raise RuntimeError(msg)
                    time.sleep(0.02)
                    port = consumer_port()
                consumer_node = node = self.setup.node_on(port)
                target = "consumer"
                # a cluster: the first kill takes the consumer's node (which also leads the
                # queue: the consumer declared it there), later ones the queue's leader
                if k > 0 and (leader := self.setup.leader(self.queue)) is not None:
                    node, target = leader, "queue-leader"
                pid = node.pid()
                with self.lock:
                    kill = Kill(
                        node=node.name,
                        target=target,
                        consumer_node=consumer_node.name,
                        at=time.monotonic(),
                        consumer_connections=connections(),
                    )
                    self.kill_log.append(kill)
                node.kill(pid)
                logger.info("%s/%s: killed %s", self.setup.name, self.client, node.name)
                self.killed[k].set()
                time.sleep(2.0)  # the node stays down a while, then comes back
                kill.restart = node.start()
                logger.info("%s/%s: %s started again", self.setup.name, self.client, node.name)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.failures.append(exc)
            for event in self.killed:
                event.set()
        finally:
            self.killer_done.set()

    # ---- report
    def report(self) -> dict[str, Any]:
        """The run's figures, as written to the results directory."""
        with self.lock:
            lost = sorted(self.confirmed - set(self.received))
            return {
                "setup": self.setup.name,
                "client": self.client,
                "kills": self.kills,
                "messages": self.total,
                "confirmed": len(self.confirmed),
                "received_distinct": len(self.received),
                "lost": len(lost),
                "lost_first": lost[:10],
                "duplicates": {
                    cause: self.duplicates[cause]
                    for cause in ("redelivered", "acked-before", "resent", "unmarked")
                },
                "resent_batches": self.resent_batches,
                "reconnects": {
                    "consumer": self.consumer_reconnects,
                    "producer": self.producer_reconnects,
                },
                "kill_log": [
                    {
                        "node": kill.node,
                        "target": kill.target,
                        "consumer_node": kill.consumer_node,
                        "killed_at": datetime.fromtimestamp(kill.wall, timezone.utc).isoformat(
                            timespec="milliseconds"
                        ),
                        "consumer_recovery_s": _round(kill.consumer_recovery),
                        "producer_recovery_s": _round(kill.producer_recovery),
                        "restart_s": _round(kill.restart),
                    }
                    for kill in self.kill_log
                ],
                "total_s": round(time.monotonic() - self.began, 2),
            }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def write_report(directory: Path, report: dict[str, Any]) -> Path:
    """Write ``report`` as ``<setup>-<client>-kill<N>.json`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{report['setup']}-{report['client']}-kill{report['kills']}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path

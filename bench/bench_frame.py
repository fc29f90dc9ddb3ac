"""Frame codec benchmark: stomp-frame against stomp.py and stompest, same workloads, same run.

Workloads (issue: "Speed and memory"):
  parse      100,000 MESSAGE frames, 10 headers (one with escaped colons), 100-byte body and
             content-length, fed in 16 KiB chunks;
  serialize  100,000 SEND frames with 10 headers (one needing escaping) and a 100-byte body,
             each frame built from the same dict of headers (what stomp.py and stompest take),
             and, for stomp-frame, also from a list of pairs and through stomp-commands'
             send(), which adds content-length and checks the headers for the version;
             and, for stomp-frame and stomp.py, frames whose headers differ from the frame
             before (serialize reuses the bytes of the last header block it wrote);
  large      10 frames with 1 MiB bodies (fed in 16 KiB chunks);
  memory     peak RSS growth while parsing a 1 GiB stream fed in 64 KiB chunks (stomp-frame only).

stomp.py has no public incremental parser or serializer: it is measured through its own
transport code (``BaseTransport`` receive framing + ``parse_frame``; ``Protocol12.send`` ->
``transmit``) with the socket and the listeners left out, which favours it slightly.
Each figure is the best of several repeats. Run with ``nox -s bench``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stomp_frame import COMPILED, Frame, Parser, Version, serialize

FRAMES = 100_000
CHUNK = 16 * 1024
BODY = b"x" * 100
HEADERS = [
    ("destination", "/queue/bench"),
    ("message-id", "ID:broker.example-41231-1700000000000-1:1:1:1:12345"),
    ("subscription", "0"),
    ("ack", "ID:broker.example-41231-1700000000000-7:3"),
    ("priority", "4"),
    ("expires", "0"),
    ("timestamp", "1700000000000"),
    ("persistent", "true"),
    ("correlation-id", "corr-12345"),
    ("content-length", "100"),
]


def _message_stream(count: int) -> bytes:
    frame = Frame("MESSAGE", HEADERS, BODY)
    one = serialize(frame, Version.V1_2)
    assert b"\\c" in one
    return one * count


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def best_of(repeats: int, func: Callable[[], int]) -> tuple[float, int]:
    """Return (best seconds, result of the last call)."""
    best = float("inf")
    result = 0
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


# -- parse -------------------------------------------------------------------------------


def parse_ours(chunks: list[bytes]) -> int:
    parser = Parser(Version.V1_2)
    count = 0
    for chunk in chunks:
        parser.receive_data(chunk)
        while (event := parser.next_event()) is not None:
            if type(event) is Frame:
                count += 1
    return count


def parse_stompest(chunks: list[bytes]) -> int:
    from stompest.protocol import StompParser

    parser = StompParser("1.2")
    count = 0
    for chunk in chunks:
        parser.add(chunk)
        while parser.canRead():
            if parser.get() is not None:
                count += 1
    return count


def parse_stomppy(chunks: list[bytes]) -> int:
    """stomp.py's own receive path (framing + parse_frame), listeners left out."""
    from stomp.transport import BaseTransport

    class Feed(BaseTransport):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(auto_decode=False)
            self.running = True
            self.count = 0
            self.pending = iter(chunks)

        def receive(self) -> bytes:
            return next(self.pending, b"")

        def process_frame(self, f: object, _frame_str: bytes) -> None:
            if getattr(f, "cmd", None) == "MESSAGE":
                self.count += 1

    feed = Feed()
    read = feed._BaseTransport__read_frames
    for _ in chunks:
        read()
    return feed.count


# -- serialize ---------------------------------------------------------------------------

SEND_HEADERS = [
    ("destination", "/queue/bench"),
    ("correlation-id", "urn:uuid:6b1c5f0e-5a4a-4a1b-9b1e-2f7c1c9a0c11"),
    ("reply-to", "/queue/replies"),
    ("persistent", "true"),
    ("priority", "4"),
    ("expires", "0"),
    ("content-type", "text/plain"),
    ("app-header-1", "value-one"),
    ("app-header-2", "value-two"),
    ("content-length", "100"),
]


def serialize_ours(count: int) -> int:
    """Build each frame from a dict and serialize it, as stomp.py's send does with its dict."""
    version = Version.V1_2  # set once, as stomp.py's protocol object is made once
    headers = dict(SEND_HEADERS)
    total = 0
    for _ in range(count):
        total += len(serialize(Frame("SEND", headers, BODY), version))
    return total


def serialize_ours_pairs(count: int) -> int:
    """The same from a list of pairs, the form that can repeat a name (no peer takes one)."""
    version = Version.V1_2
    total = 0
    for _ in range(count):
        total += len(serialize(Frame("SEND", SEND_HEADERS, BODY), version))
    return total


def serialize_ours_commands(count: int) -> int:
    """What a client pays per SEND: stomp-commands builds it (content-length, checks), then
    serialize; the same call as stomp.py's ``send(destination, body, headers=...)``."""
    from stomp_commands import send

    version = Version.V1_2
    extra = dict(SEND_HEADERS[1:-1])  # send() writes destination and content-length itself
    destination = SEND_HEADERS[0][1]
    total = 0
    for _ in range(count):
        total += len(serialize(send(version, destination, BODY, headers=extra), version))
    return total


# Frames whose headers differ from the frame before (a correlation-id of their own): the
# serializer keeps the bytes of the last header block it wrote, which these never reuse.
FRESH_HEADERS = [
    {**dict(SEND_HEADERS), "correlation-id": f"urn:uuid:{index:032x}"} for index in range(1000)
]


def serialize_ours_fresh(count: int) -> int:
    """As serialize_ours, each frame with other headers than the frame before."""
    version = Version.V1_2
    fresh = FRESH_HEADERS
    kinds = len(fresh)
    total = 0
    for index in range(count):
        total += len(serialize(Frame("SEND", fresh[index % kinds], BODY), version))
    return total


def _stomppy_sender() -> tuple[Any, Callable[[], int]]:
    """stomp.py's ``Protocol12`` on a transport that only counts what it is given to write,
    and the count: its own send path (``send`` -> ``transmit``), the socket left out."""
    from stomp.protocol import Protocol12
    from stomp.transport import BaseTransport

    class Sink(BaseTransport):  # type: ignore[misc]
        total = 0

        def send(self, encoded_frame: bytes) -> None:
            self.total += len(encoded_frame)

    sink = Sink()
    return Protocol12(sink), lambda: sink.total


def serialize_stomppy_fresh(count: int) -> int:
    """stomp.py's send with the same headers as serialize_ours_fresh."""
    protocol, written = _stomppy_sender()
    destination = SEND_HEADERS[0][1]
    fresh = [{k: v for k, v in each.items() if k != "destination"} for each in FRESH_HEADERS]
    kinds = len(fresh)
    for index in range(count):
        protocol.send(destination, BODY, headers=fresh[index % kinds])
    return written()


def serialize_stomppy(count: int) -> int:
    """stomp.py's own send path (Protocol12.send -> transport.transmit), socket left out."""
    protocol, written = _stomppy_sender()
    headers = dict(SEND_HEADERS[1:])
    destination = SEND_HEADERS[0][1]
    for _ in range(count):
        # No copy needed: send merges the headers into a new dict (and builds its Frame).
        protocol.send(destination, BODY, headers=headers)
    return written()


def serialize_stompest(count: int) -> int:
    from stompest.protocol import StompFrame

    headers = dict(SEND_HEADERS)
    total = 0
    for _ in range(count):
        total += len(bytes(StompFrame("SEND", headers, BODY, version="1.2")))
    return total


# -- memory ------------------------------------------------------------------------------


def _rss() -> int:
    statm = Path("/proc/self/statm").read_text(encoding="ascii")
    return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_ours(total: int) -> tuple[int, int, float]:
    """Parse *total* bytes of mixed frames in 64 KiB chunks.

    Returns (frames, peak RSS growth, seconds).
    """
    big = serialize(
        Frame(
            "MESSAGE",
            [("destination", "/queue/m"), ("content-length", str(3 << 20))],
            b"b" * (3 << 20),
        ),
        Version.V1_2,
    )
    nul_ended = serialize(
        Frame("MESSAGE", [("destination", "/queue/m")], b"n" * 200_000), Version.V1_2
    )
    small = _message_stream(200)
    pattern = big + nul_ended + small + b"\n"
    chunk_size = 64 * 1024
    view = memoryview(pattern * 2)
    parser = Parser(Version.V1_2)
    gc.collect()
    start_rss = _rss()
    peak = start_rss
    fed = frames = 0
    offset = 0
    started = time.perf_counter()
    while fed < total:
        chunk = view[offset : offset + chunk_size]
        offset = (offset + chunk_size) % len(pattern)
        parser.receive_data(chunk)
        while (event := parser.next_event()) is not None:
            if type(event) is Frame:
                frames += 1
        fed += chunk_size
        if fed % (1 << 22) == 0:
            peak = max(peak, _rss())
    return frames, peak - start_rss, time.perf_counter() - started


def main() -> None:
    argv = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    argv.add_argument("--repeats", type=int, default=5)
    argv.add_argument("--memory-gib", type=float, default=1.0)
    args = argv.parse_args()
    repeats: int = args.repeats

    stream = _message_stream(FRAMES)
    chunks = _chunks(stream, CHUNK)
    one = len(stream) // FRAMES

    build = "compiled with mypyc" if COMPILED else "pure Python"
    print(f"Python {sys.version.split()[0]}; stomp-frame's build: {build}; best of {repeats}")
    print(f"\nparse {FRAMES:,} MESSAGE frames ({one} B each) in {CHUNK // 1024} KiB chunks")
    results: dict[str, float] = {}
    for name, func in (
        ("stomp-frame", lambda: parse_ours(chunks)),
        ("stompest", lambda: parse_stompest(chunks)),
        ("stomp.py", lambda: parse_stomppy(chunks)),
    ):
        seconds, count = best_of(repeats, func)
        assert count == FRAMES, (name, count)
        results[name] = FRAMES / seconds
        print(f"  {name:12} {results[name]:>12,.0f} frames/s")
    print(
        f"  ratios: {results['stomp-frame'] / results['stomp.py']:.1f}x stomp.py (target 5x), "
        f"{results['stomp-frame'] / results['stompest']:.1f}x stompest (target 4x)"
    )

    print(
        f"\nserialize {FRAMES:,} SEND frames (10 headers, one escaped, 100 B body), frame built too"
    )
    results = {}
    for name, sfunc in (
        ("stomp-frame", serialize_ours),
        ("stomp-frame from pairs", serialize_ours_pairs),
        ("stomp-commands send()", serialize_ours_commands),
        ("stompest", serialize_stompest),
        ("stomp.py", serialize_stomppy),
        ("stomp-frame, new headers", serialize_ours_fresh),
        ("stomp.py, new headers", serialize_stomppy_fresh),
    ):
        seconds, _ = best_of(repeats, lambda f=sfunc: f(FRAMES))  # type: ignore[misc]
        results[name] = FRAMES / seconds
        print(f"  {name:26} {results[name]:>12,.0f} frames/s")
    print(
        f"  ratios, headers in a dict as the peers take them: "
        f"{results['stomp-frame'] / results['stomp.py']:.1f}x stomp.py (target 3x), "
        f"{results['stomp-frame'] / results['stompest']:.1f}x stompest"
    )
    print(
        f"  ratio, each frame with other headers than the one before (no header block to "
        f"reuse): {results['stomp-frame, new headers'] / results['stomp.py, new headers']:.1f}x "
        "stomp.py"
    )
    print(
        f"  ratios, headers as a list of pairs: "
        f"{results['stomp-frame from pairs'] / results['stomp.py']:.1f}x stomp.py, "
        f"{results['stomp-frame from pairs'] / results['stompest']:.1f}x stompest"
    )
    print(
        f"  ratio, stomp-commands send() (builds and checks the frame from its arguments): "
        f"{results['stomp-commands send()'] / results['stomp.py']:.1f}x stomp.py's send"
    )

    big_body = b"\x00\x01" * (512 * 1024)
    big = serialize(
        Frame(
            "MESSAGE",
            [("destination", "/queue/big"), ("content-length", str(len(big_body)))],
            big_body,
        ),
        Version.V1_2,
    )
    big_stream = big * 10
    big_chunks = _chunks(big_stream, CHUNK)
    mib = len(big_stream) / (1 << 20)
    print(f"\nparse 10 frames with 1 MiB bodies ({mib:.1f} MiB in {CHUNK // 1024} KiB chunks)")
    results = {}
    for name, func in (
        ("stomp-frame", lambda: parse_ours(big_chunks)),
        ("stompest", lambda: parse_stompest(big_chunks)),
    ):
        seconds, count = best_of(repeats, func)
        assert count == 10, (name, count)
        results[name] = mib / seconds
        print(f"  {name:12} {results[name]:>12,.0f} MiB/s")
    print(f"  ratio: {results['stomp-frame'] / results['stompest']:.2f}x stompest (target >= 1x)")

    total = int(args.memory_gib * (1 << 30))
    frames, growth, seconds = memory_ours(total)
    print(
        f"\nmemory: parsed {total / (1 << 30):.2f} GiB ({frames:,} frames) in 64 KiB chunks in "
        f"{seconds:.1f} s; peak RSS growth {growth / (1 << 20):.1f} MiB (target <= 64 MiB)"
    )


if __name__ == "__main__":
    main()

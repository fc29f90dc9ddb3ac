"""Session benchmark: MESSAGE frames through stomp-session against the frame parser alone.

Workload: the frame benchmark's (bench_frame.py): 100,000 MESSAGE frames, 10 headers (one
with escaped colons), 100-byte body with content-length, fed in 16 KiB chunks. The session
run parses the same bytes and turns every frame into a ``MessageReceived`` event (MESSAGE
read for its version, subscription looked up, connection generation attached).

Target (issue: "Speed"): the session costs at most 1.5x the parser alone.
Run with ``python bench/bench_session.py`` after installing the three packages.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable

# The frame benchmark's workload, so the two ratios speak of the same frames.
from bench_frame import BODY, CHUNK, FRAMES, HEADERS, _chunks
from bench_frame import parse_ours as parse_alone

from stomp_frame import COMPILED, Frame, Version, serialize
from stomp_session import MessageReceived, Session

CONNECTED = b"CONNECTED\nversion:1.2\nserver:bench\n\n\0"


def best_of_interleaved(
    repeats: int, funcs: dict[str, Callable[[], int]]
) -> dict[str, tuple[float, int]]:
    """Return {name: (best seconds, result of the last call)}, the runs interleaved.

    Interleaving keeps a burst of load on a shared machine from favouring one side.
    """
    best = {name: (float("inf"), 0) for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            gc.collect()
            start = time.perf_counter()
            result = func()
            seconds = time.perf_counter() - start
            best[name] = (min(best[name][0], seconds), result)
    return best


def through_session(chunks: list[bytes]) -> int:
    session = Session(host="/", versions=(Version.V1_2,))
    session.connect(0.0)
    session.receive_data(CONNECTED, 0.0)
    session.subscribe("/queue/bench", id="0", ack="client-individual")
    count = 0
    for chunk in chunks:
        for event in session.receive_data(chunk, 1.0).events:
            if type(event) is MessageReceived:
                count += 1
    return count


def main() -> None:
    argv = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    argv.add_argument("--repeats", type=int, default=9)
    args = argv.parse_args()
    repeats: int = args.repeats

    one = serialize(Frame("MESSAGE", HEADERS, BODY), Version.V1_2)
    chunks = _chunks(one * FRAMES, CHUNK)
    build = "compiled with mypyc" if COMPILED else "pure Python"
    print(f"Python {sys.version.split()[0]}; stomp-frame's build: {build}; best of {repeats}")
    print(f"\nreceive {FRAMES:,} MESSAGE frames ({len(one)} B each) in {CHUNK // 1024} KiB chunks")
    rates: dict[str, float] = {}
    results = best_of_interleaved(
        repeats,
        {
            "parser alone": lambda: parse_alone(chunks),
            "session": lambda: through_session(chunks),
        },
    )
    for name, (seconds, count) in results.items():
        assert count == FRAMES, (name, count)
        rates[name] = FRAMES / seconds
        print(f"  {name:14} {rates[name]:>12,.0f} frames/s")
    ratio = rates["parser alone"] / rates["session"]
    print(f"  ratio: the session costs {ratio:.2f}x the parser alone (target <= 1.5x)")


if __name__ == "__main__":
    main()

"""A short tour of stomp-frame: build frames, write them for each version, read them back.

Run it with ``nox -s demo`` (or ``python examples/frames_demo.py`` once stomp-frame is
installed). It exits non-zero if anything in it does not behave as shown.
"""

from __future__ import annotations

import sys

from stomp_frame import HEARTBEAT, Frame, InvalidFrame, ParseError, Parser, Version, serialize


def main() -> int:
    """Run the tour; return the process exit status."""
    failures = 0

    def check(ok: bool, what: str) -> None:
        nonlocal failures
        print(f"  [{'ok' if ok else 'FAILED'}] {what}")
        failures += not ok

    print("1. A frame with an awkward header, written for each protocol version")
    frame = Frame(
        "SEND",
        [
            ("destination", "/queue/demo"),
            ("note", "a:b\\c"),
            ("note", "second"),
            ("content-length", "5"),
        ],
        b"he\x00lo",
    )
    for version in Version:
        try:
            data = serialize(frame, version)
        except InvalidFrame as exc:
            print(f"  STOMP {version}: refused: {exc}")
            continue
        print(f"  STOMP {version}: {data!r}")
        back = Parser(version).feed(data)
        check(back == [frame], f"STOMP {version} reads back the same frame")

    print("2. A broker's stream, one byte at a time, with the version switch after CONNECTED")
    stream = (
        b"CONNECTED\r\nversion:1.2\r\nheart-beat:10000,10000\r\n\r\n\x00\r\n"
        b"MESSAGE\nsubscription:0\nmessage-id:ID\\cbroker-1\\c1\ndestination:/queue/demo\n"
        b"content-length:3\n\nhi!\x00\n"
    )
    parser = Parser(Version.V1_0, handshake=True)  # any version's frames until CONNECTED
    events = []
    for byte in stream:
        parser.receive_data(bytes([byte]))
        while (event := parser.next_event()) is not None:
            events.append(event)
            if isinstance(event, Frame) and event.command == "CONNECTED":
                parser.version = Version(event.get("version", "1.0"))
                print(f"  CONNECTED: switching the parser to STOMP {parser.version}")
    for event in events:
        print(f"  {event!r}")
    message = next(e for e in events if isinstance(e, Frame) and e.command == "MESSAGE")
    check(message.get("message-id") == "ID:broker-1:1", "escaped colons are unescaped under 1.2")
    check(events.count(HEARTBEAT) == 2, "EOLs between frames are heart-beats, not frames")

    print("3. Bad input gets a clear error with the byte offset")
    try:
        Parser(Version.V1_2).feed(b"MESSAGE\nbad\\tescape:x\n\n\x00")
    except ParseError as exc:
        print(f"  ParseError: {exc}")
        check(exc.offset == 8, "the offset points at the bad header line")
    else:
        check(False, "an undefined escape is refused")

    print("passed" if not failures else f"{failures} check(s) FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

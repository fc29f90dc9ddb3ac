#!/usr/bin/env python3
"""Check over raw sockets that a STOMP broker answers: CONNECT, optionally a message round trip.

No client library is used, so this works before the project's own packages are installed.
start.sh uses it to wait for each broker; it also checks a broker by hand::

    python3 scripts/brokers/stomp_ping.py --port 61613 --login admin --passcode admin --roundtrip
    python3 scripts/brokers/stomp_ping.py --port 61624 --vhost / --tls --ca "$STOMP_TLS_CA"

``--roundtrip`` subscribes to a fresh topic, sends a message with a receipt, acknowledges the
MESSAGE and disconnects with a receipt. The exit status is 0 only if everything asked worked.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_ESCAPE = str.maketrans({"\\": "\\\\", "\n": "\\n", ":": "\\c", "\r": "\\r"})
_UNESCAPE = {"\\": "\\", "n": "\n", "c": ":", "r": "\r"}
_MAX_ERROR_ANSWERS = 5
"""ERROR answers to CONNECT tolerated while a broker boots before giving up early."""


class PingError(Exception):
    """The broker did not answer as expected; ``final`` when retrying cannot help."""

    def __init__(self, message: str, *, final: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.final = final
        self.refused = refused
        """The broker answered CONNECT with an ERROR frame."""


@dataclass(frozen=True)
class Frame:
    """A frame read from the broker (headers in wire order, values unescaped)."""

    command: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def get(self, name: str) -> str | None:
        """Return the first value of header ``name`` (the STOMP 1.2 rule), or None."""
        return next((value for key, value in self.headers if key == name), None)

    def describe(self) -> str:
        """Return a one-line summary for messages."""
        headers = ", ".join(f"{key}:{value}" for key, value in self.headers)
        return f"{self.command} [{headers}] {self.body[:200]!r}"


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append(_UNESCAPE.get(nxt, "\\" + nxt))
        else:
            out.append(char)
    return "".join(out)


class Connection:
    """One STOMP connection over a blocking socket, with a deadline for every read."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._buffer = b""
        self.version = "1.0"

    def send(self, command: str, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        """Send one frame; header values are escaped once a 1.1/1.2 session is open."""
        lines = [command]
        for key, value in headers:
            if self.version != "1.0" and command not in {"CONNECT", "STOMP"}:
                lines.append(f"{key.translate(_ESCAPE)}:{value.translate(_ESCAPE)}")
            else:
                lines.append(f"{key}:{value}")
        self._sock.sendall(("\n".join(lines) + "\n\n").encode() + body + b"\0")

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            msg = f"no complete frame within {self._timeout:.0f}s (have {self._buffer[:200]!r})"
            raise PingError(msg)
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            chunk = None
        if chunk is None:
            return
        if not chunk:
            msg = f"connection closed by the broker (unparsed: {self._buffer[:200]!r})"
            raise PingError(msg)
        self._buffer += chunk

    def receive(self) -> Frame:
        """Return the next frame, skipping heart-beat end-of-lines."""
        deadline = time.monotonic() + self._timeout
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            end = self._buffer.find(b"\n\n")
            crlf = self._buffer.find(b"\r\n\r\n")
            if end < 0 and crlf < 0:
                self._fill(deadline)
                continue
            if crlf >= 0 and (end < 0 or crlf < end):
                head, start = self._buffer[:crlf], crlf + 4
            else:
                head, start = self._buffer[:end], end + 2
            lines = head.decode().replace("\r\n", "\n").split("\n")
            command = lines[0]
            raw = [line.partition(":") for line in lines[1:]]
            if self.version == "1.0" or command == "CONNECTED":
                headers = tuple((key, value) for key, _, value in raw)
            else:
                headers = tuple((_unescape(key), _unescape(value)) for key, _, value in raw)
            length = next((value for key, value in headers if key == "content-length"), None)
            if length is not None:
                stop = start + int(length)
                while len(self._buffer) <= stop:
                    self._fill(deadline)
            else:
                while (stop := self._buffer.find(b"\0", start)) < 0:
                    self._fill(deadline)
            body = self._buffer[start:stop]
            self._buffer = self._buffer[stop + 1 :]
            return Frame(command=command, headers=headers, body=body)

    def expect(self, wanted: set[str]) -> list[Frame]:
        """Read frames until every receipt id in ``wanted`` and (if asked) a MESSAGE came."""
        frames: list[Frame] = []
        missing = set(wanted)
        while missing:
            frame = self.receive()
            frames.append(frame)
            if frame.command == "ERROR":
                raise PingError(f"broker sent {frame.describe()}", final=True)
            if frame.command == "RECEIPT":
                missing.discard(f"receipt:{frame.get('receipt-id')}")
            elif frame.command == "MESSAGE":
                missing.discard("MESSAGE")
        return frames

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


def _open(args: argparse.Namespace) -> socket.socket:
    sock = socket.create_connection((args.host, args.port), timeout=min(3.0, args.timeout))
    if not args.tls:
        return sock
    context = ssl.create_default_context(cafile=args.ca)
    # the checks Python 3.13 turns on by default: the test CA must pass them everywhere
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    if args.cert:
        context.load_cert_chain(args.cert, args.key)
    try:
        return context.wrap_socket(sock, server_hostname=args.server_name or args.host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise PingError(f"TLS certificate not accepted: {exc}", final=True) from exc
    except BaseException:
        sock.close()
        raise


def _connect(args: argparse.Namespace) -> tuple[Connection, Frame]:
    conn = Connection(_open(args), args.timeout)
    headers = [("accept-version", "1.0,1.1,1.2"), ("host", args.vhost)]
    if args.login is not None:
        headers += [("login", args.login), ("passcode", args.passcode or "")]
    headers.append(("heart-beat", "0,0"))
    try:
        conn.send("CONNECT", headers)
        frame = conn.receive()
    except BaseException:
        conn.close()
        raise
    if frame.command != "CONNECTED":
        conn.close()
        raise PingError(f"CONNECT answered with {frame.describe()}", refused=True)
    conn.version = frame.get("version") or "1.0"
    return conn, frame


def _round_trip(conn: Connection) -> None:
    destination = f"/topic/stomp-ping.{uuid.uuid4().hex}"
    ack_mode = "client" if conn.version == "1.0" else "client-individual"
    sub = [("id", "ping"), ("destination", destination), ("ack", ack_mode), ("receipt", "sub")]
    conn.send("SUBSCRIBE", sub)
    conn.expect({"receipt:sub"})
    body = f"ping {uuid.uuid4()}".encode()
    send = [("destination", destination), ("content-type", "text/plain"), ("receipt", "send")]
    conn.send("SEND", send, body)
    frames = conn.expect({"receipt:send", "MESSAGE"})
    message = next(frame for frame in frames if frame.command == "MESSAGE")
    if message.body != body:
        raise PingError(f"MESSAGE body {message.body!r} differs from the sent {body!r}", final=True)
    message_id = message.get("message-id") or ""
    if conn.version == "1.2":
        ack = [("id", message.get("ack") or message_id)]
    else:
        ack = [("message-id", message_id), ("subscription", message.get("subscription") or "ping")]
    conn.send("ACK", [*ack, ("receipt", "ack")])
    conn.expect({"receipt:ack"})
    conn.send("UNSUBSCRIBE", [("id", "ping")])


def ping(args: argparse.Namespace) -> str:
    """Connect once (and run the round trip if asked); return a summary or raise PingError."""
    conn, connected = _connect(args)
    try:
        if args.roundtrip:
            _round_trip(conn)
        conn.send("DISCONNECT", [("receipt", "bye")])
        conn.expect({"receipt:bye"})
    finally:
        conn.close()
    summary = f"server={connected.get('server')} version={conn.version}"
    return summary + (" round-trip=ok" if args.roundtrip else "")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vhost", default="localhost", help="CONNECT host header")
    parser.add_argument("--login")
    parser.add_argument("--passcode")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca", type=Path, help="CA file the server certificate must chain to")
    parser.add_argument("--cert", type=Path, help="client certificate (PEM)")
    parser.add_argument("--key", type=Path, help="client private key (PEM)")
    parser.add_argument("--server-name", help="TLS name to verify (default: --host)")
    parser.add_argument("--roundtrip", action="store_true", help="also SEND/MESSAGE/ACK")
    parser.add_argument("--wait", type=float, default=0.0, help="retry for this many seconds")
    parser.add_argument("--timeout", type=float, default=10.0, help="per frame, seconds")
    parser.add_argument("--label", default="", help="name to print in messages")
    args = parser.parse_args(argv)
    if args.tls and args.ca is None:
        parser.error("--tls needs --ca")
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the check, retrying until ``--wait`` seconds have passed."""
    args = _parse(argv)
    label = args.label or f"{args.host}:{args.port}{' (tls)' if args.tls else ''}"
    start = time.monotonic()
    error_answers = 0
    while True:
        try:
            summary = ping(args)
        except (OSError, PingError) as exc:
            if isinstance(exc, PingError) and exc.refused:
                error_answers += 1
            final = isinstance(exc, PingError) and exc.final
            final = final or error_answers >= _MAX_ERROR_ANSWERS
            if final or time.monotonic() - start >= args.wait:
                waited = time.monotonic() - start
                sys.stderr.write(f"{label}: no STOMP answer after {waited:.1f}s: {exc}\n")
                return 1
            time.sleep(0.2)
            continue
        sys.stdout.write(f"{label}: {summary} ({time.monotonic() - start:.1f}s)\n")
        return 0


if __name__ == "__main__":
    sys.exit(main())

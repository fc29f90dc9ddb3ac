"""The in-process test broker of the CLI's tests: a small STOMP queue broker on a loopback port.

It runs in threads of the test process and speaks STOMP 1.0-1.2 over plain TCP or TLS (a
test CA made by trustme): credentials and virtual hosts are checked and refused as
RabbitMQ does (ERROR ``Bad CONNECT``, the reason in the body); queues keep messages until
a subscriber takes them; ``client`` and ``client-individual`` subscriptions hold them until
ACK, a NACK or a disconnection puts them back (``redelivered:true``); transactions apply at
COMMIT. Message ids count from ``m-1`` and session ids from ``s-1``, so output is
repeatable. This is the one fixture to swap for the project's shared test broker.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme

from stomp_frame import Frame, FrameError, HeartBeat, Parser, Version, serialize

SERVER = "TestBroker/1.0"


@dataclass
class _Subscription:
    conn: _Connection
    id: str
    destination: str
    ack: str
    unacked: dict[str, Frame] = field(default_factory=dict)


@dataclass
class _Connection:
    sock: socket.socket
    version: Version = Version.V1_0
    session: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    transactions: dict[str, list[Frame]] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)

    def write(self, frame: Frame) -> None:
        version = self.version if frame.command != "CONNECTED" else Version.V1_0
        with self.lock, contextlib.suppress(OSError):
            self.sock.sendall(serialize(frame, version))


class LoopbackBroker:
    """A STOMP broker on 127.0.0.1; ``uri`` is its address, ``tls_uri`` its TLS one."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        vhosts: frozenset[str] | None = None,
        tls: ssl.SSLContext | None = None,
        answer: bool = True,
    ) -> None:
        self.users = users
        """Login -> passcode; ``None`` accepts anyone."""
        self.vhosts = vhosts
        """Accepted CONNECT ``host`` headers; ``None`` accepts any."""
        self.answer = answer
        """False: read CONNECT and never answer (another protocol's port, or a stuck broker)."""
        self.blackholes: set[str] = set()
        """Destinations whose messages are dropped (a broker that loses them)."""
        self.queues: dict[str, deque[Frame]] = {}
        self.connections: list[_Connection] = []
        self._lock = threading.RLock()
        self._message_ids = itertools.count(1)
        self._session_ids = itertools.count(1)
        self._round_robin = itertools.count()
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self) -> str:
        """``tcp://`` (or ``ssl://`` when it speaks TLS) ``127.0.0.1:port``."""
        scheme = "ssl" if self._tls is not None else "tcp"
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop listening and close every connection."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.sock.close()

    def put(self, destination: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Put a message on *destination* as a producer would."""
        frame = Frame("SEND", {"destination": destination, **(headers or {})}, body)
        with self._lock:
            self._route(frame)

    def stored(self, destination: str) -> list[Frame]:
        """The messages waiting on *destination* (not delivered or put back)."""
        with self._lock:
            return list(self.queues.get(destination, ()))

    def received(self, command: str) -> list[Frame]:
        """Every frame of *command* the broker received, over all connections."""
        return [f for c in list(self.connections) for f in list(c.frames) if f.command == command]

    # -- the connections -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        if self._tls is not None:
            try:
                sock.settimeout(5)
                sock = self._tls.wrap_socket(sock, server_side=True)
                sock.settimeout(None)
            except (OSError, ssl.SSLError):
                sock.close()
                return
        conn = _Connection(sock)
        with self._lock:
            self.connections.append(conn)
        try:
            self._run(conn)
        except (OSError, FrameError):
            pass
        finally:
            self._drop(conn)
            with contextlib.suppress(OSError):
                sock.close()

    def _run(self, conn: _Connection) -> None:
        parser = Parser(Version.V1_0)
        while True:
            data = conn.sock.recv(65536)
            if not data:
                return
            for item in parser.feed(data):
                if isinstance(item, HeartBeat):
                    continue
                conn.frames.append(item)
                if item.command in ("CONNECT", "STOMP"):
                    if not self.answer:
                        continue
                    if not self._connect(conn, item):
                        return
                    parser.version = conn.version
                    continue
                if not self._handle(conn, item):
                    return

    def _connect(self, conn: _Connection, frame: Frame) -> bool:
        offered = (frame.get("accept-version") or "1.0").split(",")
        common = [v for v in ("1.2", "1.1", "1.0") if v in offered]
        if not common:
            conn.write(Frame("ERROR", {"message": "Version mismatch", "version": "1.0,1.1,1.2"}))
            return False
        login, passcode = frame.get("login"), frame.get("passcode")
        if self.users is not None and self.users.get(login or "") != passcode:
            body = f"Access refused for user '{login or ''}'".encode()
            conn.write(Frame("ERROR", {"message": "Bad CONNECT"}, body))
            return False
        host = frame.get("host")
        if self.vhosts is not None and host not in self.vhosts:
            body = f"Virtual host '{host}' access denied".encode()
            conn.write(Frame("ERROR", {"message": "Bad CONNECT"}, body))
            return False
        conn.version = Version(common[0])
        conn.session = f"s-{next(self._session_ids)}"
        headers = {"version": common[0], "server": SERVER, "session": conn.session}
        if conn.version is not Version.V1_0:
            headers["heart-beat"] = "0,0"
        conn.write(Frame("CONNECTED", headers))
        return True

    def _handle(self, conn: _Connection, frame: Frame) -> bool:
        command = frame.command
        receipt = frame.get("receipt")
        transaction = frame.get("transaction")
        with self._lock:
            if transaction is not None and command in ("SEND", "ACK", "NACK"):
                if transaction not in conn.transactions:
                    self._error(conn, f"unknown transaction {transaction}", receipt)
                    return True
                conn.transactions[transaction].append(frame)
            elif command == "SEND":
                self._route(frame)
            elif command == "SUBSCRIBE":
                sub_id = frame.get("id") or frame.get("destination") or ""
                conn.subscriptions[sub_id] = _Subscription(
                    conn, sub_id, frame.get("destination") or "", frame.get("ack") or "auto"
                )
                self._dispatch(frame.get("destination") or "")
            elif command == "UNSUBSCRIBE":
                sub = conn.subscriptions.pop(frame.get("id") or "", None)
                if sub is not None:
                    self._put_back(sub)
            elif command in ("ACK", "NACK"):
                self._acknowledge(conn, frame)
            elif command == "BEGIN":
                conn.transactions[frame.get("transaction") or ""] = []
            elif command in ("COMMIT", "ABORT"):
                frames = conn.transactions.pop(frame.get("transaction") or "", None)
                if frames is None:
                    self._error(conn, "unknown transaction", receipt)
                    return True
                if command == "COMMIT":
                    for queued in frames:
                        if queued.command == "SEND":
                            self._route(queued)
                        else:
                            self._acknowledge(conn, queued)
            elif command == "DISCONNECT":
                self._drop(conn)
            else:
                self._error(conn, f"unknown command {command}", receipt)
                return False
        if receipt is not None:
            conn.write(Frame("RECEIPT", {"receipt-id": receipt}))
        return command != "DISCONNECT"

    def _error(self, conn: _Connection, message: str, receipt: str | None) -> None:
        headers = {"message": message}
        if receipt is not None:
            headers["receipt-id"] = receipt
        conn.write(Frame("ERROR", headers))

    # -- the queues (called with self._lock held) ----------------------------------------------

    def _route(self, frame: Frame) -> None:
        destination = frame.get("destination") or ""
        if destination in self.blackholes:
            return
        skip = {"destination", "receipt", "transaction", "content-length"}
        headers = [("destination", destination)]
        headers += [(k, v) for k, v in frame.headers if k not in skip]
        headers.append(("message-id", f"m-{next(self._message_ids)}"))
        headers.append(("content-length", str(len(frame.body))))
        message = Frame("MESSAGE", headers, frame.body)
        self.queues.setdefault(destination, deque()).append(message)
        self._dispatch(destination)

    def _dispatch(self, destination: str) -> None:
        queue = self.queues.get(destination)
        subs = [
            sub
            for conn in self.connections
            for sub in conn.subscriptions.values()
            if sub.destination == destination
        ]
        while queue and subs:
            sub = subs[next(self._round_robin) % len(subs)]
            message = queue.popleft()
            message_id = message.get("message-id") or ""
            headers = [("subscription", sub.id), *message.headers]
            if sub.conn.version is Version.V1_2:
                headers.append(("ack", message_id))
            if sub.ack != "auto":
                sub.unacked[message_id] = message
            sub.conn.write(Frame("MESSAGE", headers, message.body))

    def _acknowledge(self, conn: _Connection, frame: Frame) -> None:
        token = frame.get("id") if conn.version is Version.V1_2 else frame.get("message-id")
        for sub in conn.subscriptions.values():
            if token in sub.unacked:
                ids = list(sub.unacked)
                done = ids[: ids.index(token) + 1] if sub.ack == "client" else [token]
                taken = [sub.unacked.pop(i) for i in done]
                if frame.command == "NACK":
                    self._requeue(sub.destination, taken)
                return

    def _requeue(self, destination: str, messages: list[Frame]) -> None:
        queue = self.queues.setdefault(destination, deque())
        for message in reversed(messages):
            headers = [(k, v) for k, v in message.headers if k != "redelivered"]
            queue.appendleft(Frame("MESSAGE", [*headers, ("redelivered", "true")], message.body))
        self._dispatch(destination)

    def _put_back(self, sub: _Subscription) -> None:
        messages, sub.unacked = list(sub.unacked.values()), {}
        if messages:
            self._requeue(sub.destination, messages)

    def _drop(self, conn: _Connection) -> None:
        with self._lock:
            subs, conn.subscriptions = list(conn.subscriptions.values()), {}
            for sub in subs:
                self._put_back(sub)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """The test CA that signs the TLS broker's certificate."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA's certificate, as a PEM file for --ca-file."""
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def broker() -> Iterator[LoopbackBroker]:
    """A plain TCP broker that accepts anyone."""
    started = LoopbackBroker()
    yield started
    started.stop()


@pytest.fixture
def secured_broker() -> Iterator[LoopbackBroker]:
    """A broker with a user (admin/secret) and one virtual host (``/``), as RabbitMQ has."""
    started = LoopbackBroker(users={"admin": "secret"}, vhosts=frozenset({"/"}))
    yield started
    started.stop()


@pytest.fixture
def tls_broker(ca: trustme.CA) -> Iterator[LoopbackBroker]:
    """A broker that speaks TLS only, with a certificate for 127.0.0.1 signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    started = LoopbackBroker(tls=context)
    yield started
    started.stop()


@pytest.fixture
def silent_broker() -> Iterator[LoopbackBroker]:
    """A port that takes the connection and never answers CONNECT."""
    started = LoopbackBroker(answer=False)
    yield started
    started.stop()


@pytest.fixture
def free_port() -> int:
    """A loopback port on which nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def make_broker() -> Iterator[Callable[..., LoopbackBroker]]:
    """Start brokers with the settings given (``make_broker(users=...)``); all stop after."""
    started: list[LoopbackBroker] = []

    def make(**settings: Any) -> LoopbackBroker:
        broker = LoopbackBroker(**settings)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()

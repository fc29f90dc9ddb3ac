"""``stompctl doctor``: each step to a working connection, timed, and what to do when one fails.

The steps below STOMP (name resolution, TCP, the TLS handshake and its certificate) are
probed here with the standard library, one at a time, so a failure names its step; the
STOMP conversation itself is stomp-sync's, through :func:`stomp_cli._connection.make_client`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text

from stomp_cli._connection import ConnectionOptions, make_client, parse_uri, tls_context
from stomp_cli._errors import ExitCode, Failure, describe, tls_hint
from stomp_failover import Broker
from stomp_sync import ClientError

T = TypeVar("T")

_SNIFF_SECONDS = 0.5


@dataclass
class Step:
    """One check: its name, whether it passed, what it found."""

    name: str
    failure: Failure | None = None
    summary: str = ""
    details: tuple[str, ...] = ()


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _name(parts: Any) -> str:
    """A certificate's subject or issuer (``getpeercert()`` form) as ``CN=a, O=b``."""
    return ", ".join(f"{key}={value}" for rdn in parts for key, value in rdn)


def certificate_lines(cert: dict[str, Any]) -> list[str]:
    """What a verified peer certificate says, one fact a line."""
    names = ", ".join(f"{kind}:{value}" for kind, value in cert.get("subjectAltName", ()))
    lines = [
        f"subject  {_name(cert.get('subject', ()))}",
        f"issuer   {_name(cert.get('issuer', ()))}",
        f"valid    {cert.get('notBefore', '?')} to {cert.get('notAfter', '?')}",
    ]
    if names:
        lines.append(f"names    {names}")
    return lines


class Doctor:
    """Runs the checks for each broker of the URI and prints them as they finish."""

    def __init__(self, options: ConnectionOptions, out: Console) -> None:
        self.options = options
        self.out = out
        self.timeout = options.connect_timeout

    def run(self) -> ExitCode:
        """Check every broker of the URI; the exit code is the first failure's."""
        uri = parse_uri(self.options.uri)
        codes = [self.check(uri, broker) for broker in uri.brokers]
        failed = [code for code in codes if code is not ExitCode.OK]
        if failed:
            return failed[0]
        self.out.print("[bold green]all checks passed[/]")
        return ExitCode.OK

    def check(self, uri: Any, broker: Broker) -> ExitCode:
        """Check one broker, step by step; stop at the first failure."""
        self.out.print(Text(f"doctor {broker}", style="bold"))
        probes: list[Callable[[], Step | None]] = [
            lambda: self._resolve(broker),
            lambda: self._tcp(broker),
            lambda: self._tls(broker),
            lambda: self._stomp(uri, broker),
        ]
        for probe in probes:
            step = probe()
            if step is None:
                continue
            self._show(step)
            if step.failure is not None:
                return step.failure.code
        return ExitCode.OK

    def _show(self, step: Step) -> None:
        ok = step.failure is None
        mark = Text("  ok    " if ok else "  FAIL  ", style="green" if ok else "bold red")
        summary = step.summary if ok or step.failure is None else step.failure.message
        self.out.print(mark + Text(f"{step.name:<9}{summary}"))
        for line in step.details:
            self.out.print(Text(f"        {' ' * 9}{line}", style="dim"))
        if step.failure is not None:
            if step.failure.detail:
                for line in step.failure.detail.splitlines():
                    self.out.print(Text(f"        {' ' * 9}| {line}", style="dim"))
            if step.failure.hint:
                self.out.print(Text("  hint: ", style="bold yellow") + Text(step.failure.hint))

    # -- the steps ---------------------------------------------------------------------------

    def _resolve(self, broker: Broker) -> Step:
        try:
            infos, took = _timed(
                lambda: socket.getaddrinfo(broker.host, broker.port, type=socket.SOCK_STREAM)
            )
        except socket.gaierror as exc:
            return Step("DNS", describe(exc, where=str(broker)))
        addresses = sorted({str(info[4][0]) for info in infos})
        return Step("DNS", summary=f"{', '.join(addresses)} ({_ms(took)})")

    def _tcp(self, broker: Broker) -> Step:
        try:
            sock, took = _timed(lambda: socket.create_connection(broker.address, self.timeout))
        except TimeoutError:
            return Step(
                "TCP",
                Failure(
                    ExitCode.TIMEOUT,
                    f"no answer within {self.timeout:g} s",
                    "a firewall drops the packets, or the host is down",
                ),
            )
        except OSError as exc:
            return Step("TCP", describe(exc, where=str(broker)))
        sock.close()
        return Step("TCP", summary=f"connected in {_ms(took)}")

    def _tls(self, broker: Broker) -> Step | None:
        if not broker.tls:
            return None
        context = tls_context(self.options) or ssl.create_default_context()
        try:
            (version, cipher, cert, chain), took = _timed(lambda: self._handshake(broker, context))
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            details = list(self._unverified(broker))
            failure = Failure(ExitCode.TLS, f"certificate verify failed: {reason}", tls_hint(exc))
            return Step("TLS", failure, details=tuple(details))
        except ssl.SSLError as exc:
            return Step("TLS", Failure(ExitCode.TLS, f"handshake failed: {exc}", tls_hint(exc)))
        except TimeoutError:
            hint = "a plain STOMP port does not answer a TLS hello: use tcp:// for it"
            return Step("TLS", Failure(ExitCode.TLS, "no handshake in time", hint))
        except OSError as exc:
            return Step("TLS", describe(exc, where=str(broker)))
        details = certificate_lines(cert) if cert else ["certificate not verified (--insecure)"]
        if chain > 1:
            details.append(f"chain    {chain} certificates, verified")
        return Step("TLS", summary=f"{version}, {cipher} in {_ms(took)}", details=tuple(details))

    def _handshake(
        self, broker: Broker, context: ssl.SSLContext
    ) -> tuple[str, str, dict[str, Any], int]:
        with (
            socket.create_connection(broker.address, self.timeout) as raw,
            context.wrap_socket(raw, server_hostname=broker.server_name()) as tls,
        ):
            cipher = tls.cipher()
            cert = tls.getpeercert() if context.verify_mode != ssl.CERT_NONE else None
            chain: Sequence[object] = ()
            if hasattr(tls, "get_verified_chain") and cert:  # Python 3.13+
                chain = tls.get_verified_chain()
            return (
                tls.version() or "?",
                cipher[0] if cipher else "?",
                dict(cert or {}),
                len(chain),
            )

    def _unverified(self, broker: Broker) -> list[str]:
        """What the broker presents, fetched without verification, to say which it is."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with (
                socket.create_connection(broker.address, self.timeout) as raw,
                context.wrap_socket(raw, server_hostname=broker.server_name()) as tls,
            ):
                der = tls.getpeercert(binary_form=True)
        except OSError:
            return []
        if not der:
            return []
        return [f"presented sha256:{hashlib.sha256(der).hexdigest()}"]

    def _stomp(self, uri: Any, broker: Broker) -> Step:
        alone = dataclasses.replace(uri, brokers=(broker,))
        client = make_client(self.options, uri=alone, auto_reconnect=False)
        try:
            connected, took = _timed(lambda: client.connect(timeout=self.timeout * 3))
        except (ClientError, OSError) as exc:
            client.close()
            failure = describe(exc, connecting=True, where=str(broker))
            return Step("STOMP", self._explain(broker, failure))
        try:
            _, receipt = _timed(client.disconnect)
        except (ClientError, OSError) as exc:
            client.close()
            failure = describe(exc, where=str(broker))
            return Step("STOMP", Failure(failure.code, f"DISCONNECT: {failure.message}"))
        send, receive = connected.heart_beat
        details = (
            f"version  STOMP {connected.version.value}",
            f"server   {connected.server or '(not said)'}",
            f"session  {connected.session_id or '(not said)'}",
            f"beats    send every {send} ms, expect every {receive} ms (0: none)",
            f"receipt  {_ms(receipt)} (DISCONNECT)",
        )
        return Step("STOMP", summary=f"CONNECTED in {_ms(took)}", details=details)

    def _explain(self, broker: Broker, failure: Failure) -> Failure:
        """Make the hint of a failed CONNECT precise by probing the port again."""
        if failure.code not in (ExitCode.TIMEOUT, ExitCode.CONNECTION) or broker.scheme != "tcp":
            return failure
        spoken = self._sniff(broker)
        if spoken:
            hint = f"the server spoke first ({spoken!r}), as STOMP brokers never do: " + (
                "this is ActiveMQ's OpenWire port; its STOMP port is usually 61613"
                if b"ActiveMQ" in spoken
                else "this is another protocol's port"
            )
            return dataclasses.replace(failure, hint=hint)
        if self._speaks_tls(broker):
            hint = f"this port speaks TLS: use ssl://{broker.host}:{broker.port}"
            return dataclasses.replace(failure, hint=hint)
        return failure

    def _sniff(self, broker: Broker) -> bytes:
        try:
            with socket.create_connection(broker.address, self.timeout) as sock:
                sock.settimeout(_SNIFF_SECONDS)
                return sock.recv(32)
        except OSError:
            return b""

    def _speaks_tls(self, broker: Broker) -> bool:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with (
                socket.create_connection(broker.address, self.timeout) as raw,
                context.wrap_socket(raw, server_hostname=broker.host),
            ):
                return True
        except OSError:
            return False

"""The ``stompctl`` command line: the group, the options every command shares, the commands."""

from __future__ import annotations

import functools
import logging
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar, cast

import click

from stomp_cli import _output
from stomp_cli._connection import ALL_VERSIONS, AckMode, ConnectionOptions, make_client
from stomp_cli._errors import CommandFailed, ExitCode, Failure, describe
from stomp_frame import Version
from stomp_sync import Client, ClientError, Connected, MessageReceived

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URI: Final = "tcp://localhost:61613"
_CONNECTION_PARAMS: Final = (
    "uri",
    "login",
    "passcode",
    "ask_passcode",
    "vhost",
    "versions",
    "heart_beat",
    "ca_file",
    "cert",
    "key",
    "insecure",
    "connect_timeout",
)


def _parse_versions(
    _ctx: click.Context, _param: click.Parameter, value: str
) -> tuple[Version, ...]:
    try:
        versions = tuple(Version(part.strip()) for part in value.split(",") if part.strip())
    except ValueError:
        known = ", ".join(v.value for v in ALL_VERSIONS)
        msg = f"{value!r}: STOMP versions are {known} (comma-separated)"
        raise click.BadParameter(msg) from None
    if not versions:
        raise click.BadParameter("name at least one STOMP version")
    return versions


def _parse_heart_beat(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, int]:
    parts = value.split(",")
    try:
        send, receive = (int(part) for part in parts)
    except ValueError:
        msg = f"{value!r}: give two numbers of milliseconds, as in 10000,10000"
        raise click.BadParameter(msg) from None
    if send < 0 or receive < 0:
        raise click.BadParameter(f"{value!r}: intervals cannot be negative")
    return (send, receive)


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def connection_options(command: F) -> F:
    """Add the options that reach a broker (URI, credentials, versions, TLS) to *command*."""
    decorators = [
        click.option(
            "-u",
            "--uri",
            envvar="STOMP_URI",
            default=DEFAULT_URI,
            show_default=True,
            show_envvar=True,
            help="Broker URI: tcp://host:port, ssl://host:port or failover:(uri,uri)?options.",
        ),
        click.option("--login", envvar="STOMP_LOGIN", show_envvar=True, help="User name."),
        click.option(
            "--passcode",
            envvar="STOMP_PASSCODE",
            show_envvar=True,
            help="Password (prefer the environment variable or the prompt: a command line "
            "is visible to other users of the machine).",
        ),
        click.option(
            "-P",
            "--ask-passcode",
            is_flag=True,
            help="Prompt for the password (also done when --login is given without one "
            "and stdin is a terminal).",
        ),
        click.option(
            "--vhost",
            envvar="STOMP_VHOST",
            show_envvar=True,
            help="The CONNECT host header: RabbitMQ's virtual host (default: the broker's host).",
        ),
        click.option(
            "--version",
            "versions",
            default="1.0,1.1,1.2",
            show_default=True,
            callback=_parse_versions,
            help="STOMP versions to offer, comma-separated.",
        ),
        click.option(
            "--heart-beat",
            default="0,0",
            show_default=True,
            callback=_parse_heart_beat,
            help="Heart-beats in ms: send at least every CX, want one every CY (CX,CY).",
        ),
        click.option("--ca-file", type=_FILE, help="CA certificates (PEM) to verify the broker."),
        click.option("--cert", type=_FILE, help="Client certificate (PEM), for ssl:// brokers."),
        click.option("--key", type=_FILE, help="The client certificate's private key (PEM)."),
        click.option(
            "--insecure",
            is_flag=True,
            help="Do not verify the broker's certificate (a warning is printed).",
        ),
        click.option(
            "--connect-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=10.0,
            show_default=True,
            help="Seconds for TCP, for the TLS handshake, for CONNECTED and for each receipt.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def take_connection_options(params: dict[str, Any]) -> ConnectionOptions:
    """Remove the connection options from a command's parameters and build them."""
    taken = {name: params.pop(name) for name in _CONNECTION_PARAMS}
    passcode = cast("str | None", taken["passcode"])
    login = cast("str | None", taken["login"])
    if passcode is None and (taken["ask_passcode"] or (login is not None and sys.stdin.isatty())):
        prompt = f"Passcode for {login}" if login else "Passcode"
        passcode = click.prompt(prompt, hide_input=True, err=True, default="", show_default=False)
    if taken["insecure"]:
        _output.console(stderr=True).print(
            "[bold yellow]warning:[/] --insecure: the broker's certificate is not verified; "
            "anyone on the path can read and change this connection"
        )
    return ConnectionOptions(
        uri=taken["uri"],
        login=login,
        passcode=passcode,
        vhost=taken["vhost"],
        versions=taken["versions"],
        heart_beat=taken["heart_beat"],
        ca_file=taken["ca_file"],
        cert_file=taken["cert"],
        key_file=taken["key"],
        insecure=taken["insecure"],
        connect_timeout=taken["connect_timeout"],
    )


def fail(code: ExitCode, message: str, hint: str | None = None) -> NoReturn:
    """End the command with *code*, printing *message* (and *hint*) on stderr."""
    raise CommandFailed(Failure(code, message, hint))


def handled(command: F) -> F:
    """Turn the errors a command lets out into a message on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            sys.exit(130)
        except (CommandFailed, ClientError, OSError, ssl.SSLError, ValueError) as exc:
            failure = describe(exc)
            _output.report_failure(_output.console(stderr=True), failure)
            sys.exit(int(failure.code))

    return cast("F", wrapper)


def connect(client: Client, options: ConnectionOptions) -> Connected:
    """Connect *client*, or end the command with what went wrong and a hint."""
    try:
        return client.connect(timeout=options.connect_timeout * 3)
    except (ClientError, OSError) as exc:
        raise CommandFailed(describe(exc, connecting=True, where=options.uri)) from exc


@contextmanager
def connected_client(options: ConnectionOptions) -> Iterator[Client]:
    """A connected client, disconnected at the end (closed at once after an error)."""
    client = make_client(options)
    connect(client, options)
    try:
        yield client
    except BaseException:
        client.close()
        raise
    client.disconnect()


# -- the group ----------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="stomp-cli", prog_name="stompctl")
@click.option("-v", "--verbose", count=True, help="Log the client's steps (-vv: everything).")
def main(verbose: int) -> None:
    """Talk to a STOMP 1.0-1.2 broker: send, tail, ping, doctor, bench, shell.

    Every command takes the broker's URI (-u, or $STOMP_URI), the credentials and TLS
    options. Exit codes: 0 ok, 1 other failure, 2 usage, 3 connection, 4 TLS,
    5 refused by the broker (credentials, virtual host), 6 timeout, 7 broker ERROR.
    """
    if verbose:
        level = logging.INFO if verbose == 1 else logging.DEBUG
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger().setLevel(level)
    elif not logging.getLogger().handlers:
        # The client's warnings (a broker that failed, before the next is tried) would
        # reach stderr through logging's last resort; the command reports the outcome.
        logging.getLogger().addHandler(logging.NullHandler())


# -- send -----------------------------------------------------------------------------------------


def _parse_headers(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name:
            raise click.BadParameter(f"{value!r}: write a header as name:value")
        headers.append((name, text))
    return tuple(headers)


def _header_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "-H",
        "--header",
        "headers",
        multiple=True,
        callback=_parse_headers,
        metavar="NAME:VALUE",
        help=help_text,
    )


def _read_bodies(body: str | None, file: click.File | None, *, lines: bool) -> list[bytes]:
    if body is not None and file is not None:
        fail(ExitCode.USAGE, "give the body as an argument or with --file, not both")
    if body is not None:
        data = body.encode("utf-8")
    elif file is not None:
        data = cast("Any", file).read()
    elif not sys.stdin.isatty():
        data = sys.stdin.buffer.read()
    else:
        fail(
            ExitCode.USAGE,
            "no body: give it as an argument, with --file FILE, or on stdin",
            "an empty message is sent with ''",
        )
    if not lines:
        return [data]
    return data.splitlines()


@main.command()
@connection_options
@click.argument("destination")
@click.argument("body", required=False)
@click.option(
    "-f",
    "--file",
    type=click.File("rb"),
    help="Read the body from FILE ('-' for stdin).",
)
@click.option("--lines", is_flag=True, help="Send each line of the body as a message.")
@_header_option("A header of every message (repeatable).")
@click.option("--persistent", is_flag=True, help="Ask the broker to store them (persistent:true).")
@click.option("--content-type", help="The content-type header.")
@click.option(
    "--receipt/--no-receipt",
    default=True,
    show_default=True,
    help="Wait for the broker's receipt of every message: proof that it has it.",
)
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Send the message(s) this many times.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@handled
def send(**params: Any) -> None:
    r"""Send a message to DESTINATION: the BODY argument, a --file, or stdin.

    \b
      stompctl send /queue/orders 'hello'
      stompctl send /queue/orders --lines --file orders.txt
      echo '{"id": 1}' | stompctl send /queue/orders --content-type application/json
    """
    options = take_connection_options(params)
    destination: str = params["destination"]
    bodies = _read_bodies(params["body"], params["file"], lines=params["lines"])
    headers = list(params["headers"])
    if params["persistent"]:
        headers.append(("persistent", "true"))
    if params["content_type"]:
        headers.append(("content-type", params["content_type"]))
    count: int = params["count"]
    receipt: bool = params["receipt"]
    total = len(bodies) * count
    out = _output.console()
    with connected_client(options) as client, _output.progress(_output.console(stderr=True)) as bar:
        task = bar.add_task(f"sending to {destination}", total=total)
        for _ in range(count):
            for body in bodies:
                client.send(destination, body, headers=headers, receipt=receipt)
                bar.advance(task)
    if not params["quiet"]:
        plural = "message" if total == 1 else "messages"
        proof = (
            " (each confirmed by a receipt)" if receipt and total > 1 else " (receipt confirmed)"
        )
        out.print(f"sent {total} {plural} to {destination}{proof if receipt else ''}")


# -- tail -----------------------------------------------------------------------------------------


@main.command()
@connection_options
@click.argument("destination")
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=1),
    help="Stop after this many messages (exit 6 if fewer came before --timeout).",
)
@click.option(
    "-t",
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds without a message.",
)
@click.option(
    "--ack",
    type=click.Choice(["auto", "client", "client-individual"]),
    help="The subscription's ack mode. Default: client-individual (client on STOMP 1.0), "
    "each message ACKed once printed, so messages the broker sent ahead are not lost when "
    "tail stops; auto lets the broker count every message sent as consumed.",
)
@click.option(
    "--nack",
    is_flag=True,
    help="NACK each message instead (STOMP 1.1+): RabbitMQ puts it back at once, ActiveMQ "
    "moves a persistent one to its dead-letter queue.",
)
@click.option(
    "--peek",
    is_flag=True,
    help="Acknowledge nothing: the broker takes the messages back when tail disconnects.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--raw", is_flag=True, help="The frames as on the wire.")
@click.option("--id", "subscription_id", help="The subscription id.")
@_header_option("A SUBSCRIBE header, such as selector:... (repeatable).")
@handled
def tail(**params: Any) -> None:
    r"""Print the messages of DESTINATION as they arrive (Ctrl-C stops).

    \b
      stompctl tail /queue/orders --count 10 --timeout 5
      stompctl tail /topic/prices --json | jq .body
    """
    options = take_connection_options(params)
    destination: str = params["destination"]
    count: int | None = params["count"]
    timeout: float | None = params["timeout"]
    nack: bool = params["nack"]
    peek: bool = params["peek"]
    if nack and peek:
        fail(ExitCode.USAGE, "--nack and --peek exclude each other")
    if params["as_json"] and params["raw"]:
        fail(ExitCode.USAGE, "--json and --raw exclude each other")
    chosen = cast("AckMode | None", params["ack"])
    if (nack or peek) and chosen == "auto":
        fail(ExitCode.USAGE, "--nack and --peek need a client ack mode, not --ack auto")
    out = _output.console()
    received = 0
    with connected_client(options) as client:
        if nack and client.version is Version.V1_0:
            fail(ExitCode.USAGE, "NACK needs STOMP 1.1 or later; the broker speaks 1.0")
        ack: AckMode = chosen or (
            "client" if client.version is Version.V1_0 else "client-individual"
        )
        client.subscribe(
            destination, ack=ack, headers=list(params["headers"]), id=params["subscription_id"]
        )
        while count is None or received < count:
            message = client.receive(timeout=timeout)
            if message is None:
                break
            received += 1
            _print_message(
                out, message, received, client, json=params["as_json"], raw=params["raw"]
            )
            if nack:
                client.nack(message)
            elif ack != "auto" and not peek:
                client.ack(message)
    if count is not None and received < count:
        fail(ExitCode.TIMEOUT, f"{received} of {count} messages within {timeout:g} s")


def _print_message(
    out: Any, message: MessageReceived, number: int, client: Client, *, json: bool, raw: bool
) -> None:
    if json:
        sys.stdout.write(_output.message_json(message) + "\n")
    elif raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(_output.message_wire(message, client.version or Version.V1_2))
    else:
        out.print(_output.message_lines(message, number))
    sys.stdout.flush()


# -- ping -----------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@main.command()
@connection_options
@handled
def ping(**params: Any) -> None:
    """Connect, show what the broker said, and time CONNECTED and a receipt.

    The receipt is DISCONNECT's: a round trip that changes nothing on the broker.
    """
    options = take_connection_options(params)
    out = _output.console()
    client = make_client(options)
    started = time.perf_counter()
    connected = connect(client, options)
    connect_time = time.perf_counter() - started
    broker = client.broker
    started = time.perf_counter()
    client.disconnect()
    receipt_time = time.perf_counter() - started
    out.print(f"[bold green]connected[/] to {broker} in {_ms(connect_time)}")
    _print_connected(out, connected)
    out.print(f"  receipt      {_ms(receipt_time)} (DISCONNECT)")


def _print_connected(out: Any, connected: Connected) -> None:
    send, receive = connected.heart_beat
    out.print(f"  version      STOMP {connected.version.value}")
    out.print(f"  server       {connected.server or '(not said)'}")
    out.print(f"  session      {connected.session_id or '(not said)'}")
    out.print(f"  heart-beat   send every {send} ms, expect every {receive} ms (0: none)")


@main.command()
@connection_options
@handled
def doctor(**params: Any) -> None:
    """Check each step to a working connection, and say what to do about a failure.

    For every broker of the URI: name resolution, TCP, the TLS handshake and the
    certificate (ssl://), CONNECT and CONNECTED, and a receipt round trip, each timed.
    A failed step explains itself: the broker's ERROR text, and a hint for the usual
    mistakes (wrong port, TLS to a plain port or plain text to a TLS port, an untrusted
    certificate, bad credentials, a wrong virtual host).
    """
    from stomp_cli._doctor import Doctor  # noqa: PLC0415 - only this command needs it

    options = take_connection_options(params)
    code = Doctor(options, _output.console()).run()
    if code is not ExitCode.OK:
        sys.exit(int(code))


@main.command()
@connection_options
@click.argument("destination", required=False)
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Messages to send and receive.",
)
@click.option(
    "--size", type=click.IntRange(min=0), default=100, show_default=True, help="Body bytes."
)
@click.option(
    "--ack",
    type=click.Choice(["auto", "client", "client-individual"]),
    default="auto",
    show_default=True,
    help="The consumer's ack mode (client: one ACK per 100 messages).",
)
@click.option("--persistent", is_flag=True, help="Send persistent:true messages.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Give up after this many seconds without a message (exit 6).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@handled
def bench(**params: Any) -> None:
    """Send messages through the broker and receive them back: rate, latency, CPU.

    A consumer subscribes to DESTINATION (default: a new queue
    /queue/stompctl-bench-<random>), a producer in the same process sends --count
    messages of --size bytes (a receipt for the last one), and the figures are printed
    as a table, or as JSON with --json. Latency is from the producer's write to the
    consumer's read, on this machine's clock.
    """
    import uuid  # noqa: PLC0415

    from rich.table import Table  # noqa: PLC0415

    from stomp_cli._bench import run_bench  # noqa: PLC0415

    options = take_connection_options(params)
    destination = params["destination"] or f"/queue/stompctl-bench-{uuid.uuid4().hex[:12]}"
    count: int = params["count"]
    err = _output.console(stderr=True)
    with _output.progress(err) as bar:
        task = bar.add_task("received", total=count)
        result = run_bench(
            options,
            destination,
            count=count,
            size=params["size"],
            ack=params["ack"],
            persistent=params["persistent"],
            idle_timeout=params["timeout"],
            on_received=lambda n: bar.update(task, completed=n),
        )
    if params["as_json"]:
        import json  # noqa: PLC0415

        sys.stdout.write(json.dumps({"destination": destination, **result.as_dict()}) + "\n")
        return
    table = Table(title=f"{count} messages of {result.size} bytes through {destination}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("messages/s", f"{result.rate:,.0f}")
    table.add_row("latency p50", f"{result.latency_p50_ms:.2f} ms")
    table.add_row("latency p99", f"{result.latency_p99_ms:.2f} ms")
    table.add_row("latency max", f"{result.latency_max_ms:.2f} ms")
    table.add_row("client CPU", f"{result.cpu_seconds:.2f} s")
    table.add_row("CPU per message", f"{result.cpu_seconds / count * 1e6:.0f} us")
    table.add_row("ack, persistent", f"{result.ack}, {'yes' if result.persistent else 'no'}")
    _output.console().print(table)


@main.command()
@connection_options
@click.option(
    "--history",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The history file (default: $XDG_STATE_HOME/stompctl/history).",
)
@handled
def shell(**params: Any) -> None:
    """An interactive session: send, subscribe, ack, transactions; messages show as they come.

    Type help for the commands. Lines can also be piped in, one command a line.
    """
    from stomp_cli._shell import default_history, run_shell  # noqa: PLC0415

    history: Path = params.pop("history") or default_history()
    options = take_connection_options(params)
    with connected_client(options) as client:
        run_shell(client, _output.console(), history=history)


def run() -> None:
    """Run ``stompctl`` (the console script and ``python -m stomp_cli``)."""
    main(prog_name="stompctl")

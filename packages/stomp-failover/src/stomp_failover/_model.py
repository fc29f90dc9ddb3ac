"""The immutable model of a failover URI: brokers and failover options, validated when built."""

from __future__ import annotations

import difflib
import functools
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import quote

from stomp_failover._errors import UriError

Scheme = Literal["tcp", "ssl", "ws", "wss"]
"""The transports a broker URI may name: plain TCP, TCP with TLS, and STOMP over WebSocket
(``ws``) and over WebSocket with TLS (``wss``)."""

SCHEMES: tuple[Scheme, ...] = ("tcp", "ssl", "ws", "wss")
"""Every scheme a broker URI may name."""

DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({"ws": 80, "wss": 443})
"""The port of a broker URI that gives none (WebSocket only, as RFC 6455 says)."""

BROKER_OPTION_NAMES = ("vhost", "serverHostname")
"""The per-broker query options this package accepts (see the README)."""

FAILOVER_OPTION_NAMES = (
    "initialReconnectDelay",
    "maxReconnectDelay",
    "useExponentialBackOff",
    "backOffMultiplier",
    "reconnectDelayExponent",
    "maxReconnectAttempts",
    "startupMaxReconnectAttempts",
    "reconnectDelayJitter",
    "randomize",
    "priorityBackup",
    "priorityURIs",
)
"""The failover options this package accepts (``reconnectDelayExponent`` is an alias)."""

# Options of ActiveMQ's failover transport that only make sense inside ActiveMQ's own
# client (OpenWire state tracking, backups held open, broker-pushed URI updates).
_ACTIVEMQ_ONLY = frozenset(
    {
        "backup",
        "backupPoolSize",
        "maxCacheSize",
        "rebalanceUpdateURIs",
        "reconnectSupported",
        "timeout",
        "trackMessages",
        "trackTransactionProducers",
        "updateURIsSupported",
        "updateURIsURL",
        "warnAfterReconnectAttempts",
    }
)

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_USERINFO = re.compile(r"(?:(?<=://)|^)([^:@/]*):(?!//)(?:(?!://).)*@", re.DOTALL)


def redact(text: str) -> str:
    """Replace the password of any ``user:password@`` in text by ``***``."""
    return _USERINFO.sub(r"\1:***@", text)


def format_ms(seconds: float) -> str:
    """Seconds as milliseconds, the unit of the URI, with at most three decimals."""
    return f"{seconds * 1000:.3f}".rstrip("0").rstrip(".")


def unknown_option(name: str, known: Iterable[str]) -> UriError:
    """The error for an option name this package does not know, with a suggestion."""
    if name in _ACTIVEMQ_ONLY or name.startswith("nested."):
        return UriError(
            f"option {name!r} of ActiveMQ's failover transport is not supported here",
            part=name,
        )
    message = f"unknown option {name!r}"
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return UriError(message, part=name)


def check_host(host: str) -> str:
    """Validate a host name or address and return it normalized.

    Host names are lower-cased; IPv6 addresses (given without brackets) are compressed.
    """
    if not host:
        raise UriError("missing host", part=host)
    if host.startswith("[") or host.endswith("]"):
        raise UriError(f"give the IPv6 address {host!r} without brackets", part=host)
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise UriError(f"invalid IPv6 address {host!r}", part=host) from None
    if len(host) > 253 or _HOSTNAME.fullmatch(host) is None:
        raise UriError(f"invalid host name {host!r}", part=host)
    return host.lower()


def _no_options() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Broker:
    """One broker of a failover URI: where to connect, and how.

    ``str(broker)`` is its URI with the password shown as ``***``; the password is left
    out of ``repr(broker)``.

    Attributes:
        scheme: ``"tcp"`` for plain TCP, ``"ssl"`` for TCP with TLS, ``"ws"`` for STOMP
            over WebSocket and ``"wss"`` for STOMP over WebSocket with TLS.
        host: Host name (lower-cased) or IP address; an IPv6 address is held without
            brackets, compressed (``"::1"``).
        port: TCP port, 1 to 65535.
        options: The per-broker query options, read-only, in the order written:
            ``vhost`` (the STOMP ``host`` header to send, for example a RabbitMQ virtual
            host) and ``serverHostname`` (``ssl`` and ``wss`` only: the TLS server name to
            send and verify instead of `host`).
        username: The user name of ``user:password@host``, percent-decoded, or None.
        password: The password of ``user:password@host``, percent-decoded, or None.
        path: The HTTP path of the WebSocket upgrade (``ws`` and ``wss`` only, ``"/"``
            when the URI gives none); ``""`` for ``tcp`` and ``ssl``.
    """

    scheme: Scheme
    host: str
    port: int
    options: Mapping[str, str] = field(default_factory=_no_options, hash=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    path: str = ""

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise UriError(
                f"unsupported scheme {self.scheme!r}: use tcp, ssl, ws or wss", part=self.scheme
            )
        if self.scheme in ("ws", "wss"):
            path = self.path or "/"
            if not path.startswith("/") or any(c in path for c in " #?\r\n\t"):
                raise UriError(
                    f"invalid WebSocket path {path!r}: expected /segments, without query",
                    part=path,
                )
            object.__setattr__(self, "path", path)
        elif self.path:
            raise UriError(
                f"unexpected path {self.path!r}: only ws:// and wss:// brokers have one",
                part=self.path,
            )
        object.__setattr__(self, "host", check_host(self.host))
        port = self.port
        if type(port) is not int or not 1 <= port <= 65535:  # bool is no port
            raise UriError(f"invalid port {port!r}: expected 1 to 65535", part=str(port))
        options = dict(self.options)
        for name, value in options.items():
            self._check_option(name, value)
        object.__setattr__(self, "options", MappingProxyType(options))
        if self.username == "":
            raise UriError("empty user name before '@'", part=redact(str(self)))
        if self.password is not None and self.username is None:
            raise UriError("a password needs a user name", part=self.host)

    def _check_option(self, name: str, value: str) -> None:
        part = f"{name}={value}"
        if name not in BROKER_OPTION_NAMES:
            raise unknown_option(name, BROKER_OPTION_NAMES)
        if not value:
            raise UriError(f"option {name!r} needs a value", part=part)
        if name == "serverHostname":
            if not self.tls:
                raise UriError(
                    "option 'serverHostname' applies to ssl:// and wss:// brokers only",
                    part=part,
                )
            check_host(value)

    def __reduce__(self) -> tuple[Any, ...]:
        # The read-only options mapping cannot be pickled: rebuild from a plain dict.
        rebuild = functools.partial(
            Broker,
            scheme=self.scheme,
            host=self.host,
            port=self.port,
            options=dict(self.options),
            username=self.username,
            password=self.password,
            path=self.path,
        )
        return (rebuild, ())

    @property
    def tls(self) -> bool:
        """Whether the connection is TLS (``ssl`` and ``wss``)."""
        return self.scheme in {"ssl", "wss"}

    @property
    def websocket(self) -> bool:
        """Whether STOMP goes over WebSocket (``ws`` and ``wss``)."""
        return self.scheme in {"ws", "wss"}

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, ready for ``socket.create_connection``."""
        return (self.host, self.port)

    def virtual_host(self, default: str | None = None) -> str:
        """The STOMP ``host`` header for this broker.

        Its ``vhost`` option, else *default* (the client's setting), else its host.
        """
        return self.options.get("vhost") or default or self.host

    def server_name(self, default: str | None = None) -> str:
        """The name TLS verifies and sends as SNI for this broker.

        Its ``serverHostname`` option, else *default* (the client's setting), else its host.
        """
        return self.options.get("serverHostname") or default or self.host

    def credentials(
        self, login: str | None = None, passcode: str | None = None
    ) -> tuple[str | None, str | None]:
        """``(login, passcode)`` for this broker.

        Its own ``user:password@`` when the URI gives a user, else the client's *login*
        and *passcode*.
        """
        if self.username is not None:
            return (self.username, self.password)
        return (login, passcode)

    def __str__(self) -> str:
        host = f"[{self.host.replace('%', '%25')}]" if ":" in self.host else self.host
        user = ""
        if self.username is not None:
            secret = "" if self.password is None else ":***"
            user = f"{quote(self.username, safe='')}{secret}@"
        text = f"{self.scheme}://{user}{host}:{self.port}{self.path}"
        if self.options:
            text += "?" + "&".join(
                f"{quote(name, safe='')}={quote(value, safe='')}"
                for name, value in self.options.items()
            )
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverOptions:
    """The failover options of a URI, with ActiveMQ's names in the URI and its defaults.

    Delays are seconds here and milliseconds in the URI, as ActiveMQ writes them
    (``initialReconnectDelay=10`` is ``initial_reconnect_delay=0.01``). The README
    explains each option; a budget of ``-1`` means no limit.

    Attributes:
        initial_reconnect_delay: ``initialReconnectDelay``: the delay before the first
            reconnect pass, and the delay a successful connection resets to. Default 0.01.
        max_reconnect_delay: ``maxReconnectDelay``: the ceiling of the back-off (jitter
            comes on top). Default 30.0; not below `initial_reconnect_delay`.
        use_exponential_back_off: ``useExponentialBackOff``: multiply the delay by
            `back_off_multiplier` after each pass; if False it stays the initial delay.
            Default True.
        back_off_multiplier: ``backOffMultiplier`` (alias ``reconnectDelayExponent``):
            at least 1. Default 2.0.
        max_reconnect_attempts: ``maxReconnectAttempts``: passes over the brokers allowed
            after a lost connection; 0 never reconnects, -1 (default) never gives up.
        startup_max_reconnect_attempts: ``startupMaxReconnectAttempts``: passes allowed
            after the first one, before any connection succeeded; 0 tries each broker
            once, -1 (default, as ActiveMQ) never gives up.
        reconnect_delay_jitter: ``reconnectDelayJitter``: up to this much is added at
            random to each delay. Default 0.0 (stompest's option; not in ActiveMQ).
        randomize: ``randomize``: shuffle the brokers for every pass. Default True.
        priority_backup: ``priorityBackup``: try the priority brokers first in every
            pass. Default False.
        priority_uris: ``priorityURIs``: the priority brokers, matched by host and port;
            empty means the first broker of the URI. Needs `priority_backup`.
    """

    initial_reconnect_delay: float = 0.01
    max_reconnect_delay: float = 30.0
    use_exponential_back_off: bool = True
    back_off_multiplier: float = 2.0
    max_reconnect_attempts: int = -1
    startup_max_reconnect_attempts: int = -1
    reconnect_delay_jitter: float = 0.0
    randomize: bool = True
    priority_backup: bool = False
    priority_uris: tuple[Broker, ...] = ()

    def __post_init__(self) -> None:
        for name, seconds in (
            ("initialReconnectDelay", self.initial_reconnect_delay),
            ("maxReconnectDelay", self.max_reconnect_delay),
            ("reconnectDelayJitter", self.reconnect_delay_jitter),
        ):
            part = f"{name}={format_ms(seconds)}"
            if not math.isfinite(seconds):
                raise UriError(
                    f"{name} must be a finite number of milliseconds: {part!r}", part=part
                )
            if seconds < 0:
                raise UriError(f"{name} must not be negative: {part!r}", part=part)
        if self.initial_reconnect_delay > self.max_reconnect_delay:
            raise UriError(
                f"initialReconnectDelay ({format_ms(self.initial_reconnect_delay)} ms) exceeds"
                f" maxReconnectDelay ({format_ms(self.max_reconnect_delay)} ms)",
                part=f"initialReconnectDelay={format_ms(self.initial_reconnect_delay)}",
            )
        multiplier = self.back_off_multiplier
        if not (math.isfinite(multiplier) and multiplier >= 1):
            part = f"backOffMultiplier={multiplier!r}"
            raise UriError(
                f"backOffMultiplier must be a finite number of at least 1: {part!r}", part=part
            )
        for name, budget in (
            ("maxReconnectAttempts", self.max_reconnect_attempts),
            ("startupMaxReconnectAttempts", self.startup_max_reconnect_attempts),
        ):
            if type(budget) is not int or budget < -1:
                part = f"{name}={budget!r}"
                raise UriError(
                    f"{name} must be -1 (no limit) or a whole number of at least 0: {part!r}",
                    part=part,
                )
        object.__setattr__(self, "priority_uris", tuple(self.priority_uris))
        if self.priority_uris and not self.priority_backup:
            raise UriError(
                "priorityURIs has no effect without priorityBackup=true",
                part="priorityURIs=" + ",".join(str(b) for b in self.priority_uris),
            )

    def _query_items(self) -> dict[str, str]:
        """Every option as the URI writes it: name to value text."""
        return {
            "initialReconnectDelay": format_ms(self.initial_reconnect_delay),
            "maxReconnectDelay": format_ms(self.max_reconnect_delay),
            "useExponentialBackOff": _bool_text(self.use_exponential_back_off),
            "backOffMultiplier": repr(float(self.back_off_multiplier)),
            "maxReconnectAttempts": str(self.max_reconnect_attempts),
            "startupMaxReconnectAttempts": str(self.startup_max_reconnect_attempts),
            "reconnectDelayJitter": format_ms(self.reconnect_delay_jitter),
            "randomize": _bool_text(self.randomize),
            "priorityBackup": _bool_text(self.priority_backup),
            "priorityURIs": ",".join(str(broker) for broker in self.priority_uris),
        }


def _bool_text(value: bool) -> str:  # noqa: FBT001
    return "true" if value else "false"

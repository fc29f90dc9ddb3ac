"""Failover URIs: the parser of ActiveMQ's failover syntax and the `FailoverUri` it builds."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote

from stomp_failover._errors import UriError
from stomp_failover._model import (
    BROKER_OPTION_NAMES,
    DEFAULT_PORTS,
    FAILOVER_OPTION_NAMES,
    Broker,
    FailoverOptions,
    Scheme,
    redact,
    unknown_option,
)
from stomp_failover._policy import ReconnectPolicy

if TYPE_CHECKING:
    from stomp_failover._policy import RandomSource

_T = TypeVar("_T")

_PREFIX = re.compile(r"failover:(?://)?", re.IGNORECASE)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# A ',' separates brokers when a scheme, another ',' or the end follows it; any other ','
# belongs to the broker (an unencoded ',' in a password, or a typo reported as such).
_BROKER_SEPARATOR = re.compile(r",(?=[A-Za-z][A-Za-z0-9+.-]*://|,|$)")
# Options are joined by '&' (ActiveMQ); a ',' also separates them (stompest) when what
# follows it reads ``name=``: the ',' inside ``priorityURIs=tcp://a:1,tcp://b:2`` does not.
_OPTION_SEPARATOR = re.compile(r",(?=[A-Za-z][A-Za-z0-9._]*=)")
_PORT = re.compile(r"[0-9]{1,5}")
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SCHEMES: Mapping[str, Scheme] = {"tcp": "tcp", "ssl": "ssl", "ws": "ws", "wss": "wss"}


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverUri:
    """A parsed failover URI: the brokers, in the order written, and the failover options.

    Build one with `FailoverUri.parse`, or directly from `Broker` and `FailoverOptions`.
    ``str(uri)`` is its canonical URI (options that differ from the defaults, joined by
    ``&``), with passwords shown as ``***``.

    Attributes:
        brokers: The brokers, at least one, none listed twice.
        options: The failover options.
    """

    brokers: tuple[Broker, ...]
    options: FailoverOptions = field(default_factory=FailoverOptions)

    def __post_init__(self) -> None:
        brokers = tuple(self.brokers)
        object.__setattr__(self, "brokers", brokers)
        if not brokers:
            raise UriError("a failover URI needs at least one broker", part="")
        seen: set[Broker] = set()
        for broker in brokers:
            if broker in seen:
                raise UriError(f"broker {str(broker)!r} is listed twice", part=str(broker))
            seen.add(broker)
        addresses = {broker.address for broker in brokers}
        for broker in self.options.priority_uris:
            if broker.address not in addresses:
                raise UriError(
                    f"priorityURIs names {str(broker)!r}, which is not one of the brokers",
                    part=str(broker),
                )

    @classmethod
    def parse(cls, text: str) -> FailoverUri:
        """Parse a failover URI.

        Accepts ``failover:(uri1,...,uriN)?options``, ``failover:uri1,...,uriN?options``
        and a bare ``tcp://host:port?options`` or ``ssl://host:port?options``; a
        WebSocket broker is ``ws://host:port/path`` or ``wss://host:port/path``; options
        are joined by ``&`` or, as stompest wrote them, by ``,``. The README has the
        grammar and every option.

        Args:
            text: The URI; surrounding white space is ignored.

        Returns:
            The brokers and options of the URI.

        Raises:
            UriError: The URI is malformed, names an unknown option or has a bad value;
                the message quotes the offending part, never a password.
        """
        return _parse(text)

    def policy(self, *, rng: RandomSource | None = None) -> ReconnectPolicy:
        """A new `ReconnectPolicy` over this URI (same as ``ReconnectPolicy(uri, rng=rng)``).

        Args:
            rng: The random source for shuffling and jitter; a fresh ``random.Random()``
                if None. Pass ``random.Random(seed)`` for a repeatable sequence.

        Returns:
            A policy at the start of its startup phase.
        """
        return ReconnectPolicy(self, rng=rng)

    def __str__(self) -> str:
        text = "failover:(" + ",".join(str(broker) for broker in self.brokers) + ")"
        defaults = FailoverOptions()._query_items()
        changed = [
            f"{name}={value}"
            for name, value in self.options._query_items().items()
            if value != defaults[name]
        ]
        return text + ("?" + "&".join(changed) if changed else "")


def _parse(text: str) -> FailoverUri:
    given: object = text  # callers without a type checker may pass anything
    if not isinstance(given, str):
        msg = f"a failover URI is a str, not {type(given).__name__}"
        raise TypeError(msg)
    source = text.strip()
    if not source:
        raise UriError("empty failover URI", part=text)
    prefix = _PREFIX.match(source)
    body = source[prefix.end() :] if prefix else source
    if body.startswith("("):
        close = body.find(")")
        if close == -1:
            where = redact(source)
            raise UriError(f"missing ')' after the broker list in {where!r}", part=where)
        inner, rest = body[1:close], body[close + 1 :]
        if "(" in inner:
            where = redact(inner)
            raise UriError(f"unexpected '(' inside the broker list {where!r}", part=where)
        if rest and not rest.startswith("?"):
            where = redact(rest)
            raise UriError(f"unexpected {where!r} after ')': expected '?options'", part=where)
        brokers = [_parse_broker(segment, with_query=True) for segment in _split_brokers(inner)]
        pairs = _split_query(rest[1:]) if rest else {}
        return _build(brokers, pairs, broker_options_allowed=False)
    if "(" in body or ")" in body:
        where = redact(source)
        raise UriError(
            f"unbalanced parenthesis in {where!r}: write failover:(uri1,...,uriN)?options",
            part=where,
        )
    head, question, query = body.partition("?")
    brokers = [_parse_broker(segment, with_query=False) for segment in _split_brokers(head)]
    pairs = _split_query(query) if question else {}
    return _build(brokers, pairs, broker_options_allowed=len(brokers) == 1)


def _build(
    brokers: list[Broker],
    pairs: dict[str, str],
    *,
    broker_options_allowed: bool,
) -> FailoverUri:
    failover: dict[str, str] = {}
    per_broker: dict[str, str] = {}
    for name, value in pairs.items():
        if name in FAILOVER_OPTION_NAMES:
            failover[name] = value
        elif name in BROKER_OPTION_NAMES:
            if not broker_options_allowed:
                raise UriError(
                    f"{name!r} is a per-broker option: write it after its broker,"
                    f" inside failover:(...), as in failover:(tcp://host:61613?{name}=...)",
                    part=f"{name}={value}",
                )
            per_broker[name] = value
        else:
            raise unknown_option(name, FAILOVER_OPTION_NAMES + BROKER_OPTION_NAMES)
    if per_broker:
        brokers[0] = dataclasses.replace(brokers[0], options=per_broker)
    return FailoverUri(brokers=tuple(brokers), options=_failover_options(failover))


def _split_brokers(text: str) -> list[str]:
    if not text:
        raise UriError("no broker given", part=text)
    return _BROKER_SEPARATOR.split(text)


def _split_query(query: str) -> dict[str, str]:
    if not query:
        raise UriError("empty option list after '?'", part="?")
    pairs: dict[str, str] = {}
    for chunk in query.split("&"):
        for piece in _OPTION_SEPARATOR.split(chunk):
            name, equals, value = piece.partition("=")
            if not piece:
                where = redact(query)
                raise UriError(f"empty option in {where!r} (two separators in a row?)", part=where)
            if not equals or not name:
                raise UriError(f"option {redact(piece)!r} is not name=value", part=redact(piece))
            name, value = unquote(name), unquote(value)
            if name in pairs:
                raise UriError(f"option {name!r} is given twice", part=name)
            pairs[name] = value
    return pairs


def _parse_broker(segment: str, *, with_query: bool) -> Broker:
    where = redact(segment)
    if not segment:
        raise UriError("empty broker in the list (a stray ',')", part=segment)
    match = _SCHEME.match(segment)
    if match is None:
        raise UriError(
            f"broker {where!r} has no scheme: write tcp://host:port or ssl://host:port",
            part=where,
        )
    scheme = _SCHEMES.get(match[1].lower())
    if scheme is None:
        raise UriError(
            f"unsupported scheme {match[1]!r} in {where!r}: use tcp://, ssl://, ws:// or wss://",
            part=match[1],
        )
    rest = segment[match.end() :]
    query: str | None = None
    if with_query:
        rest, question, after = rest.partition("?")
        query = after if question else None
    if "#" in rest:
        raise UriError(f"unexpected '#' fragment in {where!r}", part=where)
    authority, slash, path = rest.partition("/")
    websocket = scheme in ("ws", "wss")
    if path and not websocket:
        raise UriError(
            f"unexpected path '/{path}' in {where!r} (only ws:// and wss:// brokers have one)",
            part=where,
        )
    userinfo, at, hostport = authority.rpartition("@")
    username = password = None
    if "@" in userinfo:
        raise UriError(
            f"more than one '@' in {where!r}: write '@' in a user name or password as %40",
            part=where,
        )
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user)
        password = unquote(secret) if colon else None
        if not username:
            raise UriError(f"empty user name before '@' in {where!r}", part=where)
    host, port = _split_hostport(hostport, where, DEFAULT_PORTS.get(scheme))
    return Broker(
        scheme=scheme,
        host=host,
        port=port,
        options=_split_query(query) if query is not None else {},
        username=username,
        password=password,
        path=slash + path if websocket else "",
    )


def _split_hostport(hostport: str, where: str, default_port: int | None) -> tuple[str, int]:
    if "," in hostport:
        raise UriError(
            f"unexpected ',' in {where!r}: give every broker of the list its scheme,"
            " as in tcp://a:61613,tcp://b:61613",
            part=hostport,
        )
    if hostport.startswith("["):
        close = hostport.find("]")
        if close == -1:
            raise UriError(f"missing ']' after the IPv6 address in {where!r}", part=hostport)
        host, after = unquote(hostport[1:close]), hostport[close + 1 :]
        if ":" not in host:
            raise UriError(f"only an IPv6 address goes in brackets, in {where!r}", part=host)
        if not after and default_port is not None:
            return host, default_port
        if not after:
            raise UriError(f"missing port in {where!r}", part=where)
        if not after.startswith(":"):
            raise UriError(f"unexpected {after!r} after ']' in {where!r}", part=after)
        port_text = after[1:]
    else:
        if hostport.count(":") > 1:
            raise UriError(
                f"an IPv6 address goes in brackets, as in tcp://[::1]:61613, in {where!r}",
                part=hostport,
            )
        host, colon, port_text = hostport.partition(":")
        if not host:
            raise UriError(f"missing host in {where!r}", part=where)
        if not colon and default_port is not None:
            return host, default_port
        if not colon:
            raise UriError(f"missing port in {where!r}", part=where)
    if _PORT.fullmatch(port_text) is None or not 1 <= int(port_text) <= 65535:
        raise UriError(
            f"invalid port {port_text!r} in {where!r}: expected 1 to 65535", part=port_text
        )
    return host, int(port_text)


def _failover_options(values: dict[str, str]) -> FailoverOptions:
    if "backOffMultiplier" in values and "reconnectDelayExponent" in values:
        raise UriError(
            "give backOffMultiplier or its alias reconnectDelayExponent, not both",
            part="reconnectDelayExponent=" + values["reconnectDelayExponent"],
        )
    multiplier = "reconnectDelayExponent" if "reconnectDelayExponent" in values else None
    default = FailoverOptions()

    def get(name: str, convert: Callable[[str, str], _T], fallback: _T) -> _T:
        return convert(name, values[name]) if name in values else fallback

    return FailoverOptions(
        initial_reconnect_delay=get("initialReconnectDelay", _ms, default.initial_reconnect_delay),
        max_reconnect_delay=get("maxReconnectDelay", _ms, default.max_reconnect_delay),
        use_exponential_back_off=get(
            "useExponentialBackOff", _bool, default.use_exponential_back_off
        ),
        back_off_multiplier=get(
            multiplier or "backOffMultiplier", _float, default.back_off_multiplier
        ),
        max_reconnect_attempts=get("maxReconnectAttempts", _int, default.max_reconnect_attempts),
        startup_max_reconnect_attempts=get(
            "startupMaxReconnectAttempts", _int, default.startup_max_reconnect_attempts
        ),
        reconnect_delay_jitter=get("reconnectDelayJitter", _ms, default.reconnect_delay_jitter),
        randomize=get("randomize", _bool, default.randomize),
        priority_backup=get("priorityBackup", _bool, default.priority_backup),
        priority_uris=get("priorityURIs", _brokers, default.priority_uris),
    )


def _bad_value(name: str, text: str, problem: str) -> UriError:
    part = f"{name}={text}"
    return UriError(f"{name} {problem}: {part!r}", part=part)


def _ms(name: str, text: str) -> float:
    if _DECIMAL.fullmatch(text) is None:
        raise _bad_value(name, text, "expects a number of milliseconds")
    return float(text) / 1000


def _int(name: str, text: str) -> int:
    if _INTEGER.fullmatch(text) is None:
        raise _bad_value(name, text, "expects a whole number")
    return int(text)


def _float(name: str, text: str) -> float:
    if _NUMBER.fullmatch(text) is None:
        raise _bad_value(name, text, "expects a number")
    return float(text)


def _bool(name: str, text: str) -> bool:
    value = text.lower()
    if value not in ("true", "false"):
        raise _bad_value(name, text, "expects true or false")
    return value == "true"


def _brokers(name: str, text: str) -> tuple[Broker, ...]:
    if not text:
        raise UriError(f"{name} expects a list of broker URIs", part=f"{name}=")
    entries = []
    for segment in _split_brokers(text):
        if "?" in segment:
            raise UriError(f"{name} lists brokers without options", part=redact(segment))
        entries.append(_parse_broker(segment, with_query=False))
    return tuple(entries)

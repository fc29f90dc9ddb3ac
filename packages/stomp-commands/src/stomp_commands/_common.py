"""Shared types and checks of the commands layer: ack modes, header input, version order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal, TypeAlias

from stomp_commands._errors import LocalCommandError
from stomp_frame import Version

__all__ = [
    "ACK_MODES",
    "ALL_VERSIONS",
    "AckMode",
    "Headers",
    "check_headers",
    "extra_headers",
]

AckMode: TypeAlias = Literal["auto", "client", "client-individual"]
"""A SUBSCRIBE ``ack`` mode. Spec 1.2: "The valid values for the ack header are auto,
client, or client-individual" (``client-individual`` is 1.1 and later)."""

ACK_MODES: Final[frozenset[str]] = frozenset({"auto", "client", "client-individual"})
"""Every :data:`AckMode`, for run-time checks."""

Headers: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]]"
"""Extra headers: a mapping, or ``(name, value)`` pairs when a name repeats."""

ALL_VERSIONS: Final[tuple[Version, ...]] = (Version.V1_0, Version.V1_1, Version.V1_2)
"""Every STOMP version, oldest first (the order ``accept-version`` lists them in)."""


def extra_headers(
    command: str, headers: Headers | None, reserved: frozenset[str]
) -> list[tuple[str, str]]:
    """Return the caller's extra headers as pairs, refusing names a parameter controls."""
    if headers is None:
        return []
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    for given in pairs:
        pair: object = given
        if (
            not isinstance(pair, tuple)
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not isinstance(pair[1], str)
        ):
            msg = f"{command} headers must be (str, str) pairs, got a {type(pair).__name__}"
            raise LocalCommandError(msg)
        name = given[0]
        if name in reserved:
            msg = (
                f"the {name!r} header of {command} is set by its own parameter; "
                "do not pass it in headers"
            )
            raise LocalCommandError(msg)
        if not name:
            msg = f"a {command} header name must not be empty"
            raise LocalCommandError(msg)
    return pairs


def check_headers(command: str, version: Version, pairs: list[tuple[str, str]]) -> None:
    r"""Refuse headers that *version* cannot carry for *command* (values are never quoted).

    Spec 1.0 has no escaping, and spec 1.2 says "CONNECT and CONNECTED frames do not
    escape the carriage return, line feed or colon octets": there a line feed or a
    carriage return would end the header early, and a colon in a name would split
    it. Spec 1.1 escapes ``\n``, ``\c`` and ``\\`` but has no escape for a
    carriage return.
    """
    if version is Version.V1_2 and command not in ("CONNECT", "STOMP"):
        return
    text = "".join([name + value for name, value in pairs])
    raw = version is Version.V1_0 or command in ("CONNECT", "STOMP")
    if (
        "\r" not in text
        and not (raw and "\n" in text)
        and (not raw or not any(":" in name for name, _ in pairs))
    ):
        return
    for name, value in pairs:
        if "\r" in name or "\r" in value or (raw and ("\n" in name or "\n" in value)):
            why = (
                "STOMP 1.1 has no escape for a carriage return"
                if not raw
                else _unescaped(command, version)
            )
            msg = f"the {name!r} header of {command} contains a line break, and {why}"
            raise LocalCommandError(msg)
        if raw and ":" in name:
            msg = f"the header name {name!r} of {command} contains a colon, and " + _unescaped(
                command, version
            )
            raise LocalCommandError(msg)


def _unescaped(command: str, version: Version) -> str:
    if command in ("CONNECT", "STOMP"):
        return f"{command} headers are never escaped"
    return f"STOMP {version} cannot escape it"

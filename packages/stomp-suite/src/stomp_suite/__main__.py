"""``python -m stomp_suite``: print the installed version of every layer."""

from __future__ import annotations

from stomp_suite import versions


def main() -> None:
    """Print ``distribution version`` for each layer, bottom up."""
    for dist, version in versions().items():
        print(f"{dist:15} {version}")  # noqa: T201 - a command-line report


if __name__ == "__main__":
    main()

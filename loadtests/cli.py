"""The one `goldenpath` command: a thin dispatcher over verbs.

Each verb's code lives in the package it belongs to and is registered under
the ``goldenpath.verbs`` entry-point group in ``pyproject.toml``; this module
imports none of them directly, so the arrows between packages stay one way.
A verb is a ``main(argv: list[str]) -> int`` function.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import entry_points

Verb = Callable[[list[str]], int]


def _verbs() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group="goldenpath.verbs")}


def _usage(verbs: dict[str, object]) -> str:
    names = ", ".join(sorted(verbs))
    return f"usage: goldenpath VERB [options]   (verbs: {names}; VERB --help for each)"


def main(argv: list[str] | None = None) -> int:
    """Run ``goldenpath VERB ...`` and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbs = _verbs()
    if not args or args[0] in {"-h", "--help"}:
        print(_usage(verbs))
        return 0 if args else 2
    name, rest = args[0], args[1:]
    ep = verbs.get(name)
    if ep is None:
        print(f"goldenpath: unknown verb {name!r}. {_usage(verbs)}", file=sys.stderr)
        return 2
    verb: Verb = ep.load()  # type: ignore[attr-defined]
    return verb(rest)


if __name__ == "__main__":
    raise SystemExit(main())

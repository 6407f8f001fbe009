"""The one `goldenpath` command: a thin dispatcher over verbs.

Each verb's code lives in the package it belongs to and is registered under
the ``goldenpath.verbs`` entry-point group in ``pyproject.toml``; this module
imports none of them directly, so the arrows between packages stay one way.
A verb is a ``main(argv: list[str]) -> int`` function; dispatch, one-line usage
errors and logging are :mod:`resultsformat.cli`'s, the same for every verb.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from resultsformat.cli import Verb, dispatch


def main(argv: list[str] | None = None) -> int:
    """Run ``goldenpath VERB ...`` and return its exit code."""
    verbs = {ep.name: ep.load for ep in entry_points(group="goldenpath.verbs")}
    return dispatch("goldenpath", verbs, argv)


__all__ = ["Verb", "main"]

if __name__ == "__main__":
    raise SystemExit(main())

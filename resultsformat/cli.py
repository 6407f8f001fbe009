"""The one CLI layer of the ``goldenpath`` verbs, shared by every package that has verbs.

* ``OneLineParser``: argparse whose usage error is one line on stderr and exit 2;
* ``usage_error``: the same one line for errors found after parsing;
* ``configure_logging``: every verb logs the same way (stderr, ``LEVEL name: message``;
  level from ``GOLDENPATH_CLI_LOG_LEVEL``, default WARNING, INFO for the backend's own
  ``python -m reference_backend``; ``GOLDENPATH_LOG_LEVEL`` is the backend's setting);
* ``dispatch``: ``PROG VERB [options]`` from a table of verbs, used by ``goldenpath``
  and by ``python -m`` of each package.

It lives in ``resultsformat`` because that is the one package the others may import.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

#: A verb: ``main(argv) -> exit code``.
Verb = Callable[[list[str]], int]
USAGE_EXIT = 2
LOG_LEVEL_VAR = "GOLDENPATH_CLI_LOG_LEVEL"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"{self.prog}: error: {message}\n")


def usage_error(prog: str, message: str) -> int:
    """Print ``PROG: error: MESSAGE`` (one line) on stderr; returns the exit code, 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return USAGE_EXIT


def configure_logging(default: str = "WARNING") -> None:
    """Log records to stderr, one line each, at ``GOLDENPATH_CLI_LOG_LEVEL`` (or ``default``)."""
    name = os.environ.get(LOG_LEVEL_VAR, default).upper()
    level = logging.getLevelName(name)
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def dispatch(
    prog: str,
    verbs: Mapping[str, Callable[[], Verb]],
    argv: Sequence[str] | None = None,
    *,
    log_level: str = "WARNING",
) -> int:
    """Run ``PROG VERB [options]``: the verb's ``main`` is loaded (imported) only when
    chosen. No verb prints the usage and exits 2; ``-h`` prints it and exits 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    usage = (
        f"usage: {prog} VERB [options]   (verbs: {', '.join(sorted(verbs))}; VERB --help for each)"
    )
    if not args or args[0] in ("-h", "--help"):
        print(usage, file=sys.stdout if args else sys.stderr)
        return 0 if args else USAGE_EXIT
    load = verbs.get(args[0])
    if load is None:
        return usage_error(prog, f"unknown verb {args[0]!r}. {usage}")
    configure_logging(log_level)
    return load()(args[1:])

"""``python -m analysis report ...``: the analysis verbs without the ``goldenpath`` dispatcher."""

from __future__ import annotations

from collections.abc import Callable

from resultsformat.cli import Verb, dispatch


def _verb(name: str) -> Callable[[], Verb]:
    def load() -> Verb:
        from analysis import cli

        verb: Verb = getattr(cli, name)
        return verb

    return load


VERBS = {"report": _verb("report_main"), "calibrate": _verb("calibrate_main")}


def main(argv: list[str] | None = None) -> int:
    return dispatch("python -m analysis", VERBS, argv)


if __name__ == "__main__":
    raise SystemExit(main())

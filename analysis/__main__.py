"""``python -m analysis report ...``: the analysis verbs without the ``goldenpath`` dispatcher."""

from __future__ import annotations

import sys

from analysis.cli import calibrate_main, report_main

VERBS = {"report": report_main, "calibrate": calibrate_main}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in VERBS:
        print(f"usage: python -m analysis {{{','.join(VERBS)}}} [options]", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    return VERBS[args[0]](args[1:])


if __name__ == "__main__":
    raise SystemExit(main())

"""``goldenpath run``'s command line: the plan is parsed and checked before Locust is
imported (a usage error is one line, at once); then :mod:`loadtests.runner` runs it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from loadtests.config import ResultsWriteError, UsageError
from loadtests.embedded import BackendError
from loadtests.plan import PROG, RunPlan, build_parser, check_out_dir
from resultsformat.meta import is_completed


def main(argv: Sequence[str] | None = None) -> int:
    """``goldenpath run ...``; exit 0 when every run completed, 1 otherwise (a lost worker,
    a dead backend, a failed write), 2 on bad input."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        plan = RunPlan.from_args(args)
        if args.out is not None:
            outs = [args.out / m for m in ("legacy", "canonical")] if args.compare else [args.out]
            for out in outs:
                check_out_dir(out)
        from loadtests.results import format_summary
        from loadtests.runner import default_out, run_once  # imports Locust (gevent)

        if args.compare:
            base = args.out or default_out("compare")
            results = {}
            for mode in ("legacy", "canonical"):
                print(
                    f"== {mode}: {args.users} users, {args.scenario}, {args.duration}",
                    file=sys.stderr,
                )
                results[mode] = run_once(plan, mode, base / mode)
            for mode, (meta, summary) in results.items():
                print("\n".join(format_summary(mode, summary, meta)))
            print("\nbefore (legacy) vs after (canonical):")
            print("\n".join(_side_by_side(results)))
            return 0 if all(is_completed(m) for m, _ in results.values()) else 1
        out = args.out or default_out(args.factory or "run")
        meta, summary = run_once(plan, args.factory, out)
        print("\n".join(format_summary(meta.get("factory_mode") or "run", summary, meta)))
        if meta["end_reason"] == "write_failed":
            print(f"{PROG}: error: {meta['end_detail']}", file=sys.stderr)
            return 1
        if not is_completed(meta):
            reason, detail = meta["end_reason"], meta["end_detail"]
            print(f"{PROG}: the run did not complete cleanly ({reason}): {detail}", file=sys.stderr)
            return 1
        return 0
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"{PROG}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except ResultsWriteError as exc:  # before the run started: nothing was recorded
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


def _side_by_side(results: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    cols = list(results)
    rows: list[tuple[str, list[str]]] = []

    def cell(summary: dict[str, Any], name: str, key: str, fmt: str) -> str:
        value = summary["names"].get(name, {}).get(key)
        return "-" if value is None else format(value, fmt)

    for label, name, key, fmt in [
        ("golden_path count", "golden_path", "count", "d"),
        ("golden_path failures", "golden_path", "failures", "d"),
        ("golden_path p50 ms", "golden_path", "p50", ".1f"),
        ("golden_path p95 ms", "golden_path", "p95", ".1f"),
        ("golden_path p99 ms", "golden_path", "p99", ".1f"),
        ("response p95 ms", "response", "p95", ".1f"),
    ]:
        rows.append((label, [cell(results[c][1], name, key, fmt) for c in cols]))
    counts = {c: results[c][1]["runs"] for c in cols}
    rows.append(("agent runs failed", [str(counts[c].failed) for c in cols]))
    rows.append(("isolation violations", [str(counts[c].isolation_violations) for c in cols]))
    rows.append(("1011 closes", [str(counts[c].closes_1011) for c in cols]))
    rows.append(("runs timed out", [str(counts[c].by_kind.get("timeout", 0)) for c in cols]))
    width = max(len(r[0]) for r in rows) + 2
    lines = ["".ljust(width) + "".join(c.rjust(14) for c in cols)]
    lines += [label.ljust(width) + "".join(v.rjust(14) for v in vals) for label, vals in rows]
    return lines

"""A load run started from Python: RunPlan -> run -> RunResult, then its summary.

    .venv/bin/python examples/run_from_python.py [OUT_DIR]

Runs 10 users for 5 s against the embedded canonical backend (127.0.0.1 only),
prints what ``goldenpath run`` would, and exits 0 when the run completed with no
failed agent run.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from loadtests import RunPlan, run


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "run"
    plan = RunPlan(users=10, duration_s=5, connection="persistent", out=out, quiet=True)
    result = run(plan)
    runs = result.summary["runs"]  # agent runs, counted by the one counting rule
    print(f"{result.out}: {result.end_reason}, {result.meta['events_rows']} rows")
    print(f"agent runs {runs.runs}, failed {runs.failed}, isolation violations "
          f"{runs.isolation_violations}, 1011 closes {runs.closes_1011}")  # fmt: skip
    return 0 if result.completed and runs.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

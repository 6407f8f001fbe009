"""Detection power: defects injected by the fault server vs failures counted by the harness.

Runs ``goldenpath run --host`` against ``tests/utils/faultserver.py`` (a server
that injects each defect into known runs and keeps the ground truth) in the
per-iteration mode, the persistent mode and with two Locust processes, and
prints a Markdown table: per failure kind, the runs the server hit and the
runs the harness counted. Runs the load cut short (``interrupted``) are left
out of both, as the summary reports them apart.

    .venv/bin/python benchmarks/bench_detection.py [--seconds 10] [--users 8]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.utils.faultserver import (  # noqa: E402
    EXPECTED_KIND,
    FaultServer,
    expected_counts,
    final_outcomes,
)
from tests.utils.servers import serve_in_thread  # noqa: E402

MODES = {
    "per-iteration": [],
    "persistent": ["--connection", "persistent"],
    "2 processes": ["--processes", "2"],
}


def one_mode(extra: list[str], seconds: float, users: int, out: Path) -> dict[str, object]:
    server = FaultServer()
    with serve_in_thread(server.app) as url:
        cmd = [sys.executable, "-m", "loadtests.cli", "run", "--host", url, "--users", str(users),
               "--duration", f"{seconds:g}s", "--response-timeout", "1s", "--out", str(out),
               "--quiet", *extra]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)  # noqa: S603
        truth = httpx.get(f"{url}/truth").json()
    if done.returncode != 0:
        raise SystemExit(f"goldenpath run failed: {done.stderr.strip()[-500:]}")
    final = final_outcomes(pd.read_parquet(out / "events.parquet"))
    injected = expected_counts(truth, final, persistent="persistent" in extra)
    counted = Counter(k for k in final if k is not None and k != "interrupted")
    return {
        "injected": injected,
        "counted": counted,
        "runs": len(final),
        "interrupted": int((final == "interrupted").sum()),
        "missing": len(set(truth["seen"]) - set(final.index)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=8)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="gp-detect-") as tmp:
        for mode, extra in MODES.items():
            print(f"{mode}: {args.users} users, {args.seconds:g} s", file=sys.stderr, flush=True)
            results[mode] = one_mode(extra, args.seconds, args.users, Path(tmp) / mode)
    kinds = sorted(set(EXPECTED_KIND.values()))
    defects = {k: ", ".join(d for d, v in EXPECTED_KIND.items() if v == k) for k in kinds}
    head = "| failure kind | injected as | " + " | ".join(f"{m}: injected / counted" for m in MODES)
    lines = [head + " |", "|---|---|" + "---:|" * len(MODES)]
    for kind in kinds:
        cells = [f"{r['injected'][kind]} / {r['counted'][kind]}" for r in results.values()]
        lines.append(f"| `{kind}` | {defects[kind]} | " + " | ".join(cells) + " |")
    clean = [
        f"{r['counted'].total() - r['injected'].total()}" for r in results.values()
    ]  # failures with no defect behind them
    lines.append("| failures on clean runs | - | " + " | ".join(clean) + " |")
    lines.append(
        "| runs (interrupted) | - | "
        + " | ".join(f"{r['runs']} ({r['interrupted']})" for r in results.values())
        + " |"
    )
    lines.append(
        "| runs the server saw without a row | - | "
        + " | ".join(str(r["missing"]) for r in results.values())
        + " |"
    )
    print("\n".join(lines))
    print(f"\n{platform.machine()}, Python {platform.python_version()}, {args.users} users, "
          f"{args.seconds:g} s per mode")  # fmt: skip
    exact = all(r["injected"] == r["counted"] and not r["missing"] for r in results.values())
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())

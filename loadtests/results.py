"""The results directory: ``meta.json`` written atomically, and a short summary of a run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file and rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def git_revision(start: Path) -> str | None:
    try:
        rev = subprocess.run(  # noqa: S603 - fixed argv
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=start,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(  # noqa: S603
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=start,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("goldenpath", "locust"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def summarize_rows(events_path: Path) -> dict[str, Any]:
    """Exact percentiles per request name, failure kinds and close codes, from the raw rows."""
    import numpy as np
    import pyarrow.parquet as pq

    table = pq.read_table(events_path, columns=["name", "ms", "ok", "failure_kind", "close_code"])
    df = table.to_pandas()
    names: dict[str, Any] = {}
    for name, group in df.groupby("name", sort=False):
        ok = group.loc[group["ok"], "ms"].to_numpy()
        q = np.percentile(ok, [50, 95, 99]) if len(ok) else [float("nan")] * 3
        names[str(name)] = {
            "count": int(len(group)),
            "failures": int((~group["ok"]).sum()),
            "p50": float(q[0]),
            "p95": float(q[1]),
            "p99": float(q[2]),
            "max": float(ok.max()) if len(ok) else float("nan"),
        }
    # one row per agent run: golden_path rows repeat their response's outcome
    runs = df[df["name"] == "response"]
    run_kinds = runs["failure_kind"].dropna().value_counts()
    codes = runs["close_code"].dropna().astype(int).value_counts()
    return {
        "rows": int(len(df)),
        "names": names,
        "run_failure_kinds": {str(k): int(v) for k, v in run_kinds.items()},
        "close_codes": {int(k): int(v) for k, v in codes.items()},
    }


_ORDER = ["golden_path", "login", "ws_connect", "ttfe", "response", "iteration"]


def format_summary(title: str, summary: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """Lines of a plain-text summary of one run."""
    lines = [
        f"{title}: {meta.get('end_reason')} after {meta.get('elapsed_s', 0):.1f}s, "
        f"{summary['rows']} rows -> {meta.get('out_dir')}"
    ]
    lines.append(f"  {'name':<12}{'count':>8}{'fail':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    names = summary["names"]
    for name in sorted(names, key=lambda n: _ORDER.index(n) if n in _ORDER else 99):
        s = names[name]
        lines.append(
            f"  {name:<12}{s['count']:>8}{s['failures']:>7}"
            f"{s['p50']:>9.1f}{s['p95']:>9.1f}{s['p99']:>9.1f}"
        )
    kinds = summary["run_failure_kinds"]
    lines.append(
        "  isolation violations: {}   1011 closes: {}   failed agent runs by kind: {}".format(
            kinds.get("isolation_violation", 0),
            summary["close_codes"].get(1011, 0),
            ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())) or "none",
        )
    )
    return lines

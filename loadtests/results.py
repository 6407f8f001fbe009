"""The results directory: files written atomically and durably, the events' Parquet parts,
and a short summary of a run.

Every file is written to a dot-prefixed temporary file, flushed to disk and
renamed, so a reader (or a run killed at any moment) sees the old file or the
new one, never half of one. A write that fails (a full disk) removes its
temporary file and raises ``ResultsWriteError`` (an ``OSError``) naming the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from loadtests.config import ResultsWriteError
from resultsformat import (
    LATE_FRAME,
    NOT_REQUEST_KINDS,
    SCHEMA,
    SCHEMA_VERSION,
    RunCounts,
    count_runs,
)
from resultsformat.backend import attribution
from resultsformat.counting import requests_table
from resultsformat.meta import end_reason

if TYPE_CHECKING:
    from loadtests.plan import RunPlan

__all__ = ["SCHEMA", "SCHEMA_VERSION", "ResultsWriteError"]

_COLUMNS = SCHEMA.names
#: One event-log row: the values of SCHEMA's columns, in order (``ts`` in epoch seconds).
Row = tuple[Any, ...]


@contextmanager
def atomic_open(path: Path, mode: str) -> Iterator[IO[Any]]:
    """Yield a temporary file; on success fsync it and rename it over ``path``.

    On any failure the temporary file is removed and ``path`` keeps its old content;
    an ``OSError`` becomes a ``ResultsWriteError`` naming ``path``.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # and the rename itself survives a power loss
    except BaseException as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, ResultsWriteError):
            raise ResultsWriteError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically and durably."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file and rename: a reader never sees half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_table_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically and durably."""
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")


def rows_to_table(rows: list[Row]) -> pa.Table:
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in _COLUMNS]
    arrays = []
    for (name, col), field in zip(zip(_COLUMNS, columns, strict=True), SCHEMA, strict=True):
        values = list(col)
        if name == "ts":
            values = [int(v * 1_000_000) for v in values]
            arrays.append(pa.array(values, type=pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


class PartWriter:
    """Writes rows as numbered ``events/part-*.parquet`` files, one per flush.

    A part that cannot be written (a full disk) keeps its rows here: they go
    out with the next part, so a passing fault loses nothing. ``error`` says
    what failed and ``failing_since`` since when, until a write succeeds again.
    """

    def __init__(self, parts_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.parts_dir = parts_dir
        self.pending: list[Row] = []
        self.parts = 0
        self.error: str | None = None
        self.failing_since: float | None = None
        self._clock = clock

    def write(self, rows: list[Row]) -> bool:
        """Write ``rows`` and any kept from a failed write; False (rows kept) if it failed."""
        self.pending.extend(rows)
        if not self.pending:
            return True
        path = self.parts_dir / f"part-{self.parts:06d}.parquet"
        try:
            write_table_atomic(rows_to_table(self.pending), path)
        except ResultsWriteError as exc:
            self.error = str(exc)
            if self.failing_since is None:
                self.failing_since = self._clock()
            return False
        self.parts += 1
        self.pending = []
        self.error = self.failing_since = None
        return True


def event_files(out_dir: Path) -> list[Path]:
    """``events.parquet`` if the parts were merged, else the parts (possibly none)."""
    merged = out_dir / "events.parquet"
    if merged.is_file():
        return [merged]
    parts_dir = out_dir / "events"
    return sorted(parts_dir.glob("part-*.parquet")) if parts_dir.is_dir() else []


def rows_on_disk(out_dir: Path) -> int:
    """How many rows the run directory holds (from the Parquet footers)."""
    return sum(pq.read_metadata(p).num_rows for p in event_files(out_dir))


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


def summarize_rows(out_dir: Path) -> dict[str, Any]:
    """Exact percentiles per request name, and the agent runs counted by the one rule.

    Reads ``events.parquet``, or the parts when the merge could not be written, a batch
    at a time: it holds 8 bytes per successful row (for the percentiles), not the rows.
    """
    import numpy as np
    import pandas as pd

    columns = ["name", "ms", "ok", "failure_kind", "close_code", "prior_kind"]
    counts = RunCounts()
    raw: pd.DataFrame | None = None
    ok_ms: dict[str, list[Any]] = {}
    order: list[str] = []  # names in order of first appearance, as requests_by_name has them
    rows = 0
    for path in event_files(out_dir):
        reader = pq.ParquetFile(path, read_dictionary=["name", "failure_kind", "prior_kind"])
        for batch in reader.iter_batches(batch_size=1 << 20, columns=columns):
            df = batch.to_pandas()
            rows += len(df)
            counts.merge(
                count_runs(df["name"], df["failure_kind"], df["close_code"], df["prior_kind"])
            )
            df = df[df["name"] != LATE_FRAME]  # not requests: each changes one run's outcome
            df["not_request"] = df["failure_kind"].isin(NOT_REQUEST_KINDS).to_numpy(bool)
            df["ok"] = df["ok"].astype("boolean").fillna(False).astype(bool)
            grouped = df.groupby("name", sort=False, observed=True)
            part = pd.DataFrame(
                {"rows": grouped.size(), "not_requests": grouped["not_request"].sum(),
                 "ok": grouped["ok"].sum()}
            )  # fmt: skip
            part.index = part.index.astype(str)
            order += [n for n in part.index if n not in order]
            raw = part if raw is None else raw.add(part, fill_value=0).reindex(order)
            for name, ms in df.loc[df["ok"], ["name", "ms"]].groupby(
                "name", sort=False, observed=True
            )["ms"]:
                ok_ms.setdefault(str(name), []).append(ms.to_numpy())
    if raw is None:  # no rows: an empty table of the same columns
        raw = pd.DataFrame({"rows": [], "not_requests": [], "ok": []}, dtype="int64")
    per_name = requests_table(raw, counts)
    names: dict[str, Any] = {}
    for name in per_name.index:
        ok = np.concatenate(ok_ms[name]) if name in ok_ms else np.empty(0)
        q = np.percentile(ok, [50, 95, 99]) if len(ok) else [float("nan")] * 3
        names[str(name)] = {
            "count": int(per_name.loc[name, "requests"]),
            "failures": int(per_name.loc[name, "failed"]),
            "p50": float(q[0]),
            "p95": float(q[1]),
            "p99": float(q[2]),
            "max": float(ok.max()) if len(ok) else float("nan"),
        }
    return {"rows": rows, "names": names, "runs": counts, "backend": attribution(out_dir)}


_ORDER = ["golden_path", "login", "ws_connect", "ttfe", "response", "iteration"]


def format_counts(counts: RunCounts) -> str:
    """The agent-run counts, as the progress line and the summary both print them.

    A failed run is listed under its most serious finding (``FAILURE_KINDS`` order);
    ``1011 closes`` counts every run whose socket closed with 1011, whatever else it saw.
    """
    kinds = ", ".join(f"{k} {v}" for k, v in counts.failures().items())
    return (
        f"agent runs {counts.runs}: failed {counts.failed}{f' ({kinds})' if kinds else ''}, "
        f"interrupted {counts.interrupted} | isolation violations "
        f"{counts.isolation_violations} | 1011 closes {counts.closes_1011}"
    )


def format_summary(title: str, summary: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """Lines of a plain-text summary of one run."""
    lines = [
        f"{title}: {end_reason(meta)} after {meta.get('elapsed_s', 0):.1f}s, "
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
    lines.append("  " + format_counts(summary["runs"]))
    backend = summary.get("backend")
    if backend is not None:  # a legacy backend says which race caused its defects
        lines.append("  the backend's attribution (legacy races):")
        lines += [f"    {line}" for line in backend.lines()]
    return lines


def new_meta(plan: RunPlan, factory: str | None, started_at: dt.datetime) -> dict[str, Any]:
    """A run's ``meta.json`` when it starts (``end_reason`` ``running``; ``results/README.md``
    describes every field). The runner fills in the target, the backend and the end."""
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": f"{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        "target": plan.host,
        "embedded_backend": plan.host is None,
        "factory_mode": factory,
        "scenario": {
            "name": plan.scenario if plan.model == "closed" else "open",
            "shape": plan.scenario,
            "model": plan.model,
            "user_class": "GoldenPathUser",
            "connection": plan.connection,
            "start_runs": plan.runs_start,
            "rate": plan.rate if plan.model == "open" else None,
            "rate_end": plan.rate_end,
            "arrival": plan.arrival if plan.model == "open" else None,
        },
        "users": plan.peak_users,
        "spawn_rate": plan.rate_of_spawn,
        "duration_s": plan.duration_s,
        "processes": plan.processes,
        "expect_workers": plan.expect_workers or None,
        "backend_config": {},
        "versions": versions(),
        "git_revision": git_revision(Path(__file__).resolve().parent),
        "started_at": started_at.isoformat(),
        "ended_at": None,
        "end_reason": "running",
        "end_detail": None,
        "events_rows": 0,
    }

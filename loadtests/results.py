"""The results directory: files written atomically and durably, the events' Parquet parts,
and a short summary of a run.

Every file is written to a dot-prefixed temporary file, flushed to disk and
renamed, so a reader (or a run killed at any moment) sees the old file or the
new one, never half of one. A write that fails (a full disk) removes its
temporary file and raises ``ResultsWriteError`` (an ``OSError``) naming the file.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from resultsformat import (
    LATE_FRAME,
    SCHEMA,
    SCHEMA_VERSION,
    RunCounts,
    count_runs,
    requests_by_name,
)
from resultsformat.backend import attribution
from resultsformat.meta import end_reason

__all__ = ["SCHEMA", "SCHEMA_VERSION"]

_COLUMNS = SCHEMA.names
#: One event-log row: the values of SCHEMA's columns, in order (``ts`` in epoch seconds).
Row = tuple[Any, ...]


class ResultsWriteError(OSError):
    """A results file could not be written (a full disk, a file-size limit, ...).

    Its message is one line naming the file and the errno.
    """

    def __str__(self) -> str:
        reason = os.strerror(self.errno) if self.errno else (self.strerror or "I/O error")
        code = f" (errno {self.errno})" if self.errno else ""
        return f"could not write {self.filename}: {reason}{code}"


@contextmanager
def _atomic(path: Path, mode: str) -> Iterator[IO[Any]]:
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
    with _atomic(path, "w") as fh:
        fh.write(text)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file and rename: a reader never sees half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_table_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically and durably."""
    with _atomic(path, "wb") as fh:
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


#: Rows sorted and written at a time by ``merge_parts``: its memory, whatever the run's length.
MERGE_SLICE_ROWS = 500_000


def merge_parts(out_dir: Path, pending: list[Row] | None = None) -> int:
    """Merge ``events/part-*.parquet`` (and ``pending`` rows never written) into
    ``events.parquet``, sorted by ``ts``; returns its row count.

    The merge holds about ``MERGE_SLICE_ROWS`` rows at a time, not the run: the
    parts' ``ts`` ranges (from their footers) cut time into slices of about that
    many rows; each slice's rows are read from the parts that overlap it, sorted
    (stably, so rows of equal ``ts`` keep their order) and written as a row group.

    The parts are deleted only after the merged file is safely on disk: if the
    merge fails (``OSError``), every part is still there.
    """
    parts_dir = out_dir / "events"
    parts = sorted(parts_dir.glob("part-*.parquet")) if parts_dir.is_dir() else []
    target = out_dir / "events.parquet"
    sources: list[pa.Table | Path] = [*([target] if target.is_file() else []), *parts]
    if pending:
        sources.append(rows_to_table(pending))
    spans = [_ts_span(src) for src in sources]
    written = 0
    with _atomic(target, "wb") as fh, pq.ParquetWriter(fh, SCHEMA, compression="zstd") as out:
        for lo, hi in _slices(spans):
            tables = [
                _rows_between(src, lo, hi)
                for src, span in zip(sources, spans, strict=True)
                if _overlaps(span, lo, hi)
            ]
            table = pa.concat_tables(tables) if tables else rows_to_table([])
            if table.num_rows:
                out.write_table(table.sort_by("ts"))
                written += table.num_rows
        if not written:
            out.write_table(rows_to_table([]))
    for p in parts:
        p.unlink()
    if parts_dir.is_dir() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()
    return written


_NO_TS = (-(2**63), 2**63 - 1)  # a source without statistics overlaps every slice


def _ts_span(src: pa.Table | Path) -> tuple[int, int, int]:
    """(first ts, last ts, rows) of a source, in µs; nulls sort first."""
    if isinstance(src, pa.Table):
        us = _us(src.column("ts"))
        mm = pc.min_max(us)
        nulls = us.null_count > 0
        if not mm["min"].is_valid:
            return _NO_TS[0], _NO_TS[0], src.num_rows
        return (_NO_TS[0] if nulls else mm["min"].as_py()), mm["max"].as_py(), src.num_rows
    meta = pq.read_metadata(src)
    lo, hi = _NO_TS[1], _NO_TS[0]
    col = meta.schema.to_arrow_schema().get_field_index("ts")
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        if stats is None or not stats.has_min_max or stats.null_count:
            return (*_NO_TS, meta.num_rows)
        lo = min(lo, _stat_us(stats.min))
        hi = max(hi, _stat_us(stats.max))
    return lo, hi, meta.num_rows


def _stat_us(value: Any) -> int:
    return int(pa.scalar(value, type=SCHEMA.field("ts").type).cast(pa.int64()).as_py())


def _us(ts: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.cast(ts, SCHEMA.field("ts").type).cast(pa.int64())


def _slices(spans: list[tuple[int, int, int]]) -> list[tuple[int | None, int | None]]:
    """Half-open ``ts`` ranges (None: unbounded) covering every source, each about
    ``MERGE_SLICE_ROWS`` rows (a source's rows counted at its first ``ts``)."""
    cuts: list[int] = []
    acc = 0
    for first, _last, rows in sorted(spans):
        if acc >= MERGE_SLICE_ROWS and first > _NO_TS[0] and (not cuts or first > cuts[-1]):
            cuts.append(first)
            acc = 0
        acc += rows
    edges: list[int | None] = [None, *cuts, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _overlaps(span: tuple[int, int, int], lo: int | None, hi: int | None) -> bool:
    first, last, _ = span
    return (hi is None or first < hi) and (lo is None or last >= lo)


def _rows_between(src: pa.Table | Path, lo: int | None, hi: int | None) -> pa.Table:
    """The rows of ``src`` with ``lo <= ts < hi`` (null ``ts`` in the first slice)."""
    table = src if isinstance(src, pa.Table) else pq.read_table(src)
    if not table.schema.equals(SCHEMA):
        table = table.cast(SCHEMA)
    if lo is None and hi is None:
        return table
    us = _us(table.column("ts"))
    if lo is None:
        keep = pc.or_kleene(pc.less(us, hi), pc.is_null(us))
    elif hi is None:
        keep = pc.greater_equal(us, lo)
    else:
        keep = pc.and_(pc.greater_equal(us, lo), pc.less(us, hi))
    return table.filter(pc.fill_null(keep, False))


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

    Reads ``events.parquet``, or the parts when the merge could not be written.
    """
    import numpy as np

    columns = ["name", "ms", "ok", "failure_kind", "close_code", "prior_kind"]
    tables = [pq.read_table(p, columns=columns) for p in event_files(out_dir)]
    empty = rows_to_table([]).select(columns)
    df = (pa.concat_tables(tables) if tables else empty).to_pandas()
    counts = count_runs(df["name"], df["failure_kind"], df["close_code"], df["prior_kind"])
    per_name = requests_by_name(df["name"], df["failure_kind"], df["ok"], counts)
    names: dict[str, Any] = {}
    for name, group in df.groupby("name", sort=False):
        if name == LATE_FRAME:
            continue  # not requests: each changes one run's outcome (counted above)
        ok = group.loc[group["ok"], "ms"].to_numpy()
        q = np.percentile(ok, [50, 95, 99]) if len(ok) else [float("nan")] * 3
        names[str(name)] = {
            "count": int(per_name.loc[name, "requests"]),
            "failures": int(per_name.loc[name, "failed"]),
            "p50": float(q[0]),
            "p95": float(q[1]),
            "p99": float(q[2]),
            "max": float(ok.max()) if len(ok) else float("nan"),
        }
    return {"rows": int(len(df)), "names": names, "runs": counts, "backend": attribution(out_dir)}


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

"""The raw event log: one row per timed request, flushed to Parquet parts as the run goes.

In a local run the recorder writes the rows itself. In a distributed run each
worker ships its rows to the master with Locust's own worker reports
(``report_to_master`` -> ``worker_report``), so no shared disk is needed, and
the master writes them. Each part is written to a temporary file and renamed:
a run killed at any moment leaves only whole parts. ``finalize`` merges the
parts into ``events.parquet``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import pyarrow as pa
import pyarrow.parquet as pq
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests.checks import failure_kind_of
from loadtests.users import load_config

SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("user", pa.string()),
        ("name", pa.string()),
        ("type", pa.string()),
        ("ms", pa.float64()),
        ("service_ms", pa.float64()),
        ("ok", pa.bool_()),
        ("failure_kind", pa.string()),
        ("close_code", pa.int32()),
        ("worker", pa.string()),
        ("run_id", pa.string()),
        ("detail", pa.string()),
    ]
)
_COLUMNS = SCHEMA.names
Row = tuple[Any, ...]


def write_table_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def rows_to_table(rows: list[Row]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in _COLUMNS]
    arrays = []
    for (name, col), field in zip(zip(_COLUMNS, columns, strict=True), SCHEMA, strict=True):
        values = list(col)
        if name == "ts":
            values = [int(v * 1_000_000) for v in values]
            arrays.append(pa.array(values, type=pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


class LiveCounts:
    """Running totals for the progress line."""

    def __init__(self, iteration_row: str = "golden_path") -> None:
        self.iteration_row = iteration_row
        self.rows = 0
        self.by_kind: Counter[str] = Counter()
        self.close_codes: Counter[int] = Counter()
        self.iterations = 0
        self.failed_iterations = 0

    def add(self, row: Row) -> None:
        self.rows += 1
        name, ok, kind, code = row[2], row[6], row[7], row[8]
        if kind:
            self.by_kind[kind] += 1
        if code is not None:
            self.close_codes[code] += 1
        if name == self.iteration_row:
            self.iterations += 1
            self.failed_iterations += not ok


class Recorder:
    """Collects rows in this process; writes them (local/master) or ships them (worker)."""

    def __init__(
        self, environment: Environment, out_dir: Path | None = None, *, flush_s: float = 1.0
    ) -> None:
        self.environment = environment
        self.out_dir = out_dir
        self.parts_dir = out_dir / "events" if out_dir is not None else None
        self.flush_s = flush_s
        self._rows: list[Row] = []
        self._parts = 0
        persistent = load_config().connection == "persistent"
        self.live = LiveCounts("response" if persistent else "golden_path")
        self._flusher: gevent.Greenlet | None = None
        events = environment.events
        events.request.add_listener(self.on_request)
        events.report_to_master.add_listener(self.on_report_to_master)
        events.worker_report.add_listener(self.on_worker_report)

    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment.runner, WorkerRunner)

    def _worker_name(self) -> str:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            return f"worker-{runner.worker_index}"
        return "local"

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        ctx = context or {}
        ms = float(response_time or 0.0)
        ts = start_time if start_time is not None else time.time() - ms / 1000
        kind = ctx.get("failure_kind") or failure_kind_of(exception)
        row: Row = (
            ts,
            str(ctx.get("user", "")),
            name,
            request_type,
            ms,
            float(ctx.get("service_ms", ms)),
            exception is None,
            kind if exception is not None else None,
            ctx.get("close_code"),
            self._worker_name(),
            ctx.get("run_id"),
            str(exception)[:300] if exception is not None else None,
        )
        # Rows are kept where they will be written or shipped; otherwise only counted.
        if self.out_dir is not None or self.is_worker:
            self._rows.append(row)
        self.live.add(row)

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data["goldenpath_rows"], self._rows = self._rows, []

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        rows = data.get("goldenpath_rows") or []
        for row in rows:
            row = tuple(row)
            self._rows.append(row)
            self.live.add(row)

    def start(self) -> None:
        if self.parts_dir is not None and self._flusher is None:
            self.parts_dir.mkdir(parents=True, exist_ok=True)
            self._flusher = gevent.spawn(self._flush_forever)

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(self.flush_s)
            self.flush()

    def flush(self) -> None:
        if self.parts_dir is None or not self._rows:
            return
        rows, self._rows = self._rows, []
        path = self.parts_dir / f"part-{self._parts:06d}.parquet"
        self._parts += 1
        write_table_atomic(rows_to_table(rows), path)

    def finalize(self) -> int:
        """Write what is left, merge the parts into ``events.parquet``; returns the row count."""
        if self._flusher is not None:
            self._flusher.kill()
            self._flusher = None
        self.flush()
        assert self.out_dir is not None and self.parts_dir is not None
        return merge_parts(self.out_dir)


def merge_parts(out_dir: Path) -> int:
    """Merge ``events/part-*.parquet`` into ``events.parquet`` (idempotent)."""
    parts_dir = out_dir / "events"
    parts = sorted(parts_dir.glob("part-*.parquet")) if parts_dir.is_dir() else []
    target = out_dir / "events.parquet"
    tables = [pq.read_table(p) for p in parts]
    if target.exists():
        tables.insert(0, pq.read_table(target))
    table = pa.concat_tables(tables) if tables else rows_to_table([])
    if not table.schema.equals(SCHEMA):
        table = table.cast(SCHEMA)
    write_table_atomic(table.sort_by("ts"), target)
    for p in parts:
        p.unlink()
    if parts_dir.is_dir() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()
    return table.num_rows

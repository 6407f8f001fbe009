"""The raw event log: one row per timed request, flushed to Parquet parts as the run goes.

In a local run the recorder writes the rows itself. In a distributed run each
worker ships its rows to the master with Locust's own worker reports
(``report_to_master`` -> ``worker_report``), so no shared disk is needed, and
the master writes them. Each part is written to a temporary file and renamed:
a run killed at any moment leaves only whole parts. A part that cannot be
written (a full disk) keeps its rows in memory and is tried again a second
later. ``finalize`` merges the parts into ``events.parquet``.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import numpy as np
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests.checks import failure_kind_of
from loadtests.merge import merge_parts
from loadtests.results import SCHEMA, PartWriter, Row
from resultsformat import RunCounts

_NAME, _MS, _OK, _KIND, _CODE, _PRIOR = (
    SCHEMA.names.index(c) for c in ("name", "ms", "ok", "failure_kind", "close_code", "prior_kind")
)


def _detail(exception: BaseException | None) -> str | None:
    """The event log's ``detail``: a check's variable detail, else the error's text."""
    if exception is None:
        return None
    detail = getattr(exception, "detail", None)
    return str(detail or exception)[:300]


class LiveCounts:
    """Running totals of this process's rows (a master's include its workers'): agent runs by
    the one counting rule, dropped iterations and, when ``latencies`` is on (the web UI's
    tab), every successful request's latency per name, for exact percentiles."""

    def __init__(self) -> None:
        self.rows = 0
        self.runs = RunCounts()
        self.dropped = 0
        # name -> ms of ok rows: 8 bytes a row (a float list takes 32), read without a copy
        self.latencies: dict[str, array[float]] | None = None

    def add(self, row: Row) -> None:
        self.rows += 1
        self.runs.add(row[_NAME], row[_KIND], row[_CODE], row[_PRIOR])
        if row[_KIND] == "dropped":
            self.dropped += 1
        if self.latencies is not None and row[_OK]:
            self.latencies.setdefault(row[_NAME], array("d")).append(float(row[_MS]))

    def percentiles(self, qs: tuple[float, ...] = (50, 95, 99)) -> dict[str, list[float]]:
        """Exact (linear) percentiles of each name's successful latencies so far."""
        return {
            name: [float(v) for v in np.percentile(np.frombuffer(ms, dtype=np.float64), qs)]
            for name, ms in (self.latencies or {}).items()
            if ms
        }


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
        self.parts = PartWriter(self.parts_dir) if self.parts_dir is not None else None
        # reports received per worker, so the master knows when a worker's last rows are in
        self.reports: Counter[str] = Counter()
        self.live = LiveCounts()
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
            _detail(exception),
            ctx.get("msg_id"),
            ctx.get("prior_kind"),
        )
        # Rows are kept where they will be written or shipped; otherwise only counted.
        if self.out_dir is not None or self.is_worker:
            self._rows.append(row)
        self.live.add(row)

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data["goldenpath_rows"], self._rows = self._rows, []

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.reports[client_id] += 1
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
        """Write the rows collected so far as a part; on failure keep them (``parts.error``)."""
        if self.parts is None:
            return
        rows, self._rows = self._rows, []
        self.parts.write(rows)

    def finalize(self) -> int:
        """Write what is left, merge the parts into ``events.parquet``; returns the row count.

        Rows a failed part write kept go straight into the merge. If the merge
        fails too, ``OSError`` propagates and the parts stay on disk.
        """
        if self._flusher is not None:
            self._flusher.kill()
            self._flusher = None
        self.flush()
        assert self.out_dir is not None and self.parts is not None, "finalize() needs start()"
        rows = merge_parts(self.out_dir, self.parts.pending)
        self.parts.pending = []
        return rows

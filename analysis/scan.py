"""Read one run's event files in bounded memory, batch by batch, into what a summary needs.

``summarize`` never holds a run's rows. A scan keeps:

* per time *tick* and request name: request rows, successful rows and the sum of
  their latency; and rows of any name per tick. Ticks are 10 ms (100 ms, 1 s, 10 s
  or 60 s for runs long enough that 10 ms would give more than ``MAX_TICKS``).
  From these come the warm-up detector's series, the steady-state request counts,
  the throughput windows of a comparison and throughput over time, all exact,
  because every window they use is a whole number of ticks;
* per request name, the latency of every successful row with its tick (12 bytes a
  row): the exact percentiles of the steady state, once the cut is known;
* the agent runs, counted batch by batch by :mod:`resultsformat.counting`;
* every row that failed or moved a run's outcome (failures over time, by kind);
* a seeded random sample of about ``PLOT_ROWS`` successful rows (``PLOT_SEED``; each
  row kept with probability ``PLOT_ROWS / rows``): latency percentiles over time in the
  plots. A run of fewer rows keeps every one.

Memory: about 12 bytes per successful row while a side's runs are read (every run of
a group, until the cuts are known), about 30 per failed row, plus one batch; a summary
keeps 8 bytes per successful steady-state row (its sorted samples).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis.errors import CorruptFileError
from analysis.eventfiles import read_batches
from resultsformat import LATE_FRAME, NOT_REQUEST_KINDS, RunCounts, count_runs
from resultsformat.footer import footer_ts_span

#: Tick lengths in seconds, shortest first; every window a summary uses is a multiple.
TICKS_S: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 60.0)
MAX_TICKS = 200_000
#: Successful rows sampled per run for latency percentiles over time (plots only).
PLOT_ROWS = 1_000_000
PLOT_SEED = 20261125
BATCH_ROWS = 1 << 20

COLUMNS = ("ts", "name", "ms", "ok", "failure_kind", "close_code", "prior_kind")
Progress = Callable[[int], None]


def tick_for(duration_s: float) -> float:
    """The shortest tick that covers ``duration_s`` in at most ``MAX_TICKS`` ticks."""
    return next((t for t in TICKS_S if duration_s / t < MAX_TICKS), TICKS_S[-1])


def whole_ticks(window_s: float, ticks_s: list[float]) -> float:
    """``window_s`` rounded up to a whole number of the longest tick (each tick divides the
    next), so runs scanned with different ticks share the windows."""
    tick = max(ticks_s, default=TICKS_S[0])
    return float(max(1, int(np.ceil(window_s / tick - 1e-9))) * tick)


def ticks_in(window_s: float, tick_s: float) -> int:
    """A window as a whole number of ticks; ``ValueError`` if it is not one."""
    n = round(window_s / tick_s)
    if n < 1 or abs(n * tick_s - window_s) > 1e-9 * max(1.0, window_s):
        raise ValueError(
            f"a window of {window_s:g} s is not a whole number of this run's {tick_s:g} s ticks"
        )
    return n


class Vocab:
    """Strings -> small integer codes, shared by every batch of a scan (-1: null)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, value: str) -> int:
        if value not in self.index:
            self.index[value] = len(self.values)
            self.values.append(value)
        return self.index[value]

    def codes(self, column: pa.Array | pa.ChunkedArray, null: str | None = None) -> np.ndarray:
        """Codes of a string column; a null is -1, or the code of ``null`` when given."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        missing = -1 if null is None else self.code(null)
        values = column.dictionary.to_pylist()
        lookup = np.array([self.code(v) for v in values] + [missing], np.int32)
        idx = column.indices.fill_null(len(lookup) - 1).to_numpy(zero_copy_only=False)
        return np.asarray(lookup[idx.astype(np.int64, copy=False)])

    def categorical(self, codes: np.ndarray) -> pd.Series:
        return pd.Series(pd.Categorical.from_codes(codes, categories=list(self.values)))


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] >= rows:
        return a
    out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@dataclass(eq=False)
class RunScan:
    """What one run's rows reduce to (see the module's docstring)."""

    label: str
    rows: int
    last_s: float  # seconds from the first event to the last
    last_request_s: float  # ... to the last request row (whole throughput windows end here)
    tick_s: float
    names: Vocab
    kinds: Vocab
    all_per_tick: np.ndarray  # (ticks,) rows of any name
    requests: np.ndarray  # (names, ticks) request rows
    ok_count: np.ndarray  # (names, ticks) successful rows (late frames left out)
    ok_sum: np.ndarray  # (names, ticks) their summed latency, ms
    by_name: pd.DataFrame  # name -> rows, not_requests, ok (late frames left out)
    counts: RunCounts
    failure_events: pd.DataFrame  # rows that failed or moved a run's outcome
    plot_events: pd.DataFrame  # the sample of successful rows
    plot_fraction: float
    ok_ms: dict[str, np.ndarray] = field(repr=False)  # name -> latency of successful rows
    ok_tick: dict[str, np.ndarray] = field(repr=False)  # name -> their ticks

    @property
    def n_ticks(self) -> int:
        return int(self.all_per_tick.size)


def _span_us(files: list[Path]) -> tuple[int, int]:
    """First and last ``ts`` in µs, from the files' footers (one read of ``ts`` where they
    cannot tell, or a row may lack a ``ts``)."""
    lo, hi = None, None
    for f in files:
        try:
            span = footer_ts_span(f)
        except (LookupError, OSError, pa.ArrowException):
            span = None
        if span is None or span.nulls:
            return _span_by_reading(files)
        if span.first_us is not None and span.last_us is not None:
            lo = span.first_us if lo is None else min(lo, span.first_us)
            hi = span.last_us if hi is None else max(hi, span.last_us)
    if lo is None or hi is None:
        return _span_by_reading(files)
    return lo, hi


def _span_by_reading(files: list[Path]) -> tuple[int, int]:
    lo, hi = None, None
    for f in files:
        try:
            ts = pq.read_table(f, columns=["ts"]).column("ts")
        except (OSError, pa.ArrowException) as exc:
            raise CorruptFileError(f, f"not a readable Parquet file ({exc})") from None
        us = pc.cast(ts, pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())
        mm = pc.min_max(us)
        if mm["min"].is_valid:
            a, b = mm["min"].as_py(), mm["max"].as_py()
            lo = a if lo is None else min(lo, a)
            hi = b if hi is None else max(hi, b)
    return (lo or 0), (hi or 0)


def scan_run(
    label: str,
    files: list[Path],
    *,
    rows: int,
    seed: int = 0,
    progress: Progress | None = None,
) -> RunScan:
    """Read ``files`` (one run, already checked by ``load``) a batch at a time."""
    t0, t1 = _span_us(files)
    last_s = (t1 - t0) / 1e6
    tick_s = tick_for(last_s)
    tick_us = round(tick_s * 1e6)
    n_ticks = (t1 - t0) // tick_us + 1
    names, kinds = Vocab(), Vocab()
    late = names.code(LATE_FRAME)
    not_req = [kinds.code(k) for k in NOT_REQUEST_KINDS]
    all_per_tick = np.zeros(n_ticks, np.int64)
    requests = np.zeros((0, n_ticks), np.int64)
    ok_count = np.zeros((0, n_ticks), np.int64)
    ok_sum = np.zeros((0, n_ticks), np.float64)
    by_name = np.zeros((0, 3), np.int64)
    counts = RunCounts()
    ms_parts: dict[int, list[np.ndarray]] = {}
    tick_parts: dict[int, list[np.ndarray]] = {}
    failure_frames: list[pd.DataFrame] = []
    plot_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    fraction = min(1.0, PLOT_ROWS / max(rows, 1))
    rng = np.random.default_rng([PLOT_SEED, seed])
    done = 0
    last_req_us = 0
    for path in files:
        for table in read_batches(path, COLUMNS, batch_rows=BATCH_ROWS):
            n = table.num_rows
            us = table.column("ts").combine_chunks().cast(pa.int64())
            if us.null_count:
                us = us.fill_null(t0)
            t_us = us.to_numpy(zero_copy_only=False) - t0
            tick = (t_us // tick_us).astype(np.int64)
            tick = np.clip(tick, 0, n_ticks - 1)
            nc = names.codes(table.column("name"), null="(no name)")
            kc = kinds.codes(table.column("failure_kind"))
            pk = kinds.codes(table.column("prior_kind"))
            ok = table.column("ok").to_numpy(zero_copy_only=False).astype(bool, copy=False)
            ms = table.column("ms").to_numpy(zero_copy_only=False)
            nn = len(names.values)
            requests, ok_count, ok_sum = (
                _grow(requests, nn), _grow(ok_count, nn), _grow(ok_sum, nn)
            )  # fmt: skip
            by_name = _grow(by_name, nn)
            is_late = nc == late
            nreq = np.isin(kc, not_req)
            is_req = ~nreq & ~is_late
            key = nc.astype(np.int64) * n_ticks + tick
            size = nn * n_ticks
            all_per_tick += np.bincount(tick, minlength=n_ticks)
            if is_req.any():
                last_req_us = max(last_req_us, int(t_us[is_req].max()))
            requests += np.bincount(key[is_req], minlength=size).reshape(nn, n_ticks)
            okr = ok & ~is_late
            ok_count += np.bincount(key[okr], minlength=size).reshape(nn, n_ticks)
            ok_sum += np.bincount(key[okr], weights=ms[okr], minlength=size).reshape(nn, n_ticks)
            keep = ~is_late
            by_name[:, 0] += np.bincount(nc[keep], minlength=nn)
            by_name[:, 1] += np.bincount(nc[keep & nreq], minlength=nn)
            by_name[:, 2] += np.bincount(nc[okr], minlength=nn)
            # Successful rows split by name: one stable (radix) sort of small codes.
            ok_codes = nc[okr].astype(np.int16 if nn < 2**15 else np.int32)
            order = np.argsort(ok_codes, kind="stable")
            ok_ms, ok_ticks = ms[okr][order], tick[okr][order].astype(np.uint32)
            bounds = np.concatenate([[0], np.cumsum(np.bincount(ok_codes, minlength=nn))])
            for code in np.flatnonzero(np.diff(bounds)):
                lo, hi = bounds[code], bounds[code + 1]
                ms_parts.setdefault(int(code), []).append(ok_ms[lo:hi])
                tick_parts.setdefault(int(code), []).append(ok_ticks[lo:hi])
            # The runs: counted by the one rule, batch by batch.
            runs = (nc == names.index.get("response", -2)) | is_late
            if runs.any():
                sub = table.filter(pa.array(runs))
                counts.merge(
                    count_runs(
                        names.categorical(nc[runs]),
                        kinds.categorical(kc[runs]),
                        sub.column("close_code").to_pandas(),
                        kinds.categorical(pk[runs]),
                    )
                )
            moved = ~ok | is_late | (kc >= 0)
            if moved.any():
                sub = table.filter(pa.array(moved))
                failure_frames.append(
                    pd.DataFrame(
                        {
                            "elapsed_s": t_us[moved] / 1e6,
                            "name": nc[moved],
                            "ok": ok[moved],
                            "failure_kind": kc[moved],
                            "close_code": sub.column("close_code").to_pandas(
                                types_mapper={pa.int32(): pd.Int32Dtype()}.get
                            ),
                            "prior_kind": pk[moved],
                        }
                    )
                )
            pick = okr if fraction >= 1 else okr & (rng.random(n) < fraction)
            plot_parts.append((t_us[pick], nc[pick], ms[pick]))
            done += n
            if progress is not None:
                with contextlib.suppress(OSError):  # a closed stderr stops no analysis
                    progress(done)

    nn = len(names.values)
    requests, ok_count, ok_sum = _grow(requests, nn), _grow(ok_count, nn), _grow(ok_sum, nn)
    by_name = _grow(by_name, nn)
    seen = [i for i in range(nn) if by_name[i, 0] > 0]
    by_name_frame = pd.DataFrame(
        by_name[seen], index=pd.Index([names.values[i] for i in seen], name="name"),
        columns=["rows", "not_requests", "ok"],
    )  # fmt: skip
    return RunScan(
        label=label,
        rows=done,
        last_s=last_s,
        last_request_s=last_req_us / 1e6,
        tick_s=tick_s,
        names=names,
        kinds=kinds,
        all_per_tick=all_per_tick,
        requests=requests,
        ok_count=ok_count,
        ok_sum=ok_sum,
        by_name=by_name_frame,
        counts=counts,
        failure_events=_frame(failure_frames, names, kinds),
        plot_events=_plot_frame(plot_parts, names),
        plot_fraction=fraction,
        ok_ms={names.values[c]: _cat(v) for c, v in ms_parts.items()},
        ok_tick={names.values[c]: _cat(v) for c, v in tick_parts.items()},
    )


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    parts.clear()
    return out


def _frame(frames: list[pd.DataFrame], names: Vocab, kinds: Vocab) -> pd.DataFrame:
    cols = ["elapsed_s", "name", "ok", "failure_kind", "close_code", "prior_kind"]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    df["elapsed_s"] = df["elapsed_s"].astype(float)
    df["ok"] = df["ok"].astype(bool)
    df["close_code"] = df["close_code"].astype("Int32")
    df["name"] = names.categorical(df["name"].to_numpy(np.int32))
    for c in ("failure_kind", "prior_kind"):
        df[c] = kinds.categorical(df[c].to_numpy(np.int32))
    return df


def _plot_frame(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], names: Vocab
) -> pd.DataFrame:
    if parts:
        t_us, codes, ms = (np.concatenate(column) for column in zip(*parts, strict=True))
    else:
        t_us, codes, ms = np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0)
    n = len(ms)
    return pd.DataFrame(
        {
            "elapsed_s": t_us / 1e6,
            "name": names.categorical(codes.astype(np.int32)),
            "ms": ms,
            "ok": np.ones(n, bool),
            "failure_kind": pd.Categorical.from_codes(np.full(n, -1, np.int8), categories=[]),
        }
    )

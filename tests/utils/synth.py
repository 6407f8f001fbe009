"""Write schema-valid synthetic results directories (the current schema_version).

Tests and the benchmark use these instead of real load runs. Each iteration of
a closed-model user gives five rows (login, ws_connect, ttfe, response,
golden_path); the open model adds ``iteration`` rows, some of them dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from resultsformat import SCHEMA, SCHEMA_VERSION
from resultsformat.schema import ADDED_IN_V2

# name -> (Locust request type, median ms). golden_path is the sum of the others.
STEPS = {
    "login": ("HTTP", 12.0),
    "ws_connect": ("WS", 4.0),
    "ttfe": ("WS", 45.0),
    "response": ("WS", 120.0),
}
NAMES = ["login", "ws_connect", "ttfe", "response", "golden_path", "iteration"]
#: ``make_run("name", seed=1, ...)``: the fixtures that write a run under tmp_path.
MakeRun = Callable[..., Path]
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def _strings(codes: np.ndarray, values: list[str], mask: np.ndarray | None = None) -> pa.Array:
    """A plain string column built fast from codes into a small list of values."""
    dictionary = pa.array(values, type=pa.string())
    indices = pa.array(codes, type=pa.int32(), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def make_events(
    *,
    seed: int = 0,
    n: int = 5000,
    duration_s: float = 60.0,
    users: int = 20,
    sigma: float = 0.25,
    shift_ms: float = 0.0,
    failure_rate: float = 0.0,
    closes_1011: int = 0,
    isolation_violations: int = 0,
    dropped: int = 0,
    warmup_s: float = 0.0,
    warmup_factor: float = 1.5,
    slow_spell: tuple[float, float, float] | None = None,
) -> pa.Table:
    """Synthetic events for about ``n`` rows (a multiple of five, plus any dropped rows).

    ``slow_spell=(start_s, seconds, factor)``: iterations that start in that window take
    ``factor`` times as long (a neighbour's burst on the machine, in one run only).
    """
    rng = np.random.default_rng(seed)
    n_iter = max(1, n // 5)
    # Arrival times: a linear ramp of the rate over warmup_s, then flat (inverse CDF).
    u = np.sort(rng.random(n_iter))
    if warmup_s > 0:
        w, d = warmup_s, duration_s
        total = w / 2 + (d - w)
        x = u * total
        start = np.where(x < w / 2, np.sqrt(2 * w * x), x + w / 2)
    else:
        start = u * duration_s
    slow = 1.0 + (warmup_factor * np.clip(1 - start / warmup_s, 0, 1) if warmup_s > 0 else 0.0)
    if slow_spell is not None:
        at, length, factor = slow_spell
        slow = slow * np.where((start >= at) & (start < at + length), factor, 1.0)

    per_step = []
    for _name, (_type, median) in STEPS.items():
        ms = median * np.exp(sigma * rng.standard_normal(n_iter)) * slow
        per_step.append(ms)
    per_step[2] = per_step[2] + shift_ms  # a slower backend: the first event, so all after it
    golden = np.sum(per_step, axis=0) + rng.exponential(2.0, n_iter)
    ms = np.stack([*per_step, golden], axis=1)  # (n_iter, 5)
    offsets = np.concatenate([np.zeros((n_iter, 1)), np.cumsum(ms[:, :3], axis=1)], axis=1)
    offsets = np.concatenate([offsets, np.zeros((n_iter, 1))], axis=1) / 1000.0
    ts_s = start[:, None] + offsets

    name_codes = np.tile(np.arange(5, dtype=np.int32), n_iter)
    ms_flat = ms.ravel()
    ok = np.ones(ms_flat.size, dtype=bool)
    kind = np.full(ms_flat.size, -1, dtype=np.int32)  # index into KINDS, -1 = null
    close = np.full(ms_flat.size, -1, dtype=np.int32)
    close[name_codes == 4] = 1000  # the socket closed normally after each golden path

    kinds = ["timeout", "http_error", "connect_failed", "isolation_violation", "ws_close_1011"]
    rows_resp = np.flatnonzero(name_codes == 3)
    if failure_rate > 0:
        fail = np.flatnonzero(rng.random(ms_flat.size) < failure_rate)
        kind[fail] = rng.integers(0, 3, fail.size)
        ok[fail] = False
    for count, k in ((isolation_violations, 3), (closes_1011, 4)):
        if count:
            pick = rng.choice(rows_resp, size=min(count, rows_resp.size), replace=False)
            kind[pick] = k
            ok[pick] = False
            ok[pick + 1] = False  # the golden path of that iteration failed too
            kind[pick + 1] = k
            if k == 4:
                close[pick] = 1011
                close[pick + 1] = 1011
            rows_resp = np.setdiff1d(rows_resp, pick)

    user_codes = np.repeat(rng.integers(0, users, n_iter), 5).astype(np.int32)
    ts_flat = ts_s.ravel()
    if dropped:
        d_ts = np.sort(rng.random(dropped)) * duration_s
        ts_flat = np.concatenate([ts_flat, d_ts])
        name_codes = np.concatenate([name_codes, np.full(dropped, 5, np.int32)])
        ms_flat = np.concatenate([ms_flat, np.zeros(dropped)])
        ok = np.concatenate([ok, np.zeros(dropped, bool)])
        kind = np.concatenate([kind, np.full(dropped, 5, np.int32)])
        close = np.concatenate([close, np.full(dropped, -1, np.int32)])
        user_codes = np.concatenate([user_codes, np.zeros(dropped, np.int32)])
    kinds.append("dropped")

    size = ms_flat.size
    ts_us = START_US + np.round(ts_flat * 1e6).astype(np.int64)
    types = [STEPS[nm][0] if nm in STEPS else "GOLDENPATH" for nm in NAMES]
    kind_arr = _strings(np.maximum(kind, 0), kinds, mask=kind < 0)
    columns: dict[str, pa.Array] = {
        "ts": pa.array(ts_us, type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "user": _strings(user_codes, [f"loaduser{i:04d}" for i in range(users)]),
        "name": _strings(name_codes, NAMES),
        "type": _strings(name_codes, types),
        "ms": pa.array(ms_flat),
        "service_ms": pa.array(ms_flat),
        "ok": pa.array(ok),
        "failure_kind": kind_arr,
        "close_code": pa.array(close, type=pa.int32(), mask=close < 0),
        "worker": _strings(np.zeros(size, np.int32), ["local"]),
        "run_id": pa.nulls(size, pa.string()),
        "detail": _strings(np.zeros(size, np.int32), ["synthetic failure"], mask=ok),
        "msg_id": pa.nulls(size, pa.string()),
        "prior_kind": pa.nulls(size, pa.string()),
    }
    return pa.table(columns, schema=SCHEMA)


def make_meta(
    *,
    run_id: str,
    factory_mode: str | None = "canonical",
    duration_s: float = 60.0,
    rows: int = 0,
    model: str = "closed",
    schema_version: Any = SCHEMA_VERSION,
    users: int = 20,
) -> dict[str, Any]:
    """A meta.json as the harness writes it when a run completes."""
    return {
        "schema_version": schema_version,
        "run_id": run_id,
        "target": "http://127.0.0.1:8000",
        "embedded_backend": True,
        "factory_mode": factory_mode,
        "scenario": {"name": "steady", "model": model, "user_class": "GoldenPathUser"},
        "users": users,
        "spawn_rate": 10.0,
        "duration_s": duration_s,
        "processes": 1,
        "backend_config": {"seed": 0},
        "versions": {"goldenpath": "0.1.0", "locust": "2.31", "python": "3.11", "platform": "x"},
        "git_revision": None,
        "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": "2026-01-01T00:01:00+00:00",
        "end_reason": "completed",
        "end_detail": None,
        "events_rows": rows,
    }


def write_run(
    path: str | Path,
    *,
    factory_mode: str | None = "canonical",
    schema_version: Any = SCHEMA_VERSION,
    parts: int = 0,
    model: str = "closed",
    **params: Any,
) -> Path:
    """Write a results directory at ``path`` (created); ``parts`` > 0 leaves unmerged parts."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    table = make_events(**params)
    if schema_version == 1:  # as the harness wrote it before late-frame rows existed
        table = table.drop_columns(list(ADDED_IN_V2))
    duration = float(params.get("duration_s", 60.0))
    if parts:
        (root / "events").mkdir(exist_ok=True)
        step = -(-table.num_rows // parts)
        for i in range(parts):
            chunk = table.slice(i * step, step)
            pq.write_table(chunk, root / "events" / f"part-{i:05d}.parquet")
    else:
        pq.write_table(table, root / "events.parquet")
    meta = make_meta(
        run_id=f"synthetic-{root.name}",
        factory_mode=factory_mode,
        duration_s=duration,
        rows=table.num_rows,
        model=model,
        schema_version=schema_version,
    )
    (root / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return root


def flat_calibration(sd: float, df: int = 20, phi: float | None = 2.0) -> Any:
    """A calibration as ``goldenpath calibrate`` would have measured it on a machine whose
    runs of one build differ by ``sd`` (of the log of every percentile and of throughput),
    with rates that vary ``phi`` times the binomial variance (None: no run failed)."""
    from analysis.calibration import Calibration, Noise
    from analysis.summarize import QUANTILES, qlabel

    return Calibration(
        latency={"golden_path": {qlabel(q): Noise(sd, df) for q in QUANTILES}},
        throughput=Noise(sd, df),
        dispersion=None if phi is None else Noise(phi, df, is_sd=False),
        runs=df + 1,
        builds=1,
        source="test",
    )


def write_calibration(path: Path, sd: float, **kw: Any) -> Path:
    """``flat_calibration`` as a file, for ``--calibration FILE``."""
    flat_calibration(sd, **kw).write(path)
    return path

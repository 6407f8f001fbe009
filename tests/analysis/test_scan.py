"""Streamed summaries: the same numbers as the whole run's rows, whatever the batch size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis import scan
from analysis.compare import rank_test_sample, window_throughput
from analysis.errors import CorruptFileError
from analysis.load import load_run
from analysis.steady import warmup_cuts
from analysis.summarize import (
    Summary,
    failures_over_time,
    over_time,
    quantiles_sorted,
    request_mask,
    summarize,
)
from resultsformat import count_runs
from tests.utils.synth import MakeRun, make_events, make_meta


def with_late_frames(table: pa.Table, n: int, seed: int) -> pa.Table:
    """``table`` with ``n`` late-frame rows at random places: each moves a run from
    ``ok`` (or ``timeout``) to an isolation violation, some with a 1011 close."""
    rng = np.random.default_rng(seed)
    rows = table.to_pylist()
    for i in range(n):
        at = int(rng.integers(0, len(rows)))
        late = dict(rows[at])
        late.update(
            name="late_frame", type="WS", ok=False, failure_kind="isolation_violation",
            prior_kind="ok" if i % 2 else "timeout", close_code=1011 if i % 3 == 0 else None,
            msg_id=f"m{i}",
        )  # fmt: skip
        rows.insert(at + 1, late)
    return pa.Table.from_pylist(rows, schema=table.schema)


def write(root: Path, table: pa.Table, parts: int = 0) -> Path:
    root.mkdir(parents=True)
    if parts:
        (root / "events").mkdir()
        step = -(-table.num_rows // parts)
        for i in range(parts):
            pq.write_table(table.slice(i * step, step), root / "events" / f"part-{i:05d}.parquet")
    else:
        pq.write_table(table, root / "events.parquet")
    meta = make_meta(run_id=root.name, duration_s=30.0, rows=table.num_rows)
    (root / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


@pytest.fixture
def busy_run(tmp_path: Path) -> Path:
    """A run with a warm-up ramp, failures, 1011 closes, dropped iterations and late frames."""
    table = make_events(
        seed=11, n=6000, duration_s=30.0, warmup_s=6.0, failure_rate=0.03,
        closes_1011=5, isolation_violations=4, dropped=9,
    )  # fmt: skip
    return write(tmp_path / "busy", with_late_frames(table, 12, seed=3), parts=3)


def check_against_rows(s: Summary) -> None:
    """Every figure of a streamed summary, recomputed from the whole run's rows."""
    ev = s.all_events
    assert s.runs_counted == count_runs(
        ev["name"], ev["failure_kind"], ev["close_code"], ev["prior_kind"]
    )
    assert s.rows_total == len(ev)
    steady = s.events
    assert s.rows == len(steady)
    for name in s.latency.index:
        sel = (steady["name"] == name) & steady["ok"]
        ms = np.sort(steady.loc[sel, "ms"].to_numpy())
        np.testing.assert_array_equal(s.samples[name], ms)
        if ms.size:
            got = s.latency.loc[name, ["p50", "p90", "p99"]].to_numpy(float)
            np.testing.assert_allclose(got, np.percentile(ms, [50, 90, 99]))
        req = request_mask(steady) & (steady["name"] == name).to_numpy()
        assert s.latency.loc[name, "steady_requests"] == req.sum()
    # windows: requests per window and name, and failures by kind, as the rows give them
    window = 5.0
    want = over_time(ev, window_s=window, quantiles=())
    got = s.over_time(window_s=window, quantiles=())
    merged = want.merge(got, on=["t_s", "name"], how="outer", suffixes=("_rows", "_scan"))
    np.testing.assert_array_equal(merged["requests_rows"], merged["requests_scan"])
    pd.testing.assert_frame_equal(
        s.failures_over_time(window_s=window),
        failures_over_time(ev, window_s=window, end_s=s.last_s),
        check_dtype=False,
    )
    # whole steady windows from each run's cut, as compare judges throughput
    rates = []
    for run, cut in s.warmup.items():
        one = steady[(steady["run"] == run).to_numpy() & request_mask(steady)]
        last_request = float(one["elapsed_s"].max())  # whole windows end at the last request
        n_win = int((last_request - cut.cut_s) // window)
        idx = ((one["elapsed_s"].to_numpy() - cut.cut_s) // window).astype(int)
        rates.append(np.bincount(idx[idx < n_win], minlength=n_win) / window)
    np.testing.assert_array_equal(window_throughput(s, window), np.concatenate(rates))


@pytest.mark.parametrize("warmup", ["auto", "none", 4.0])
def test_streamed_summary_matches_the_rows(busy_run: Path, warmup: object) -> None:
    s = summarize(load_run(busy_run), warmup=warmup)  # type: ignore[arg-type]
    assert s.runs_counted.isolation_violations > 4  # the late frames moved runs
    if warmup == "auto":
        assert s.warmup["busy"].cut_s > 0  # the ramp is cut
        # the rule on the rows in memory cuts at the same place
        assert warmup_cuts(s.all_events)["busy"].cut_s == pytest.approx(s.warmup["busy"].cut_s)
    check_against_rows(s)


def test_batch_size_changes_nothing(busy_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = summarize(load_run(busy_run))
    monkeypatch.setattr(scan, "BATCH_ROWS", 97)  # late frames land in other batches
    small = summarize(load_run(busy_run))
    assert small.runs_counted == whole.runs_counted
    assert small.warmup == whole.warmup
    pd.testing.assert_frame_equal(small.latency, whole.latency)
    pd.testing.assert_frame_equal(small.failures, whole.failures)
    pd.testing.assert_frame_equal(small.per_run, whole.per_run)
    pd.testing.assert_frame_equal(small.per_run_requests, whole.per_run_requests)
    check_against_rows(small)


def test_group_of_runs(make_run: MakeRun) -> None:
    runs = [load_run(make_run(f"g{i}", seed=i, failure_rate=0.02)) for i in range(3)]
    s = summarize(runs)
    check_against_rows(s)
    per_name = s.per_run.groupby(level="name")["ok"].sum()
    for name, x in s.samples.items():
        assert per_name.get(name, 0) == x.size  # the group's samples are the runs' together
    one = s.per_run.loc[("g1", "golden_path")]
    steady = s.events
    ms = steady.loc[
        (steady["run"] == "g1") & (steady["name"] == "golden_path") & steady["ok"], "ms"
    ]
    assert one["p50"] == pytest.approx(np.percentile(ms, 50))


def test_plot_sample_is_seeded_and_bounded(
    make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_run("p", seed=2, n=20000)
    monkeypatch.setattr(scan, "PLOT_ROWS", 2000)
    a, b = (summarize(load_run(path)) for _ in range(2))
    pd.testing.assert_frame_equal(a.plot_events, b.plot_events)  # the same sample every time
    assert 1500 < len(a.plot_events) < 2500
    assert a.plot_events["ok"].all()
    # percentiles come from the sample; requests per window stay exact
    ot = a.over_time(window_s=10.0, names=["golden_path"])
    ev = a.all_events
    exact = over_time(ev, window_s=10.0, names=["golden_path"])
    np.testing.assert_array_equal(ot["requests"], exact["requests"])
    np.testing.assert_allclose(ot["p50"], exact["p50"], rtol=0.1)
    # below the bound the sample is every successful row
    monkeypatch.setattr(scan, "PLOT_ROWS", 10**9)
    full = summarize(load_run(path))
    assert len(full.plot_events) == int((ev["ok"] & (ev["name"] != "late_frame")).sum())


def test_rank_tests_on_a_seeded_subsample() -> None:
    rng = np.random.default_rng(0)
    x = np.sort(rng.normal(size=10_000))
    assert rank_test_sample(x, 20_000, rng) is x
    a = rank_test_sample(x, 1000, np.random.default_rng(5))
    b = rank_test_sample(x, 1000, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.size == 1000 and np.all(np.diff(a) >= 0) and np.isin(a, x).all()
    assert np.unique(a).size == 1000  # without replacement
    assert abs(quantiles_sorted(a, [0.5])[0] - quantiles_sorted(x, [0.5])[0]) < 0.2


def test_lazy_load_reads_no_rows_and_a_bad_page_is_named(busy_run: Path) -> None:
    run = load_run(busy_run)
    assert "events" not in run.__dict__  # only footers were read
    assert run.rows == sum(pq.read_metadata(f).num_rows for f in run.files)
    part = run.files[1]
    data = bytearray(part.read_bytes())
    for pos in range(8, len(data) // 2, 7):  # the pages, not the footer
        data[pos] ^= 0x5A
    part.write_bytes(bytes(data))
    damaged = load_run(busy_run)
    with pytest.raises(CorruptFileError) as exc:
        summarize(damaged)
    assert exc.value.path == part


def test_runs_scanned_with_different_ticks_compare_and_plot(make_run: MakeRun) -> None:
    """A 3-day run is scanned in 10 s ticks, a 30 s run in 10 ms ticks: the windows they
    share are whole 10 s ticks (the judged throughput and every plot)."""
    from analysis import plots
    from analysis.compare import compare

    short = summarize(load_run(make_run("short", seed=1)))
    long = summarize(load_run(make_run("long", seed=2, duration_s=250_000.0)))
    assert short.ticks_s == [0.01] and long.ticks_s == [10.0]
    c = compare(short, long)
    assert c.metrics.loc[c.metrics["section"] == "throughput", "window_s"].iloc[0] % 10 == 0
    sides = [("short", short), ("long", long)]
    for figure in (plots.throughput_over_time, plots.percentiles_over_time):
        figure(sides)

"""Reading results directories: both event layouts, groups, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.errors import (
    CorruptFileError,
    EmptyRunError,
    MissingFileError,
    ResultsError,
    SchemaVersionError,
)
from analysis.load import load_group, load_run, locate, resolve_run_dirs
from tests.utils.synth import SCHEMA, MakeRun


def test_load_run_types_and_elapsed(make_run: MakeRun) -> None:
    run = load_run(make_run("r1", seed=1, failure_rate=0.01, closes_1011=2))
    ev = run.events
    assert run.meta["schema_version"] == 2
    assert run.factory_mode == "canonical"
    assert str(ev["ts"].dtype) == "datetime64[us, UTC]"
    assert isinstance(ev["name"].dtype, pd.CategoricalDtype)
    assert str(ev["close_code"].dtype) == "Int32"
    assert ev["ms"].dtype == "float64" and ev["ok"].dtype == bool
    assert ev["elapsed_s"].min() == 0.0 and ev["elapsed_s"].max() <= 31
    assert len(ev) == run.meta["events_rows"]
    assert (ev["close_code"] == 1011).sum() == 4  # two rows (response + golden path) per close


def test_a_version_1_run_reads_with_no_late_frames(make_run: MakeRun) -> None:
    # runs recorded before late-frame rows existed have no msg_id or prior_kind column
    old = load_run(make_run("v1", seed=4, closes_1011=2, schema_version=1), all_columns=True)
    new = load_run(make_run("v2", seed=4, closes_1011=2), all_columns=True)
    assert old.meta["schema_version"] == 1
    assert list(old.events.columns) == list(new.events.columns)
    assert old.events["msg_id"].isna().all() and old.events["prior_kind"].isna().all()
    pd.testing.assert_frame_equal(old.events, new.events)


def test_parts_read_like_merged(make_run: MakeRun) -> None:
    merged = load_run(make_run("m", seed=3)).events
    parts = load_run(make_run("p", seed=3, parts=4)).events
    assert not (Path(make_run("q", seed=3, parts=2)) / "events.parquet").exists()
    pd.testing.assert_series_equal(merged["ms"], parts["ms"])
    assert list(merged["name"].cat.categories) == list(parts["name"].cat.categories)


def test_all_columns(make_run: MakeRun) -> None:
    ev = load_run(make_run("r", failure_rate=0.05), all_columns=True).events
    assert {"run_id", "detail"} <= set(ev.columns)
    assert ev.loc[~ev["ok"], "detail"].notna().all()


def test_group_from_directory_of_runs(tmp_path: Path, make_run: MakeRun) -> None:
    for i in range(3):
        make_run(f"build/run-{i}", seed=i)
    group = load_group(tmp_path / "build")
    assert group.run_labels == ["run-0", "run-1", "run-2"]
    assert group.label == "build (3 runs)"
    ev = group.events
    assert len(ev) == sum(len(r.events) for r in group.runs)
    assert list(ev["run"].cat.categories) == group.run_labels
    assert isinstance(ev["name"].dtype, pd.CategoricalDtype)
    # a run directory and a directory of runs mix
    assert len(resolve_run_dirs([tmp_path / "build" / "run-0", tmp_path / "build"])) == 4


def _bad(tmp_path: Path, make_run: MakeRun, case: str) -> tuple[Path, Path]:
    """A broken run directory and the file the error must name."""
    run = make_run("bad", seed=1)
    if case == "missing meta":
        (run / "meta.json").unlink()
        return run, run / "meta.json"
    if case == "missing events":
        (run / "events.parquet").unlink()
        return run, run / "events.parquet"
    if case == "corrupt parquet":
        (run / "events.parquet").write_bytes(b"PAR1 this is not parquet")
        return run, run / "events.parquet"
    if case == "truncated parquet":
        data = (run / "events.parquet").read_bytes()
        (run / "events.parquet").write_bytes(data[: len(data) // 2])
        return run, run / "events.parquet"
    if case == "wrong schema_version":
        meta = json.loads((run / "meta.json").read_text())
        meta["schema_version"] = 99
        (run / "meta.json").write_text(json.dumps(meta))
        return run, run / "meta.json"
    if case == "corrupt meta":
        (run / "meta.json").write_text("{not json")
        return run, run / "meta.json"
    if case == "empty run":
        pq.write_table(SCHEMA.empty_table(), run / "events.parquet")
        return run, run / "events.parquet"
    if case == "wrong column type":
        table = pq.read_table(run / "events.parquet")
        i = table.schema.get_field_index("ms")
        table = table.set_column(i, "ms", table.column("ms").cast(pa.string()))
        pq.write_table(table, run / "events.parquet")
        return run, run / "events.parquet"
    if case == "missing column":
        table = pq.read_table(run / "events.parquet").drop_columns(["ok"])
        pq.write_table(table, run / "events.parquet")
        return run, run / "events.parquet"
    raise AssertionError(case)


BAD_CASES = {
    "missing meta": MissingFileError,
    "missing events": MissingFileError,
    "corrupt parquet": CorruptFileError,
    "truncated parquet": CorruptFileError,
    "wrong schema_version": SchemaVersionError,
    "corrupt meta": CorruptFileError,
    "empty run": EmptyRunError,
    "wrong column type": CorruptFileError,
    "missing column": CorruptFileError,
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_names_the_file(tmp_path: Path, make_run: MakeRun, case: str) -> None:
    run, culprit = _bad(tmp_path, make_run, case)
    with pytest.raises(BAD_CASES[case]) as info:
        load_run(run)
    assert isinstance(info.value, ResultsError)
    assert info.value.path == culprit
    assert str(culprit) in str(info.value) and "\n" not in str(info.value)


def test_not_a_run_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match="meta.json"):
        load_group(tmp_path / "empty")
    with pytest.raises(MissingFileError, match="no such run directory"):
        load_run(tmp_path / "nope")


def test_locate_looks_in_parents(
    tmp_path: Path, make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_run("results/baselines/legacy/run-0")
    deep = tmp_path / "analysis" / "notebooks"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    found = locate("results/baselines/legacy")
    assert found == tmp_path / "results" / "baselines" / "legacy"
    assert locate("no/such/dir") == Path("no/such/dir")

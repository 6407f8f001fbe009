"""merge_parts holds a slice of rows at a time, and writes what one global stable sort would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loadtests import merge, results
from loadtests.merge import merge_parts
from loadtests.results import PartWriter, rows_to_table


def _rows(
    rng: np.random.Generator, start: int, n: int, spread_s: float
) -> list[tuple[object, ...]]:
    """Rows as the recorder writes them: ``ts`` is a request's start, so a part written at
    second k holds starts from up to ``spread_s`` earlier; many rows share a ``ts``."""
    ts = np.round(1.7e9 + start + rng.uniform(-spread_s, 0, n), 2)  # 10 ms grid: ties
    return [
        (float(t), f"load{i % 7}", "login", "HTTP", float(i), float(i), bool(i % 5), None,
         None, "local", f"run{start}-{i}", None, None, None)
        for i, t in enumerate(ts)
    ]  # fmt: skip


@pytest.mark.parametrize("slice_rows", [1, 37, 10**6])
def test_merge_equals_one_stable_sort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_rows: int
) -> None:
    monkeypatch.setattr(merge, "MERGE_SLICE_ROWS", slice_rows)
    rng = np.random.default_rng(slice_rows)
    parts = PartWriter(tmp_path / "events")
    (tmp_path / "events").mkdir()
    written = []
    for k in range(12):  # parts whose ts ranges overlap their neighbours'
        rows = _rows(rng, k, int(rng.integers(0, 40)), spread_s=2.5)
        if rows:
            assert parts.write(rows)
            written += rows
    pending = _rows(rng, 3, 9, spread_s=5.0)  # never written: overlaps many slices
    want = rows_to_table(written + pending).sort_by("ts")
    assert merge_parts(tmp_path, pending=pending) == want.num_rows
    got = pq.read_table(tmp_path / "events.parquet")
    assert got.equals(want)
    assert not (tmp_path / "events").exists()
    if slice_rows == 37:
        assert pq.read_metadata(tmp_path / "events.parquet").num_row_groups > 3


def test_merge_of_nothing_writes_an_empty_file(tmp_path: Path) -> None:
    assert merge_parts(tmp_path) == 0
    assert pq.read_table(tmp_path / "events.parquet").schema.equals(results.SCHEMA)


def test_merge_keeps_a_merged_file_and_null_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second merge (parts written after the first) keeps the first's rows."""
    monkeypatch.setattr(merge, "MERGE_SLICE_ROWS", 5)
    rng = np.random.default_rng(1)
    first = _rows(rng, 0, 20, spread_s=1.0)
    pq.write_table(rows_to_table(first).sort_by("ts"), tmp_path / "events.parquet")
    (tmp_path / "events").mkdir()
    later = _rows(rng, 1, 20, spread_s=3.0)
    PartWriter(tmp_path / "events").write(later)
    table = rows_to_table(first + later)
    nulls = pa.table({c: pa.nulls(2, table.schema.field(c).type) for c in table.schema.names}).cast(
        table.schema
    )
    pq.write_table(nulls, tmp_path / "events" / "part-999999.parquet")
    assert merge_parts(tmp_path) == 42
    got = pq.read_table(tmp_path / "events.parquet")
    assert got.column("ts").null_count == 2
    # one global stable sort puts the rows with no ts last
    assert got.equals(pa.concat_tables([table, nulls]).sort_by("ts"))


def test_a_directory_named_like_a_partition_is_not_a_column(tmp_path: Path) -> None:
    out = tmp_path / "users=50" / "run"  # pyarrow's hive discovery would add a users column
    (out / "events").mkdir(parents=True)
    rows = _rows(np.random.default_rng(2), 0, 10, spread_s=1.0)
    PartWriter(out / "events").write(rows)
    assert merge_parts(out) == 10
    merged = pq.ParquetFile(out / "events.parquet").read()  # read_table would add the column
    assert merged.equals(rows_to_table(rows).sort_by("ts"))

"""A results file's ``ts`` span from its Parquet footer, without reading rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from resultsformat.footer import footer_ts_span

US = pa.timestamp("us", tz="UTC")
T0 = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def _write(path: Path, ts: list[dt.datetime | None], **options: object) -> Path:
    table = pa.table({"ts": pa.array(ts, US), "ms": pa.array([1.0] * len(ts))})
    pq.write_table(table, path, row_group_size=3, **options)  # type: ignore[arg-type]
    return path


def _us(t: dt.datetime) -> int:
    return int(pa.scalar(t, US).cast(pa.int64()).as_py())


def test_the_span_of_every_row_group_equals_the_rows_min_and_max(tmp_path: Path) -> None:
    ts = [T0 + dt.timedelta(milliseconds=m) for m in (50, 10, 999, 3, 700, 2, 40)]
    span = footer_ts_span(_write(tmp_path / "a.parquet", ts))
    assert span is not None
    assert (span.first_us, span.last_us) == (_us(min(ts)), _us(max(ts))), span
    assert span.rows == 7 and not span.nulls


def test_a_null_ts_is_reported(tmp_path: Path) -> None:
    span = footer_ts_span(_write(tmp_path / "a.parquet", [T0, None, T0]))
    assert span is not None and span.nulls and span.first_us == _us(T0)


@pytest.mark.parametrize(
    ("ts", "options"),
    [([T0, T0], {"write_statistics": False}), ([None, None], {})],
    ids=["no statistics", "only nulls"],
)
def test_none_when_the_footer_cannot_tell(
    tmp_path: Path, ts: list[dt.datetime | None], options: dict[str, object]
) -> None:
    assert footer_ts_span(_write(tmp_path / "a.parquet", ts, **options)) is None


def test_an_empty_file_has_no_first_or_last(tmp_path: Path) -> None:
    span = footer_ts_span(_write(tmp_path / "a.parquet", []))
    assert span is not None and span.first_us is None and span.rows == 0


def test_a_file_without_ts_is_a_key_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"ms": [1.0]}), tmp_path / "a.parquet")
    with pytest.raises(KeyError, match="no ts column"):
        footer_ts_span(tmp_path / "a.parquet")

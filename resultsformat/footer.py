"""What a results file's Parquet footer says about its ``ts`` column, without reading rows.

The load harness (merging parts by time slice) and the analysis (a run's first and
last event) both need a file's time span; this is the one reading of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_US = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class TsSpan:
    """A file's first and last ``ts`` in µs since the epoch (None: no row has one), its
    rows, and whether a row may lack a ``ts``."""

    first_us: int | None
    last_us: int | None
    rows: int
    nulls: bool


def footer_ts_span(path: Path) -> TsSpan | None:
    """The ``ts`` span from the row groups' statistics; None when they cannot tell (a row
    group without min/max, or raw statistics whose unit is not known). Raises OSError or
    ``pyarrow.ArrowException`` for a footer that cannot be read, KeyError for a file
    without ``ts``."""
    meta = pq.read_metadata(path)
    column = meta.schema.to_arrow_schema().get_field_index("ts")
    if column < 0:
        raise KeyError(f"{path}: no ts column")
    first: int | None = None
    last: int | None = None
    nulls = False
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if group.num_rows == 0:
            continue
        stats = group.column(column).statistics
        if stats is None or not stats.has_min_max or isinstance(stats.min, int):
            return None
        nulls |= bool(stats.null_count)
        lo, hi = _us(stats.min), _us(stats.max)
        first = lo if first is None else min(first, lo)
        last = hi if last is None else max(last, hi)
    return TsSpan(first, last, meta.num_rows, nulls)


def _us(value: object) -> int:
    return int(pa.scalar(value, type=_US).cast(pa.int64()).as_py())

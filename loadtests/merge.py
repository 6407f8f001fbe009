"""``merge_parts``: the parts of a run merged into ``events.parquet``, in bounded memory."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loadtests.results import SCHEMA, Row, atomic_open, rows_to_table
from resultsformat.footer import footer_ts_span

#: Rows sorted and written at a time by ``merge_parts``: its memory, whatever the run's length.
MERGE_SLICE_ROWS = 500_000


def merge_parts(out_dir: Path, pending: list[Row] | None = None) -> int:
    """Merge ``events/part-*.parquet`` (and ``pending`` rows never written) into
    ``events.parquet``, sorted by ``ts``; returns its row count.

    The merge holds about ``MERGE_SLICE_ROWS`` rows at a time, not the run: the
    parts' ``ts`` ranges (from their footers) cut time into slices of about that
    many rows; each slice's rows are read from the parts that overlap it (only their
    row groups that do), sorted (stably, so rows of equal ``ts`` keep their order) and
    written as a row group. Rows with no ``ts`` come last, as a global sort puts them.

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
    with atomic_open(target, "wb") as fh, pq.ParquetWriter(fh, SCHEMA, compression="zstd") as out:
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
        nulls = [_null_rows(src) for src, span in zip(sources, spans, strict=True) if span[3]]
        if any(t.num_rows for t in nulls):
            out.write_table(pa.concat_tables(nulls))
            written += sum(t.num_rows for t in nulls)
        if not written:
            out.write_table(rows_to_table([]))
    for p in parts:
        p.unlink()
    if parts_dir.is_dir() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()
    return written


_NO_TS = (-(2**63), 2**63 - 1)  # a source without statistics overlaps every slice
Span = tuple[int, int, int, bool]  # first ts, last ts (µs), rows, may hold a null ts


def _ts_span(src: pa.Table | Path) -> Span:
    """A source's ``ts`` range, rows, and whether it may hold a null ``ts``."""
    if isinstance(src, pa.Table):
        mm = pc.min_max(_us(src.column("ts")))
        nulls = src.column("ts").null_count > 0
        if not mm["min"].is_valid:
            return _NO_TS[1], _NO_TS[0], src.num_rows, nulls  # overlaps no slice
        return mm["min"].as_py(), mm["max"].as_py(), src.num_rows, nulls
    span = footer_ts_span(src)
    if span is None:  # no statistics: overlaps every slice
        return _NO_TS[0], _NO_TS[1], pq.read_metadata(src).num_rows, True
    if span.first_us is None or span.last_us is None:
        return _NO_TS[1], _NO_TS[0], span.rows, span.nulls  # overlaps no slice
    return span.first_us, span.last_us, span.rows, span.nulls


def _us(ts: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.cast(ts, SCHEMA.field("ts").type).cast(pa.int64())


def _slices(spans: list[Span]) -> list[tuple[int | None, int | None]]:
    """Half-open ``ts`` ranges (None: unbounded) covering every source, each about
    ``MERGE_SLICE_ROWS`` rows (a source's rows counted at its first ``ts``)."""
    cuts: list[int] = []
    acc = 0
    for first, _last, rows, _nulls in sorted(spans):
        if acc >= MERGE_SLICE_ROWS and first > _NO_TS[0] and (not cuts or first > cuts[-1]):
            cuts.append(first)
            acc = 0
        acc += rows
    edges: list[int | None] = [None, *cuts, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _overlaps(span: Span, lo: int | None, hi: int | None) -> bool:
    first, last, _, _ = span
    return (hi is None or first < hi) and (lo is None or last >= lo)


def _bound(us: int) -> pa.Scalar:
    return pa.scalar(us, pa.int64()).cast(SCHEMA.field("ts").type)


def _read(src: pa.Table | Path, where: pc.Expression) -> pa.Table:
    """The rows of ``src`` that match ``where`` (a file: only its row groups that may)."""
    if isinstance(src, pa.Table):
        table = src.filter(where)
    else:
        # partitioning=None: a directory named like "users=50" is not a column
        table = pq.read_table(src, filters=where, partitioning=None)
    return table if table.schema.equals(SCHEMA) else table.cast(SCHEMA)


def _rows_between(src: pa.Table | Path, lo: int | None, hi: int | None) -> pa.Table:
    """The rows of ``src`` with ``lo <= ts < hi`` (a null ``ts`` is in no slice)."""
    ts = pc.field("ts")
    where = ts.is_valid()
    if lo is not None:
        where = where & (ts >= _bound(lo))
    if hi is not None:
        where = where & (ts < _bound(hi))
    return _read(src, where)


def _null_rows(src: pa.Table | Path) -> pa.Table:
    return _read(src, pc.field("ts").is_null())

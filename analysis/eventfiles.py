"""One events file of a run: its schema checked from the footer, its columns read and
cast to one canonical type (``results/README.md``, schema_version 1 and 2).

``load`` checks every file when a run is loaded; ``Run.events`` and the streamed
scan (:mod:`analysis.scan`) both read through ``read_batches``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis.errors import CorruptFileError
from resultsformat import SCHEMA_VERSION
from resultsformat.schema import ADDED_IN_V2

# Column -> kind of Arrow type the format promises (results/README.md).
EVENT_COLUMNS: dict[str, str] = {
    "ts": "timestamp",
    "user": "string",
    "name": "string",
    "type": "string",
    "ms": "float",
    "service_ms": "float",
    "ok": "bool",
    "failure_kind": "string",
    "close_code": "integer",
    "worker": "string",
    "run_id": "string",
    "detail": "string",
    "msg_id": "string",
    "prior_kind": "string",
}
# What the analysis needs; the high-cardinality text columns are read on request only.
ANALYSIS_COLUMNS = (
    "ts",
    "user",
    "name",
    "type",
    "ms",
    "service_ms",
    "ok",
    "failure_kind",
    "close_code",
    "worker",
    "prior_kind",
)
# Low-cardinality strings become pandas categoricals: cheap to group by, cheap to hold.
CATEGORICAL = ("user", "name", "type", "failure_kind", "worker", "prior_kind")


def check_events_file(path: Path, version: int = SCHEMA_VERSION) -> int:
    """Check one file's schema from its footer; returns its row count."""
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"not a readable Parquet file ({_short(exc)})") from None
    absent = [c for c in ADDED_IN_V2 if c not in schema.names] if version < 2 else []
    _check_schema(path, schema, absent)
    return int(meta.num_rows)


def read_batches(
    path: Path, columns: Sequence[str], *, batch_rows: int | None = None
) -> Iterator[pa.Table]:
    """``columns`` of one events file checked by ``load_run``, normalised: the whole file
    as one table, or ``batch_rows`` rows at a time. A column the file lacks (a version-1
    run's ``msg_id``, ``prior_kind``) is null. A page that cannot be read is a
    ``CorruptFileError`` naming the file."""
    try:
        footer = pq.read_metadata(path)
        names = footer.schema.to_arrow_schema().names
        present = [c for c in columns if c in names]
        dictionary = [c for c in CATEGORICAL if c in present]
        reader = pq.ParquetFile(path, metadata=footer, read_dictionary=dictionary)
        tables: Iterable[pa.Table] = (
            [reader.read(columns=present)]
            if batch_rows is None
            else (
                pa.Table.from_batches([batch], schema=batch.schema)
                for batch in reader.iter_batches(batch_size=batch_rows, columns=present)
            )
        )
        for table in tables:
            for name in columns:
                if name not in present:  # a version-1 run: no late-frame rows, no message ids
                    table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
            yield normalise(path, table.select(list(columns)))
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"not a readable Parquet file ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def _kind_ok(kind: str, t: pa.DataType) -> bool:
    if pa.types.is_null(t):  # a batch where a nullable column happened to be all null
        return kind != "timestamp"
    if pa.types.is_dictionary(t):
        t = t.value_type
    checks: dict[str, Callable[[pa.DataType], bool]] = {
        "timestamp": pa.types.is_timestamp,
        "string": lambda x: pa.types.is_string(x) or pa.types.is_large_string(x),
        "float": pa.types.is_floating,
        "bool": pa.types.is_boolean,
        "integer": pa.types.is_integer,
    }
    return checks[kind](t)


def _check_schema(path: Path, schema: pa.Schema, absent: Sequence[str] = ()) -> None:
    missing = [c for c in EVENT_COLUMNS if c not in schema.names and c not in absent]
    if missing:
        raise CorruptFileError(path, f"missing column(s) {', '.join(missing)}")
    repeated = [c for c in EVENT_COLUMNS if schema.names.count(c) > 1]
    if repeated:
        raise CorruptFileError(path, f"column(s) {', '.join(repeated)} appear more than once")
    for col, kind in EVENT_COLUMNS.items():
        if col in absent:
            continue
        t = schema.field(col).type
        if not _kind_ok(kind, t):
            raise CorruptFileError(path, f"column {col!r} has type {t}, expected {kind}")
    ts = schema.field("ts").type
    if ts.tz not in ("UTC", "utc", "+00:00", "Etc/UTC"):
        raise CorruptFileError(path, f"column 'ts' has type {ts}, expected a UTC timestamp")


_TARGET: dict[str, pa.DataType] = {
    "ts": pa.timestamp("us", tz="UTC"),
    "ms": pa.float64(),
    "service_ms": pa.float64(),
    "ok": pa.bool_(),
    "close_code": pa.int32(),
    "run_id": pa.string(),
    "detail": pa.string(),
    "msg_id": pa.string(),
}


def normalise(path: Path, table: pa.Table) -> pa.Table:
    """Cast every column to one canonical type so parts concatenate cleanly.

    A value the canonical type cannot hold (a close code beyond int32, seconds
    beyond the microsecond range) is a ``CorruptFileError`` naming the column.
    """
    cols = []
    for name in table.column_names:
        col = table.column(name)
        try:
            if name in CATEGORICAL:
                target: pa.DataType = pa.dictionary(pa.int32(), pa.string())
                if not pa.types.is_dictionary(col.type):
                    col = pc.dictionary_encode(col.cast(pa.string()))
            else:
                target = _TARGET[name]
            if name == "ok":
                col = pc.fill_null(col.cast(pa.bool_()), False)
            if col.type != target:
                # Nanoseconds are truncated to microseconds (the format's unit), not refused.
                safe = not (name == "ts" and col.type.unit == "ns")
                col = col.cast(target, safe=safe)
        except pa.ArrowException as exc:
            raise CorruptFileError(path, f"column {name!r}: {_short(exc)}") from None
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def to_frame(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)
    ts = table.column("ts").combine_chunks().cast(pa.int64())
    us = ts.to_numpy(zero_copy_only=False)
    df["elapsed_s"] = (us - us.min()) / 1e6
    return df

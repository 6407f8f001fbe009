"""Load results directories (schema_version 1 and 2, see ``results/README.md``).

``load_run`` reads one run directory; ``load_group`` reads repeated runs of one
build (several run directories, or a directory holding them) as a ``RunGroup``.
Only the on-disk format is read: nothing here knows the load harness's code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis.errors import (
    CorruptFileError,
    EmptyRunError,
    MissingFileError,
    ResultsError,
    SchemaVersionError,
)
from resultsformat import READABLE_VERSIONS, SCHEMA_VERSION
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
_CATEGORICAL = ("user", "name", "type", "failure_kind", "worker", "prior_kind")

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class Run:
    """One load run: its ``meta.json`` and its event files, checked.

    ``events`` (one row per timed request, the schema's columns plus ``elapsed_s``:
    seconds since the run's first event, so runs started at different times line up)
    is read on first use and kept. ``summarize`` does not use it: it streams the
    files (:mod:`analysis.scan`), so a run of any length is summarized in bounded memory.
    """

    path: Path
    meta: dict[str, Any]
    files: tuple[Path, ...]
    rows: int  # from the files' footers
    all_columns: bool = False

    @cached_property
    def events(self) -> pd.DataFrame:
        columns = list(EVENT_COLUMNS) if self.all_columns else list(ANALYSIS_COLUMNS)
        version = int(self.meta["schema_version"])
        tables = [_read_events_file(f, columns, version) for f in self.files]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        return _to_pandas(table)

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.path.name)

    @property
    def label(self) -> str:
        return self.path.name or self.run_id

    @property
    def factory_mode(self) -> str | None:
        mode = self.meta.get("factory_mode")
        return None if mode is None else str(mode)


@dataclass(frozen=True, eq=False)
class RunGroup:
    """Repeated runs of one build, analysed together (pooled, run-to-run spread kept)."""

    runs: tuple[Run, ...]
    label: str = field(default="")

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a RunGroup needs at least one run")
        if not self.label:
            object.__setattr__(self, "label", _group_label(self.runs))

    @cached_property
    def events(self) -> pd.DataFrame:
        """All runs' events, with a categorical ``run`` column naming each row's run."""
        return concat_events([r.events for r in self.runs], [r.label for r in self.runs])

    @property
    def run_labels(self) -> list[str]:
        return [r.label for r in self.runs]

    @property
    def factory_modes(self) -> list[str]:
        return sorted({m for r in self.runs if (m := r.factory_mode) is not None})


def _group_label(runs: Sequence[Run]) -> str:
    modes = sorted({r.factory_mode for r in runs if r.factory_mode})
    if len(runs) == 1:
        return runs[0].label
    parents = {r.path.parent.name for r in runs}
    base = parents.pop() if len(parents) == 1 else "+".join(modes) or "group"
    return f"{base} ({len(runs)} runs)"


def as_group(data: Run | RunGroup | Sequence[Run], label: str | None = None) -> RunGroup:
    """Wrap a run (or a list of runs) as a group; a group passes through."""
    if isinstance(data, RunGroup):
        return data if label is None else RunGroup(data.runs, label)
    runs = (data,) if isinstance(data, Run) else tuple(data)
    return RunGroup(runs, label or "")


def concat_events(frames: Sequence[pd.DataFrame], labels: Sequence[str]) -> pd.DataFrame:
    """Stack events of several runs; categoricals keep one shared set of categories."""
    if len(frames) == 1:
        out = frames[0].copy(deep=False)
        out["run"] = pd.Categorical.from_codes(
            np.zeros(len(out), dtype=np.int8), categories=list(labels)
        )
        return out
    frames = [f.copy(deep=False) for f in frames]
    for col in _CATEGORICAL:
        cats = sorted({c for f in frames if col in f for c in f[col].cat.categories})
        for f in frames:
            if col in f:
                f[col] = f[col].cat.set_categories(cats)
    codes = np.repeat(np.arange(len(frames), dtype=np.int16), [len(f) for f in frames])
    out = pd.concat(frames, ignore_index=True)
    out["run"] = pd.Categorical.from_codes(codes, categories=list(labels))
    return out


# --- reading -----------------------------------------------------------------


def load_run(path: str | Path, *, all_columns: bool = False, lazy: bool = True) -> Run:
    """Read one run directory; raise a ``ResultsError`` naming the file at fault.

    Accepts ``events.parquet`` or, for a run whose runner died before merging,
    ``events/part-*.parquet``. ``all_columns`` also reads ``run_id``, ``detail`` and
    ``msg_id``. Columns a version-1 run lacks (``msg_id``, ``prior_kind``) are null.
    The meta and every file's schema and row count are checked now; the rows stay on
    disk until ``events`` is used (``summarize`` streams them instead), where a damaged
    page is a ``CorruptFileError`` too. ``lazy=False`` reads ``events`` now.
    """
    root = Path(path)
    if not root.is_dir():
        raise MissingFileError(root, "no such run directory")
    meta = read_meta(root / "meta.json")
    files = _event_files(root)
    version = int(meta["schema_version"])
    rows = sum(_check_events_file(f, version) for f in files)
    if rows == 0:
        raise EmptyRunError(files[0] if len(files) == 1 else root / "events", "has no rows")
    run = Run(path=root, meta=meta, files=tuple(files), rows=rows, all_columns=all_columns)
    if not lazy:
        run.events  # noqa: B018 - read now, so a damaged page is named by load_run
    return run


def read_meta(path: Path) -> dict[str, Any]:
    """Parse and check ``meta.json``."""
    if not path.is_file():
        raise MissingFileError(path, "missing (every run directory has a meta.json)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(path, f"not valid JSON ({exc})") from None
    except RecursionError:  # nesting deeper than the parser's stack
        raise CorruptFileError(path, "not valid JSON (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CorruptFileError(path, "is not a JSON object")
    version = meta.get("schema_version")
    if version is None:
        raise SchemaVersionError(path, "has no schema_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        readable = " and ".join(map(str, READABLE_VERSIONS))
        raise SchemaVersionError(
            path, f"schema_version {version!r} is not supported (this reader reads {readable})"
        )
    return meta


def _event_files(root: Path) -> list[Path]:
    merged = root / "events.parquet"
    if merged.is_file():
        return [merged]
    parts = sorted((root / "events").glob("part-*.parquet"))
    if parts:
        return parts
    raise MissingFileError(merged, "missing (and no events/part-*.parquet either)")


def _check_events_file(path: Path, version: int = SCHEMA_VERSION) -> int:
    """Check one file's schema from its footer; returns its row count."""
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"not a readable Parquet file ({_short(exc)})") from None
    absent = [c for c in ADDED_IN_V2 if c not in schema.names] if version < 2 else []
    _check_schema(path, schema, absent)
    return int(meta.num_rows)


def _read_events_file(path: Path, columns: list[str], version: int = SCHEMA_VERSION) -> pa.Table:
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"not a readable Parquet file ({_short(exc)})") from None
    absent = [c for c in ADDED_IN_V2 if c not in schema.names] if version < 2 else []
    _check_schema(path, schema, absent)
    present = [c for c in columns if c not in absent]
    dict_cols = [c for c in _CATEGORICAL if c in present]
    try:
        table = pq.read_table(path, columns=present, read_dictionary=dict_cols)
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"not a readable Parquet file ({_short(exc)})") from None
    for name in columns:
        if name not in present:  # a version-1 run: no late-frame rows, no message ids
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return normalise(path, table.select(columns))


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
            if name in _CATEGORICAL:
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


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)
    ts = table.column("ts").combine_chunks().cast(pa.int64())
    us = ts.to_numpy(zero_copy_only=False)
    df["elapsed_s"] = (us - us.min()) / 1e6
    return df


# --- groups --------------------------------------------------------------------


def _is_run_dir(path: Path) -> bool:
    return (path / "meta.json").is_file() or (path / "events.parquet").is_file()


def resolve_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand each path: a run directory stays, a directory of runs gives its runs."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            raise MissingFileError(p, "no such run directory")
        if _is_run_dir(p):
            out.append(p)
            continue
        children = sorted(c for c in p.iterdir() if c.is_dir() and _is_run_dir(c))
        if not children:
            raise MissingFileError(p / "meta.json", "missing (not a run, nor a directory of runs)")
        out.extend(children)
    return out


def locate(path: str | Path) -> Path:
    """``path`` as given if it exists, else the first match relative to a parent of the cwd.

    Notebooks name results relative to the repository root (``results/baselines/...``)
    and still work when the kernel runs in ``analysis/notebooks/``.
    """
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    for parent in Path.cwd().resolve().parents:
        if (parent / p).exists():
            return parent / p
    return p


def load_group(
    paths: str | Path | Iterable[str | Path],
    *,
    label: str | None = None,
    all_columns: bool = False,
    lazy: bool = True,
    progress: Progress | None = None,
) -> RunGroup:
    """Load repeated runs of one build from run directories or directories of runs."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    dirs = resolve_run_dirs(items)
    runs = []
    for i, d in enumerate(dirs, 1):
        if progress:
            progress(f"loading {d} ({i}/{len(dirs)})")
        runs.append(load_run(d, all_columns=all_columns, lazy=lazy))
    return RunGroup(tuple(runs), label or "")


__all__ = [
    "ResultsError",
    "Run",
    "RunGroup",
    "as_group",
    "concat_events",
    "load_group",
    "load_run",
    "locate",
    "read_meta",
    "resolve_run_dirs",
]

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

from analysis.errors import (
    CorruptFileError,
    EmptyRunError,
    MissingFileError,
    ResultsError,
    SchemaVersionError,
)
from analysis.eventfiles import (
    ANALYSIS_COLUMNS,
    CATEGORICAL,
    EVENT_COLUMNS,
    check_events_file,
    normalise,
    read_batches,
    to_frame,
)
from resultsformat import READABLE_VERSIONS

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
        tables = [table for f in self.files for table in read_batches(f, columns)]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        return to_frame(table)

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
    for col in CATEGORICAL:
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
    rows = sum(check_events_file(f, version) for f in files)
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
    "ANALYSIS_COLUMNS",
    "EVENT_COLUMNS",
    "ResultsError",
    "Run",
    "RunGroup",
    "as_group",
    "concat_events",
    "load_group",
    "load_run",
    "locate",
    "normalise",
    "read_batches",
    "read_meta",
    "resolve_run_dirs",
]

"""Property tests for the results readers (``analysis/load.py``) and ``goldenpath report``.

Valid rows written in either layout read back unchanged; any hostile file (bytes,
JSON, Parquet, column types, directory layouts) gives a ``ResultsError`` naming
the file in one line, never another exception. Examples are bounded and
derandomized, so CI sees the same ones on every run.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.errors import CorruptFileError, MissingFileError, ResultsError
from analysis.load import load_group, load_run, read_meta, resolve_run_dirs
from resultsformat import READABLE_VERSIONS
from tests.utils.synth import SCHEMA, make_events, make_meta

PROPS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The cheap properties (small files, no pandas) get more examples.
MANY = settings(PROPS, max_examples=100)
NULLABLE = ("failure_kind", "close_code", "run_id", "detail", "msg_id", "prior_kind")
STRINGS = (
    "user",
    "name",
    "type",
    "failure_kind",
    "worker",
    "run_id",
    "detail",
    "msg_id",
    "prior_kind",
)


@contextmanager
def run_dir(meta: dict[str, Any] | None = None) -> Iterator[Path]:
    """A fresh run directory with a valid meta.json (hypothesis examples cannot share tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="gp-props-") as tmp:
        root = Path(tmp) / "run"
        root.mkdir()
        meta = meta if meta is not None else make_meta(run_id="props")
        (root / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        yield root


def assert_names(exc: ResultsError, culprit: Path) -> None:
    """The error a user sees: the culprit's path, on one line."""
    assert exc.path == culprit, (exc.path, culprit)
    assert str(culprit) in str(exc)
    assert "\n" not in str(exc) and "\r" not in str(exc)


def load_or_error(root: Path, **kwargs: Any) -> ResultsError | None:
    """Load ``root``; a ``ResultsError`` is returned, any other exception fails the test."""
    try:
        load_run(root, **kwargs)
    except ResultsError as exc:
        return exc
    return None


# --- round trip ------------------------------------------------------------------

texts = st.text(max_size=10)
rows = st.lists(
    st.tuples(
        st.integers(0, 4_102_444_800_000_000),  # 1970 .. 2100 in microseconds
        texts,
        texts,
        texts,
        st.floats(allow_nan=False),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none() | texts,
        st.none() | st.integers(-(2**31), 2**31 - 1),
        texts,
        st.none() | texts,
        st.none() | texts,
        st.none() | texts,
        st.none() | texts,
    ),
    min_size=1,
    max_size=30,
)


def to_table(values: list[tuple[Any, ...]], *, dictionary: bool, null_typed: bool) -> pa.Table:
    """Rows in the format; strings maybe dictionary-encoded, all-null ones maybe null-typed."""
    columns = list(zip(*values, strict=True)) if values else [[] for _ in SCHEMA]
    arrays = []
    for field, col in zip(SCHEMA, columns, strict=True):
        if field.name == "ts":
            arr = pa.array(col, type=pa.int64()).cast(field.type)
        else:
            arr = pa.array(col, type=field.type)
        if null_typed and field.name in NULLABLE and arr.null_count == len(arr):
            arr = pa.nulls(len(arr))
        elif dictionary and field.name in STRINGS:
            arr = arr.dictionary_encode()
        arrays.append(arr)
    return pa.table(arrays, names=SCHEMA.names)


@PROPS
@given(
    values=rows,
    cuts=st.lists(st.integers(0, 30), max_size=4),
    dictionary=st.booleans(),
    null_typed=st.booleans(),
    compression=st.sampled_from(["snappy", "zstd", "none"]),
)
def test_round_trip(
    values: list[tuple[Any, ...]],
    cuts: list[int],
    dictionary: bool,
    null_typed: bool,
    compression: str,
) -> None:
    """Rows come back as written: events.parquet in file order, parts in their numbered order."""
    with run_dir() as root:
        if not cuts:
            pq.write_table(
                to_table(values, dictionary=dictionary, null_typed=null_typed),
                root / "events.parquet",
                compression=compression,
            )
        else:
            (root / "events").mkdir()
            bounds = [0, *sorted(min(c, len(values)) for c in cuts), len(values)]
            for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
                part = to_table(values[a:b], dictionary=dictionary, null_typed=null_typed)
                pq.write_table(
                    part, root / "events" / f"part-{i:06d}.parquet", compression=compression
                )
        ev = load_run(root, all_columns=True).events

    assert list(ev.columns) == [*SCHEMA.names, "elapsed_s"]
    assert len(ev) == len(values)
    for j, name in enumerate(SCHEMA.names):
        got = ev[name].astype("int64").tolist() if name == "ts" else ev[name].tolist()
        want = [row[j] for row in values]
        assert [None if v is pd.NA or v != v else v for v in got] == want, name  # NaN -> None
    us = [row[0] for row in values]
    assert ev["elapsed_s"].tolist() == [(u - min(us)) / 1e6 for u in us]
    assert str(ev["ts"].dtype) == "datetime64[us, UTC]" and str(ev["close_code"].dtype) == "Int32"
    assert ev["ok"].dtype == bool and ev["ms"].dtype == "float64"
    assert all(isinstance(ev[c].dtype, pd.CategoricalDtype) for c in ("user", "name", "worker"))


# --- hostile meta.json -----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def check_meta(raw: bytes) -> None:
    with run_dir() as root:
        path = root / "meta.json"
        path.write_bytes(raw)
        try:
            meta = read_meta(path)
        except ResultsError as exc:
            assert_names(exc, path)
        else:
            assert isinstance(meta, dict) and meta["schema_version"] in READABLE_VERSIONS
        # The whole run: the meta is checked first, or the (absent) events are named.
        exc = load_or_error(root)
        assert exc is not None
        assert exc.path in (path, root / "events.parquet")


@MANY
@given(raw=st.binary(max_size=200))
def test_meta_arbitrary_bytes(raw: bytes) -> None:
    check_meta(raw)


@MANY
@given(value=json_values)
def test_meta_arbitrary_json(value: Any) -> None:
    check_meta(json.dumps(value).encode())


@MANY
@given(version=json_values, extra=st.dictionaries(st.text(max_size=8), json_values, max_size=3))
def test_meta_arbitrary_schema_version(version: Any, extra: dict[str, Any]) -> None:
    check_meta(json.dumps({**extra, "schema_version": version}).encode())


def test_meta_nested_too_deep() -> None:
    """Deeply nested JSON overflows the parser's recursion: still a CorruptFileError."""
    check_meta(b"[" * 100_000)
    check_meta(b'{"schema_version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


# --- hostile Parquet ---------------------------------------------------------------


def valid_parquet(compression: str = "none") -> bytes:
    buf = io.BytesIO()
    pq.write_table(make_events(n=40, failure_rate=0.2), buf, compression=compression)
    return buf.getvalue()


VALID = {c: valid_parquet(c) for c in ("none", "snappy")}


def check_events_bytes(data: bytes, *, as_part: bool) -> None:
    with run_dir() as root:
        if as_part:
            (root / "events").mkdir()
            path = root / "events" / "part-000000.parquet"
        else:
            path = root / "events.parquet"
        path.write_bytes(data)
        exc = load_or_error(root, all_columns=True)
        if exc is not None:
            assert_names(exc, path)


@MANY
@given(
    body=st.binary(max_size=300),
    magic=st.sampled_from([b"", b"PAR1"]),
    as_part=st.booleans(),
)
def test_garbage_parquet(body: bytes, magic: bytes, as_part: bool) -> None:
    check_events_bytes(magic + body + magic, as_part=as_part)


@MANY
@given(
    compression=st.sampled_from(sorted(VALID)),
    cut=st.integers(0, 10**6),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=6),
    as_part=st.booleans(),
)
def test_truncated_or_corrupted_parquet(
    compression: str, cut: int, flips: list[tuple[int, int]], as_part: bool
) -> None:
    """Cut short, or bytes flipped anywhere (header, pages, footer): loads, or names the file."""
    data = bytearray(VALID[compression])
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    if cut < len(data):
        data = data[:cut]
    check_events_bytes(bytes(data), as_part=as_part)


# A column replaced by one of another type, with values of that type.
ODD_TYPES: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "null": (pa.null(), st.none()),
    "int8": (pa.int8(), st.integers(-128, 127)),
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "float32": (pa.float32(), st.floats(width=32)),
    "float64": (pa.float64(), st.floats()),
    "bool": (pa.bool_(), st.booleans()),
    "string": (pa.string(), st.text(max_size=5)),
    "large_string": (pa.large_string(), st.text(max_size=5)),
    "binary": (pa.binary(), st.binary(max_size=5)),
    "dict_int8": (pa.dictionary(pa.int8(), pa.string()), st.text(max_size=3)),
    "date32": (pa.date32(), st.integers(-100_000, 100_000)),
    "list": (pa.list_(pa.int32()), st.lists(st.integers(0, 9), max_size=2)),
    **{
        f"ts_{unit}_{tz}": (pa.timestamp(unit, tz=tz), st.integers(-(2**62), 2**62))
        for unit in ("s", "ms", "us", "ns")
        for tz in (None, "UTC", "+00:00", "Asia/Tokyo")
    },
}


@st.composite
def odd_column(draw: st.DrawFn, n: int, kind: str | None = None) -> pa.Array:
    kind = kind or draw(st.sampled_from(sorted(ODD_TYPES)))
    typ, values = ODD_TYPES[kind]
    vals = draw(st.lists(st.none() | values, min_size=n, max_size=n))
    if pa.types.is_dictionary(typ):
        return pa.array(vals, type=pa.string()).dictionary_encode()
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        storage = pa.int64() if pa.types.is_timestamp(typ) else pa.int32()
        return pa.array(vals, type=storage).cast(typ)
    return pa.array(vals, type=typ)


@PROPS
@given(data=st.data(), n=st.integers(1, 8))
def test_wrong_missing_or_duplicate_columns(data: st.DataObject, n: int) -> None:
    """Any mix of retyped, missing, duplicated and extra columns: loads, or names the file."""
    table = make_events(n=5 * n).slice(0, n)
    names = list(table.column_names)
    arrays = list(table.columns)
    for i, name in enumerate(list(names)):
        action = data.draw(st.sampled_from(["keep", "keep", "retype", "drop", "duplicate"]))
        if action == "retype":
            arrays[i] = data.draw(odd_column(n))
        elif action == "drop":
            names[i] = f"not_{name}"
        elif action == "duplicate":
            names.append(name)
            arrays.append(data.draw(odd_column(n)))
    with run_dir() as root:
        path = root / "events.parquet"
        pq.write_table(pa.table(arrays, names=names), path)
        exc = load_or_error(root, all_columns=data.draw(st.booleans()))
        if exc is not None:
            assert_names(exc, path)
            assert isinstance(exc, CorruptFileError)


# Per column, the types of the kind the format promises (the reader accepts these).
_STRING_TYPES = ["string", "large_string", "dict_int8", "null"]
COMPATIBLE = {
    "ts": [f"ts_{unit}_{tz}" for unit in ("s", "ms", "us", "ns") for tz in ("UTC", "+00:00")],
    **{c: _STRING_TYPES for c in ("user", "name", "type", "failure_kind", "worker")},
    **{c: _STRING_TYPES for c in ("run_id", "detail", "msg_id", "prior_kind")},
    "ms": ["float32", "float64", "null"],
    "service_ms": ["float32", "float64", "null"],
    "ok": ["bool", "null"],
    "close_code": ["int8", "int64", "uint64", "null"],
}


@PROPS
@given(data=st.data(), n=st.integers(1, 8))
def test_any_values_of_accepted_types(data: st.DataObject, n: int) -> None:
    """Columns of an accepted type holding any values: loads, or names the file and column."""
    table = make_events(n=5 * n).slice(0, n)
    arrays = []
    for name in table.column_names:
        kind = data.draw(st.sampled_from(COMPATIBLE[name]), label=name)
        arrays.append(data.draw(odd_column(n, kind)))
    with run_dir() as root:
        path = root / "events.parquet"
        pq.write_table(pa.table(arrays, names=table.column_names), path)
        exc = load_or_error(root, all_columns=True)
        if exc is not None:
            assert_names(exc, path)
            assert isinstance(exc, CorruptFileError) and "column '" in exc.message


# --- directory layouts ---------------------------------------------------------------

META = json.dumps(make_meta(run_id="layout")).encode()
GOOD = VALID["snappy"]
EMPTY = io.BytesIO()
pq.write_table(SCHEMA.empty_table(), EMPTY)
FILES = {"absent": None, "dir": "dir", "empty": b"", "garbage": b"PAR1\x00PAR1"}


@MANY
@given(
    meta=st.sampled_from([*FILES, "good"]),
    merged=st.sampled_from([*FILES, "good", "no rows"]),
    parts=st.lists(st.sampled_from([*FILES, "good", "no rows"]), max_size=3),
    events_is_file=st.booleans(),
)
def test_directory_layouts(meta: str, merged: str, parts: list[str], events_is_file: bool) -> None:
    """Empty directories, directories where files belong, empty parts: loads or names a path."""
    contents = {**FILES, "good": GOOD, "no rows": EMPTY.getvalue()}
    with tempfile.TemporaryDirectory(prefix="gp-props-") as tmp:
        parent = Path(tmp) / "runs"
        root = parent / "run-0"
        root.mkdir(parents=True)

        def put(path: Path, what: str) -> None:
            content = META if (what == "good" and path.name == "meta.json") else contents[what]
            if content == "dir":
                path.mkdir()
            elif isinstance(content, bytes):
                path.write_bytes(content)

        put(root / "meta.json", meta)
        put(root / "events.parquet", merged)
        if events_is_file:
            (root / "events").write_bytes(b"")
        elif parts:
            (root / "events").mkdir()
            for i, what in enumerate(parts):
                put(root / "events" / f"part-{i:06d}.parquet", what)

        for load in (
            lambda: load_run(root),
            lambda: load_group([parent]),
            lambda: load_group(root),
        ):
            try:
                load()
            except ResultsError as exc:
                assert (
                    exc.path == root or root in exc.path.parents or exc.path == parent / "meta.json"
                )
                assert str(exc.path) in str(exc) and "\n" not in str(exc)
        with pytest.raises(MissingFileError) as info:
            resolve_run_dirs([Path(tmp) / "nope"])
        assert_names(info.value, Path(tmp) / "nope")


# --- goldenpath report on bad directories -------------------------------------------


def _deep_meta(root: Path) -> Path:
    (root / "meta.json").write_bytes(b"[" * 100_000)
    return root / "meta.json"


def _int64_close_code(root: Path) -> Path:
    table = make_events(n=50)
    i = table.schema.get_field_index("close_code")
    table = table.set_column(i, "close_code", pa.array([2**40] * len(table), pa.int64()))
    pq.write_table(table, root / "events.parquet")
    return root / "events.parquet"


def _garbage_part(root: Path) -> Path:
    (root / "events").mkdir()
    pq.write_table(make_events(n=50), root / "events" / "part-000000.parquet")
    (root / "events" / "part-000001.parquet").write_bytes(VALID["snappy"][:300])
    return root / "events" / "part-000001.parquet"


@pytest.mark.slow
@pytest.mark.parametrize("make_bad", [_deep_meta, _int64_close_code, _garbage_part])
def test_report_on_bad_directory_exits_2(tmp_path: Path, make_bad: Any) -> None:
    root = tmp_path / "run"
    root.mkdir()
    (root / "meta.json").write_bytes(META)
    culprit = make_bad(root)
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "report", "--candidate", str(root)]
        + ["--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("goldenpath report: error: ") and str(culprit) in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()

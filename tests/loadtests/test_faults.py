"""Faults during a load run: each one ends in a complete, honest results directory.

The load runs are real ``goldenpath run`` processes against real backends on
127.0.0.1; the faults are real too (SIGKILL, SIGTERM, a file-size limit). The
backend killed mid-run is in ``test_runner.py``. Locust only ever runs in the
child processes.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.load import load_run
from loadtests.embedded import EmbeddedBackend
from loadtests.merge import merge_parts
from loadtests.results import PartWriter, ResultsWriteError, rows_to_table, write_json_atomic
from tests.utils.golden import failed_rows
from tests.utils.servers import PASSWORD

RUN = [sys.executable, "-m", "loadtests.cli", "run"]


def utc(t: float) -> pd.Timestamp:
    return pd.Timestamp(t, unit="s", tz="UTC")


@contextmanager
def goldenpath_run(
    *args: str, env: dict[str, str] | None = None, preexec_fn: Callable[[], None] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """``goldenpath run ARGS`` as a child process; killed by its PID if still running."""
    proc = subprocess.Popen(
        [*RUN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=preexec_fn,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def meta_of(out: Path) -> dict[str, object]:
    path = out / "meta.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def parts_of(out: Path) -> list[Path]:
    return sorted((out / "events").glob("part-*.parquet"))


def rows_in(paths: list[Path]) -> pd.DataFrame:
    """The rows of these parts; a part merged away meanwhile (the run ended) is skipped."""
    frames = []
    for p in paths:
        with suppress(FileNotFoundError):
            frames.append(pd.read_parquet(p))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"ts": []})


def no_temp_files(out: Path) -> list[Path]:
    """Temporary files (dot-prefixed) left anywhere in the run directory."""
    return [p for p in out.rglob(".*") if p.is_file()]


# --- atomic, durable writes (unit) -------------------------------------------------


def test_a_failed_json_write_keeps_the_previous_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    write_json_atomic(path, {"end_reason": "running"})
    loop: dict[str, object] = {}
    loop["self"] = loop  # json.dumps fails on the cycle
    with pytest.raises(ValueError, match="Circular"):
        write_json_atomic(path, loop)
    assert json.loads(path.read_text()) == {"end_reason": "running"}
    assert list(tmp_path.iterdir()) == [path]


_WRITE_PAST_LIMIT = """
import json, os, sys
from pathlib import Path
import pyarrow as pa
from loadtests.results import ResultsWriteError, write_json_atomic, write_table_atomic
out = Path(sys.argv[1])
big = [os.urandom(50).hex() for _ in range(4000)]  # 400 kB that no codec shrinks below 64 kB
for name, write in [
    ("meta.json", lambda p: write_json_atomic(p, {"rows": big})),
    ("events.parquet", lambda p: write_table_atomic(pa.table({"x": big}), p)),
]:
    try:
        write(out / name)
    except ResultsWriteError as exc:
        print(exc)
"""


def _limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        # a write past the limit fails with EFBIG (errno 27) instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_a_write_that_fails_midway_keeps_the_previous_files_and_no_temp(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "meta.json", {"end_reason": "running"})
    pq.write_table(pa.table({"x": ["before"]}), tmp_path / "events.parquet")
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_PAST_LIMIT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_file_size(64 * 1024),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"could not write {tmp_path / 'meta.json'}: File too large (errno 27)",
        f"could not write {tmp_path / 'events.parquet'}: File too large (errno 27)",
    ]
    assert json.loads((tmp_path / "meta.json").read_text()) == {"end_reason": "running"}
    assert pq.read_table(tmp_path / "events.parquet").column("x").to_pylist() == ["before"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.parquet", "meta.json"]


def _row(i: int) -> tuple[object, ...]:
    return (
        1.7e9 + i,
        f"load{i}",
        "login",
        "HTTP",
        5.0,
        5.0,
        True,
        *[None] * 2,
        "local",
        *[None] * 4,
    )


def test_a_part_that_cannot_be_written_keeps_its_rows_for_the_next(tmp_path: Path) -> None:
    clock = iter([100.0, 101.0])
    parts = PartWriter(tmp_path / "events", clock=lambda: next(clock))  # no directory yet
    assert parts.write([_row(0), _row(1)]) is False
    assert parts.write([_row(2)]) is False
    assert parts.pending == [_row(0), _row(1), _row(2)] and parts.failing_since == 100.0
    assert parts.error is not None and "part-000000.parquet" in parts.error
    assert "(errno 2)" in parts.error
    (tmp_path / "events").mkdir()
    assert parts.write([_row(3)]) is True
    assert parts.error is None and parts.failing_since is None and parts.pending == []
    table = pq.read_table(tmp_path / "events" / "part-000000.parquet")
    assert table.column("user").to_pylist() == ["load0", "load1", "load2", "load3"]
    assert no_temp_files(tmp_path) == []


def test_a_merge_that_cannot_be_written_keeps_every_part(tmp_path: Path) -> None:
    parts = PartWriter(tmp_path / "events")
    (tmp_path / "events").mkdir()
    for i in range(3):
        assert parts.write([_row(i)])
    (tmp_path / "events.parquet").mkdir()  # the merged file cannot take its name
    with pytest.raises(ResultsWriteError, match="events.parquet"):
        merge_parts(tmp_path, pending=[_row(3)])
    assert [len(pq.read_table(p)) for p in parts_of(tmp_path)] == [1, 1, 1]
    assert no_temp_files(tmp_path) == []
    (tmp_path / "events.parquet").rmdir()
    assert merge_parts(tmp_path, pending=[_row(3)]) == 4
    assert not (tmp_path / "events").exists()
    assert pq.read_table(tmp_path / "events.parquet").equals(
        rows_to_table([_row(i) for i in range(4)])
    )


# --- a Locust worker killed --------------------------------------------------------


@pytest.mark.slow
def test_a_killed_worker_loses_its_unreported_rows_only(tmp_path: Path) -> None:
    out = tmp_path / "worker-killed"
    duration = 10.0
    args = ["--users", "4", "--duration", f"{duration:.0f}s", "--processes", "2"]
    with goldenpath_run(*args, "--out", str(out), "--quiet") as proc:

        def both_workers_reported() -> bool:
            rows = rows_in(parts_of(out))
            pids = meta_of(out).get("worker_pids")
            return bool(pids) and not rows.empty and rows["worker"].nunique() == 2

        wait_for("rows from both workers", both_workers_reported)
        before = rows_in(parts_of(out))  # rows that reached the master and the disk
        pids = meta_of(out)["worker_pids"]
        assert isinstance(pids, list) and len(pids) == 2
        killed_at = time.time()
        os.kill(int(pids[0]), signal.SIGKILL)
        _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "1 of 2 Locust workers stopped reporting" in stderr
    meta = meta_of(out)
    assert meta["end_reason"] == "worker_lost"
    assert (
        meta["end_detail"] == "1 of 2 Locust workers stopped reporting mid-run; the others ran on"
    )
    events = pd.read_parquet(out / "events.parquet")
    assert meta["events_rows"] == len(events)
    after = events[events["ts"] > utc(killed_at)]
    survivors = set(after["worker"])
    assert len(survivors) == 1, after["worker"].value_counts()
    (dead,) = set(events["worker"]) - survivors
    (survivor,) = survivors
    # Locust does not hand the dead worker's users to the survivor (not within ~60 s)
    own = events[(events["worker"] == survivor) & (events["ts"] < utc(killed_at))]
    assert set(after["user"]) == set(own["user"]) and len(set(own["user"])) == 2
    # the survivor ran to the planned end of the run, not cut short at the loss
    first = events["ts"].min()
    assert after["ts"].max() - first > pd.Timedelta(seconds=duration - 1.5)
    assert after["ok"].sum() > 50 and failed_rows(events).empty
    assert float(str(meta["elapsed_s"])) >= duration
    # every row that had reached the master before the kill is in the results
    key = ["ts", "user", "name", "worker"]
    kept = before.merge(events[key], on=key, how="left", indicator=True)
    assert (kept["_merge"] == "both").all()
    assert (before["worker"] == dead).any()
    assert not (out / "events").exists() and no_temp_files(out) == []


# --- the backend restarted mid-run -------------------------------------------------


def _port_outside_the_ephemeral_range() -> int:
    """A free port that no client socket will take as its source port while the backend is
    down (those come from ip_local_port_range, 32768-60999 by default)."""
    rng = random.Random()
    for _ in range(50):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000-32000")


@pytest.mark.slow
def test_a_backend_restarted_mid_run_is_an_outage_in_a_completed_run(tmp_path: Path) -> None:
    """A graceful restart (SIGTERM), then a crash (SIGKILL) and a restart, in one run: the
    failures fall in the outages and say what happened; golden paths succeed after each."""
    port = _port_outside_the_ephemeral_range()
    settings: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'app.db'}",
        "agent_think_ms": 200,  # agent runs long enough that some are in flight at a fault
    }

    def backend(n: int, users: int = 0) -> EmbeddedBackend:
        # the same port and database file: users survive, the URL stays the same
        log = tmp_path / f"backend-{n}.log"
        return EmbeddedBackend(users=users, port=port, settings=settings, log_path=log)

    backends = [backend(0, users=4), backend(1), backend(2)]
    out = tmp_path / "restarted"
    outages: list[tuple[float, float]] = []
    try:
        backends[0].start()
        url = backends[0].url
        # no think time: users back off by themselves while the port is closed
        args = ["--host", url, "--users", "4", "--duration", "18s"]
        with goldenpath_run(*args, "--out", str(out), "--quiet") as proc:
            wait_for("the first rows", lambda: len(parts_of(out)) >= 2)
            for stop, new in [
                (backends[0].terminate, backends[1]),
                (backends[1].kill, backends[2]),
            ]:
                down = time.time()
                stop()
                new.start()  # returns once /ready answers
                assert new.url == url
                up = time.time()
                outages.append((down, up))

                def served_again(up: float = up) -> bool:
                    rows = rows_in(parts_of(out))
                    if rows.empty:  # the run ended and merged them
                        return False
                    paths = rows[(rows["ts"] > utc(up)) & (rows["name"] == "golden_path")]
                    return int(paths["ok"].sum()) >= 10

                wait_for("golden paths after the restart", served_again, 20)
            _, stderr = proc.communicate(timeout=90)
    finally:
        for b in backends:
            b.cleanup()
    assert proc.returncode == 0, stderr[-2000:]
    meta = meta_of(out)
    assert meta["end_reason"] == "completed"  # the --host health check rode out both outages
    events = pd.read_parquet(out / "events.parquet")
    assert meta["events_rows"] == len(events)
    failed = failed_rows(events)  # the runs cut by the end of the load are not failures
    assert events.loc[~events["ok"], "failure_kind"].notna().all()

    def failed_during(since: float, up: float) -> pd.DataFrame:
        return failed[(failed["ts"] > utc(since)) & (failed["ts"] < utc(up))]

    (down1, up1), (down2, up2) = outages
    # requests in flight when an outage began (started up to 1 s before) count in it
    graceful = failed_during(down1 - 1, up1)
    crash = failed_during(max(down2 - 1, up1), up2)
    assert len(graceful) + len(crash) == len(failed)  # no failures outside the outages
    for during in (graceful, crash):
        # logins refused while the port was closed (no HTTP answer at all) are
        # connect_failed; a login answered while draining would be a 503 (auth_failed)
        logins = during[during["name"] == "login"]
        assert (logins["failure_kind"] == "connect_failed").sum() > 0, logins["detail"]
        answered = logins[logins["failure_kind"] != "connect_failed"]
        assert answered["detail"].str.contains("HTTP 503").all(), answered["detail"]
    # SIGTERM drains: runs in flight finish; a socket opened during the drain is
    # told 1001 (going away), never 1011 or a broken connection
    drained = graceful[graceful["name"] == "response"]
    assert (drained["close_code"] == 1001).all(), drained[["detail", "close_code"]]
    # SIGKILL: runs in flight broke without a close frame
    broken = crash[crash["name"] == "response"]
    assert len(broken) > 0 and (broken["close_code"] == 1006).all(), broken["detail"]
    assert (broken["failure_kind"] == "ws_close_other").all()
    for _, up in outages:
        after = events[(events["ts"] > utc(up)) & (events["name"] == "golden_path")]
        assert after["ok"].sum() >= 10, after["ok"].value_counts()


# --- the harness itself killed ------------------------------------------------------


@pytest.mark.slow
def test_a_killed_harness_leaves_whole_files_the_analysis_reads(tmp_path: Path) -> None:
    out = tmp_path / "harness-killed"
    # the orphaned backend's temporary directory lands under tmp_path
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    backend_pid = 0
    try:
        with goldenpath_run(
            "--users", "4", "--duration", "60s", "--out", str(out), "--quiet", env=env
        ) as proc:
            wait_for("rows on disk", lambda: len(parts_of(out)) >= 3)
            backend_pid = int(str(meta_of(out)["backend_pid"]))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        if backend_pid:  # orphaned by the kill: stop it by its PID
            with suppress(ProcessLookupError):
                os.kill(backend_pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    meta = meta_of(out)  # whole JSON, written when the run started
    assert meta["end_reason"] == "running" and meta["ended_at"] is None
    assert not (out / "events.parquet").exists()
    parts = parts_of(out)
    strays = [p for p in (out / "events").iterdir() if p not in parts]
    assert all(p.name.startswith(".") for p in strays), strays  # only temp files, if any
    rows = sum(pq.read_table(p).num_rows for p in parts)  # every part is a whole file
    run = load_run(out)
    assert len(run.events) == rows > 0
    assert run.meta["end_reason"] == "running"


# --- part writes failing mid-run -----------------------------------------------------


@pytest.mark.slow
def test_failed_part_writes_keep_their_rows_and_stop_the_run_after_5_s(
    tmp_path: Path, canonical_backend: EmbeddedBackend
) -> None:
    """``events/`` replaced by a plain file makes every part write fail (ENOTDIR, even for
    root). Held for 2 s the rows are kept and written once it is back; held for good the
    run stops after 5 s of retries. Not a row is lost: the event log matches Locust's own
    request count."""
    out = tmp_path / "parts-failing"
    args = ["--host", canonical_backend.url, "--users", "4", "--duration", "30s"]
    args += ["--password", PASSWORD, "--out", str(out), "--quiet"]
    events_dir, aside = out / "events", tmp_path / "aside"

    def block() -> float:
        events_dir.rename(aside)
        events_dir.write_text("not a directory")
        return time.time()

    with goldenpath_run(*args) as proc:
        wait_for("the first parts", lambda: len(parts_of(out)) >= 2)
        blocked = block()
        time.sleep(2)  # the fault lasts 2 s: two flushes fail
        events_dir.unlink()
        aside.rename(events_dir)
        unblocked = time.time()
        written = len(parts_of(out))
        wait_for("the kept rows written", lambda: len(parts_of(out)) > written, 10)
        block()  # for good
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert "events/part-" in stderr and "Not a directory (errno 20)" in stderr
    assert "retried for 5 s, run stopped" in stderr
    meta = meta_of(out)
    assert meta["end_reason"] == "write_failed"
    assert float(str(meta["elapsed_s"])) < 25  # stopped, not run to the planned 30 s
    # the rows kept in memory when the run stopped were merged into events.parquet
    merged = pd.read_parquet(out / "events.parquet")
    assert meta["events_rows"] == len(merged) > 0
    earlier = rows_in(sorted(aside.glob("part-*.parquet")))  # written before the second
    during_first = earlier[(earlier["ts"] > utc(blocked)) & (earlier["ts"] < utc(unblocked))]
    assert len(during_first) > 50  # written late, but written
    stats = pd.read_csv(out / "locust_stats.csv")
    locust_total = int(stats.loc[stats["Name"] == "Aggregated", "Request Count"].iloc[0])
    assert len(earlier) + len(merged) == locust_total


# --- the results disk full --------------------------------------------------------


@pytest.mark.slow
def test_a_full_disk_ends_the_run_write_failed_with_the_parts_kept(
    tmp_path: Path, canonical_backend: EmbeddedBackend
) -> None:
    """A 56 kB file-size limit: meta.json (1 kB), Locust's CSVs (<15 kB) and the 1-second
    parts (~20 kB here) fit; the merged events.parquet (~150 kB here) does not. Either side
    holds for throughput from about 0.4x to 2.5x this machine's."""
    out = tmp_path / "disk-full"
    limit = 56 * 1024
    args = ["--host", canonical_backend.url, "--users", "4", "--duration", "10s"]
    args += ["--password", PASSWORD, "--out", str(out), "--quiet"]
    with goldenpath_run(*args, preexec_fn=_limit_file_size(limit)) as proc:
        stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert f"could not write {out / 'events.parquet'}: File too large (errno 27)" in stderr
    meta = meta_of(out)
    assert meta["end_reason"] == "write_failed" and meta["ended_at"]
    assert str(meta["end_detail"]).startswith(f"could not write {out / 'events.parquet'}")
    assert not (out / "events.parquet").exists()
    parts = parts_of(out)
    assert len(parts) >= 4 and max(p.stat().st_size for p in parts) < limit
    rows = sum(pq.read_table(p).num_rows for p in parts)
    assert meta["events_rows"] == rows > 0
    assert f"{rows} rows kept in events/part-*.parquet, 0 not written" in str(meta["end_detail"])
    assert no_temp_files(out) == []
    assert len(load_run(out).events) == rows
    assert "write_failed after" in stdout  # the summary is still printed, from the parts

"""``goldenpath run`` and ``goldenpath smoke`` as real processes against real backends on 127.0.0.1.

Locust (and its gevent monkey-patching) only ever runs in those child processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from loadtests.embedded import EmbeddedBackend
from tests.utils.golden import failed_rows
from tests.utils.servers import PASSWORD


def goldenpath(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "loadtests.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def load(out: Path) -> tuple[dict[str, object], pd.DataFrame]:
    meta = json.loads((out / "meta.json").read_text())
    return meta, pd.read_parquet(out / "events.parquet")


def fifty_users(
    tmp_path: Path, factory: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, object], pd.DataFrame, Path]:
    """The issue's load: 50 users for 20 s against an embedded backend of ``factory``."""
    out = tmp_path / factory
    done = goldenpath("run", "--users", "50", "--duration", "20s", "--factory", factory,
                      "--out", str(out), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return (done, *load(out), out)


@pytest.mark.slow
def test_fifty_users_canonical_is_clean(tmp_path: Path) -> None:
    done, meta, events, out = fifty_users(tmp_path, "canonical")
    assert meta["end_reason"] == "completed" and meta["schema_version"] == 2
    assert meta["events_rows"] == len(events) and meta["factory_mode"] == "canonical"
    paths = events[events["name"] == "golden_path"]
    assert len(paths) > 300, len(paths)
    assert failed_rows(events).empty, failed_rows(events).head()
    # the runs in flight when the load ended are recorded, one per user at most
    cut = events[(events["name"] == "response") & (events["failure_kind"] == "interrupted")]
    assert len(cut) <= 50
    assert (events["failure_kind"] == "isolation_violation").sum() == 0
    assert (events["close_code"] == 1011).sum() == 0
    assert set(events["name"]) == {"login", "ws_connect", "ttfe", "response", "golden_path"}
    for name in (
        "locust_stats.csv",
        "locust_stats_history.csv",
        "locust_report.html",
        "factory_metrics_before.json",
        "factory_metrics_after.json",
        "backend.log",
    ):
        assert (out / name).is_file(), name
    after = json.loads((out / "factory_metrics_after.json").read_text())
    assert after["active_engines_count"] == 0
    assert "isolation violations 0 | 1011 closes 0" in done.stdout


@pytest.mark.slow
def test_fifty_users_legacy_reports_isolation_violations_and_1011(tmp_path: Path) -> None:
    _, _, events, _ = fifty_users(tmp_path, "legacy")
    kinds = events["failure_kind"].value_counts()
    assert kinds.get("isolation_violation", 0) > 0, kinds
    assert kinds.get("ws_close_1011", 0) > 0, kinds
    assert (events["close_code"] == 1011).sum() > 0


@pytest.mark.slow
def test_backend_killed_mid_run_ends_the_run_with_what_was_recorded(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "loadtests.cli",
        "run",
        "--users",
        "10",
        "--duration",
        "60s",
        "--out",
        str(out),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        pid = None
        while time.monotonic() < deadline:
            meta_path = out / "meta.json"
            if meta_path.exists():
                pid = json.loads(meta_path.read_text()).get("backend_pid")
                parts = list((out / "events").glob("part-*.parquet"))
                if pid and len(parts) >= 2:
                    break
            time.sleep(0.2)
        assert pid, "the run never started"
        killed_at = time.time()
        os.kill(int(pid), signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 1
    assert "backend exited" in stderr
    meta, events = load(out)
    assert meta["end_reason"] == "backend_died" and meta["ended_at"]
    assert float(meta["elapsed_s"]) < 45  # it stopped by itself, long before the 60 s
    assert meta["events_rows"] == len(events) > 0
    before = events[events["ts"] < pd.Timestamp(killed_at, unit="s", tz="UTC")]
    assert before["ok"].sum() > 20  # the work done before the kill is all there
    assert not (out / "events").exists()  # parts were merged
    assert not (out / "factory_metrics_after.json").exists()


@pytest.mark.slow
def test_two_worker_processes_rows_from_both(tmp_path: Path) -> None:
    out = tmp_path / "distributed"
    done = goldenpath(
        "run", "--users", "10", "--duration", "5s", "--processes", "2", "--out", str(out), "--quiet"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    meta, events = load(out)
    assert meta["processes"] == 2
    counts = events["worker"].value_counts()
    assert set(counts.index) == {"worker-0", "worker-1"}, counts
    assert counts.min() > 20
    # distinct users: worker k takes load{k}, load{k+2}, ...
    assert events["user"].nunique() == 10


@pytest.mark.slow
def test_open_model_counts_dropped_iterations_and_corrects_latency(tmp_path: Path) -> None:
    out = tmp_path / "open"
    done = goldenpath(
        "run",
        "--model",
        "open",
        "--rate",
        "40",
        "--users",
        "3",
        "--duration",
        "5s",
        "--backend-setting",
        "agent_think_ms=100",
        "--out",
        str(out),
        "--quiet",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    meta, events = load(out)
    assert meta["scenario"]["model"] == "open"  # type: ignore[index]
    dropped = events[(events["name"] == "iteration") & (events["failure_kind"] == "dropped")]
    paths = events[events["name"] == "golden_path"]
    assert len(dropped) > 20  # 3 users at ~7 iterations/s each cannot keep 40/s
    assert 150 <= len(dropped) + len(paths) <= 205  # every scheduled start is accounted for
    assert (paths["ms"] >= paths["service_ms"] - 1).all()
    assert paths["ms"].median() > paths["service_ms"].median()


@pytest.mark.slow
@pytest.mark.parametrize("connection", ["per-iteration", "persistent"])
def test_runs_slower_than_the_response_timeout_are_timeouts(
    tmp_path: Path, connection: str
) -> None:
    """A run answered after ``--response-timeout`` is a ``timeout`` with no close code, not a
    broken socket; and its socket is not reused, so its late events reach no later run."""
    out = tmp_path / connection
    done = goldenpath("run", "--users", "2", "--duration", "3s", "--connection", connection,
                      "--response-timeout", "0.3s", "--backend-setting", "agent_think_ms=800",
                      "--out", str(out), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    meta, events = load(out)
    assert meta["end_reason"] == "completed"
    responses = events[events["name"] == "response"]
    cut = responses["failure_kind"] == "interrupted"  # in flight when the load ended
    assert cut.sum() <= 2
    responses = responses[~cut]
    assert len(responses) >= 4, len(responses)
    shown = responses[["failure_kind", "detail", "close_code"]]
    assert (responses["failure_kind"] == "timeout").all(), shown
    # the harness closed the socket and the server answered normally: not a broken one (1006)
    assert responses["close_code"].fillna(1000).isin([1000, 1001]).all(), shown
    assert responses["detail"].str.contains("of 5 events before the timeout").all(), shown


@pytest.mark.parametrize(
    "args, message",
    [
        (["--users", "0"], "--users"),
        (["--duration", "soon"], "invalid duration"),
        (["--compare", "--host", "http://127.0.0.1:9"], "--compare"),
        (["--model", "open"], "--rate"),
        (["--host", "ftp://x"], "--host"),
        (["--backend-setting", "oops"], "KEY=VALUE"),
        (["--backend-setting", "workers=2"], "the embedded backend is one process"),
        (["--scenario", "wave"], "invalid choice"),
    ],
)
def test_run_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    done = goldenpath("run", *args, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_run_refuses_a_non_empty_out_dir(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("recorded earlier")
    done = goldenpath("run", "--out", str(tmp_path), "--duration", "1s", timeout=60)
    assert done.returncode == 2 and "not empty" in done.stderr
    assert (tmp_path / "keep.txt").read_text() == "recorded earlier"
    # a file where the directory would go: one line, for --compare's two directories too
    for args in (["--out", tmp_path / "keep.txt"], ["--compare", "--out", tmp_path / "keep.txt"]):
        done = goldenpath("run", *map(str, args), "--duration", "1s", timeout=60)
        assert done.returncode == 2, done.stderr
        assert "not a directory" in done.stderr and len(done.stderr.splitlines()) == 1
    assert (tmp_path / "keep.txt").read_text() == "recorded earlier"


def test_smoke_passes_on_a_healthy_backend_and_fails_clearly(
    canonical_backend: EmbeddedBackend,
) -> None:
    ok = goldenpath("smoke", "--host", canonical_backend.url, "--password", PASSWORD, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASSED" in ok.stdout and "close code 1000" in ok.stdout
    bad = goldenpath("smoke", "--host", canonical_backend.url, "--password", "wrong", timeout=60)
    assert bad.returncode == 1 and "FAIL login" in bad.stdout
    usage = goldenpath("smoke", "--host", "not-a-url", timeout=60)
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1


def test_run_against_host_with_a_users_csv(
    tmp_path: Path, canonical_backend: EmbeddedBackend
) -> None:
    users = tmp_path / "users.csv"
    users.write_text(
        "username,password\n# two of the backend's users\nload7,"
        + PASSWORD
        + "\nload8,"
        + PASSWORD
        + "\n"
    )
    out = tmp_path / "csv-run"
    done = goldenpath(
        "run",
        "--host",
        canonical_backend.url,
        "--users",
        "2",
        "--duration",
        "2s",
        "--users-csv",
        str(users),
        "--out",
        str(out),
        "--quiet",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    meta, events = load(out)
    assert meta["target"] == canonical_backend.url and meta["embedded_backend"] is False
    assert meta["factory_mode"] == "canonical"  # asked of /ready
    assert set(events["user"]) == {"load7", "load8"} and failed_rows(events).empty


@pytest.mark.parametrize(
    "content, message",
    [("alice\n", "expected username,password"), ("# nothing\n", "no username,password rows")],
)
def test_run_rejects_a_bad_users_csv(tmp_path: Path, content: str, message: str) -> None:
    users = tmp_path / "users.csv"
    users.write_text(content)
    done = goldenpath("run", "--users-csv", str(users), timeout=60)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    missing = goldenpath("run", "--users-csv", str(tmp_path / "nope.csv"), timeout=60)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


HOST = ["--host", "http://127.0.0.1:9"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--expect-workers", "65", *HOST], "--expect-workers must be between 1 and 64"),
        (["--expect-workers", "2", "--processes", "2", *HOST], "use one"),
        (["--expect-workers", "2", "--model", "open", "--rate", "5", *HOST], "on one host"),
        (["--expect-workers", "2"], "--expect-workers needs --host"),
        (["--expect-workers", "2", "--master-bind-port", "0", *HOST], "--master-bind-port"),
        (["--expect-workers", "2", "--master-bind-host", "192.0.2.1", *HOST], "cannot listen"),
        (["--expect-workers", "2", "--master-bind-host", "no.such.host.invalid", *HOST],
         "cannot listen"),
        (["--expect-workers", "4", "--users", "2", *HOST], "a pool of 2 account(s)"),
        (["--master-bind-port", "6000"], "go with --expect-workers"),
    ],
)  # fmt: skip
def test_run_rejects_bad_worker_options(args: list[str], message: str) -> None:
    done = goldenpath("run", *args, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr

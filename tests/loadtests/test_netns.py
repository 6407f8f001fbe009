"""Locust workers on separate hosts: master, workers and backend in network namespaces.

Four hosts on a private /24 that exists only inside the lab (``tests/utils/netns.py``):
the backend, the master (``goldenpath run --expect-workers 2``) and two workers
(plain ``locust --worker``, as a user runs them on other machines). Each worker
reaches the master and the backend only over the lab addresses, starts in an
empty directory of its own with no harness settings in its environment, and
gets its configuration from the master. Every row must land in the master's one
results directory, shipped in Locust's worker reports: no shared disk.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.utils import netns

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _namespaces() -> None:
    """Skip, with the reason, where this machine cannot make network namespaces."""
    why_not = netns.unavailable()
    if why_not is not None:
        pytest.skip(f"no network namespaces: {why_not}")


USERS = 6
PORT, MASTER_PORT = 8000, 5557

READY = """
import sys, time, httpx
deadline = time.monotonic() + 30
while True:
    try:
        if httpx.get(sys.argv[1] + "/ready", timeout=2).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    if time.monotonic() > deadline:
        sys.exit("the backend was not ready within 30 s")
    time.sleep(0.2)
"""


def _env(**extra: str) -> dict[str, str]:
    """This environment without any harness setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDENPATH_")}
    env["PYTHONPATH"] = str(REPO)
    return {**env, **extra}


def test_workers_on_other_hosts_send_every_row_to_the_master(tmp_path: Path) -> None:
    db = tmp_path / "backend" / "app.db"
    db.parent.mkdir()
    backend_env = _env(
        GOLDENPATH_DATABASE_URL=f"sqlite:///{db}",
        GOLDENPATH_FACTORY_MODE="canonical",
        GOLDENPATH_KDF_LOG2_N="8",
        GOLDENPATH_ACCESS_LOG="false",
    )
    with netns.Lab(["backend", "master", "worker1", "worker2"]) as lab:
        backend_at, master_at = lab.address["backend"], lab.address["master"]
        url = f"http://{backend_at}:{PORT}"
        lab.run(
            "backend",
            [sys.executable, "-m", "reference_backend", "users", "create", "--count", str(USERS),
             "--prefix", "load", "--password", "load-password"],
            timeout=120, env=backend_env,
        )  # fmt: skip
        with open(tmp_path / "backend.log", "wb") as log:
            lab.popen(
                "backend",
                [sys.executable, "-m", "reference_backend", "serve", "--host", backend_at,
                 "--port", str(PORT)],
                env=backend_env, log=log,
            )  # fmt: skip
        lab.run("master", [sys.executable, "-c", READY, url], timeout=60, env=_env())

        out = tmp_path / "master" / "run"
        with open(tmp_path / "master.log", "wb") as log:
            master = lab.popen(
                "master",
                [sys.executable, "-m", "loadtests.cli", "run", "--host", url,
                 "--expect-workers", "2", "--master-bind-host", master_at,
                 "--master-bind-port", str(MASTER_PORT), "--users", str(USERS),
                 "--duration", "4s", "--response-timeout", "5s", "--out", str(out), "--quiet"],
                env=_env(), log=log,
            )  # fmt: skip
        homes = []
        for host in ("worker1", "worker2"):
            home = tmp_path / host
            home.mkdir()
            homes.append(home)
            with open(home / "worker.log", "wb") as log:
                lab.popen(
                    host,
                    [sys.executable, "-m", "locust", "-f", str(REPO / "loadtests/locustfile.py"),
                     "--worker", "--master-host", master_at, "--master-port", str(MASTER_PORT)],
                    env=_env(), cwd=home, log=log,
                )  # fmt: skip
        rc = master.wait(timeout=180)
        logs = (tmp_path / "master.log").read_text(errors="replace")[-3000:]
        assert rc == 0, logs

    meta = json.loads((out / "meta.json").read_text())
    assert meta["end_reason"] == "completed" and meta["expect_workers"] == 2, meta
    events = pq.read_table(out / "events.parquet").to_pandas()
    assert len(events) == meta["events_rows"] > 0, meta
    responses = events[events["name"] == "response"]
    # Both workers' users ran, and their rows all came to the master's one directory.
    assert sorted(responses["worker"].unique()) == ["worker-0", "worker-1"], responses["worker"]
    # Against canonical nothing fails; only runs in flight when the load stopped are cut.
    cut = set(responses.loc[~responses["ok"], "failure_kind"])
    assert cut <= {"interrupted"}, responses.loc[~responses["ok"], ["failure_kind", "detail"]]
    # Lossless: one response row for every agent run the backend started.
    before = json.loads((out / "factory_metrics_before.json").read_text())
    after = json.loads((out / "factory_metrics_after.json").read_text())
    started = after["total_engines_created"] - before["total_engines_created"]
    assert len(responses) == started, (len(responses), started)
    # No shared disk: the workers wrote nothing where they ran.
    for home in homes:
        assert [p.name for p in home.iterdir()] == ["worker.log"], list(home.iterdir())
    # Each worker logged in with its own accounts: the master's config reached it.
    users = responses.groupby("worker")["user"].unique()
    assert not set(users["worker-0"]) & set(users["worker-1"]), users

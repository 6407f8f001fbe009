"""The Golden-path tab in Locust's web UI, in a real browser, during real runs.

Locust runs as users run it: ``locust -f loadtests/locustfile.py --host URL`` with its
web UI (here ``--autostart``, bounded by ``-t``), against a real backend on 127.0.0.1.
Chromium opens the UI, clicks the tab, and reads the figures as they update.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtests.embedded import EmbeddedBackend
from tests.utils.browser import browser_page, chromium, screenshot
from tests.utils.processes import end_process
from tests.utils.servers import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def locust_web_ui(
    host: str, log: Path, *, users: int, seconds: int, processes: int = 1
) -> Iterator[str]:
    """Plain Locust with its web UI, started at once and stopped after ``seconds``; its
    output goes to ``log``."""
    port = _free_port()
    config = {"pool_size": 60, "password": PASSWORD, "processes": processes}
    env = dict(os.environ, GOLDENPATH_LOAD_CONFIG=json.dumps(config))
    env.pop("GOLDENPATH_RESULTS_DIR", None)
    cmd = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--host", host,
           "--web-host", "127.0.0.1", "--web-port", str(port), "--autostart", "--autoquit",
           "20", "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
           "--loglevel", "WARNING"]  # fmt: skip
    if processes > 1:
        cmd += ["--processes", str(processes)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/golden-path/stats", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"Locust's web UI did not come up in 30 s: {log.read_text()}")
        yield url
    finally:
        end_process(proc, timeout=30)


def tab_figures(page: Any) -> dict[str, str]:
    """The Golden-path tab's table, as the browser shows it: figure -> value."""
    rows = page.locator("table tbody tr").all()
    cells = [row.locator("td").all_inner_texts() for row in rows]
    return {c[0]: c[1] for c in cells if len(c) == 2}


def watch_tab(page: Any, until: Any, timeout_s: float) -> dict[str, str]:
    """Read the tab as it updates (every 2 s) until ``until(figures)`` or the timeout."""
    deadline = time.monotonic() + timeout_s
    figures: dict[str, str] = {}
    while time.monotonic() < deadline:
        figures = tab_figures(page)
        if figures and until(figures):
            break
        page.wait_for_timeout(500)
    return figures


@pytest.mark.slow
@pytest.mark.parametrize("mode, processes", [("legacy", 1), ("canonical", 1), ("canonical", 2)])
def test_the_golden_path_tab_shows_defects_live(mode: str, processes: int, tmp_path: Path) -> None:
    chromium()  # skip early (fail in CI) without a browser
    with (
        EmbeddedBackend(factory=mode, users=60, password=PASSWORD) as backend,
        locust_web_ui(
            backend.url, tmp_path / "locust.log", users=30, seconds=25, processes=processes
        ) as url,
        browser_page() as browsed,
    ):
        page = browsed.page
        page.goto(url)
        page.get_by_role("tab", name="Golden path").click()
        if mode == "legacy":

            def enough(f: dict[str, str]) -> bool:
                return int(f["isolation violations"]) > 0 and int(f["1011 closes"]) > 0

        else:

            def enough(f: dict[str, str]) -> bool:
                return int(f["agent runs"]) >= 200

        figures = watch_tab(page, enough, timeout_s=25)
        name = f"golden-path-tab-{mode}-{processes}.png"
        shot = screenshot(
            page, tmp_path / name, "golden-path-tab.png" if mode == "legacy" else None
        )
        assert shot.stat().st_size > 10_000
        assert not browsed.console_errors, browsed.console_errors
        # live: the figures went on changing while the load ran (a master hears from its
        # workers every 3 s)
        first_rows = int(figures["rows recorded"])
        later = watch_tab(page, lambda f: int(f["rows recorded"]) > first_rows, timeout_s=8)
        assert int(later["rows recorded"]) > first_rows
    assert enough(figures), figures
    assert int(figures["agent runs"]) > 0
    assert " / " in figures["response p50 / p95 / p99 (ms, exact)"]
    assert figures["results directory"].startswith("not written")
    if mode == "canonical":
        assert figures["isolation violations"] == "0" and figures["1011 closes"] == "0", figures
        assert figures["failed agent runs"] == "0", figures


@pytest.mark.slow
def test_the_failures_tab_has_one_row_per_kind(
    legacy_backend: EmbeddedBackend, tmp_path: Path
) -> None:
    """Locust groups failures by message: a fixed message per kind is one row per kind."""
    out = tmp_path / "legacy"
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.cli", "run", "--host", legacy_backend.url, "--users",
         "30", "--duration", "6s", "--password", PASSWORD, "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    failures = pd.read_csv(out / "locust_failures.csv")
    kinds = failures["Error"].str.extract(r"GoldenPathFailure\(['\"](\w+):")[0]
    assert kinds.notna().all(), failures["Error"].tolist()
    per_kind = failures.assign(kind=kinds).groupby(["Name", "kind"]).size()
    assert (per_kind == 1).all(), per_kind
    # which defects the races cause in 6 s varies with timing; several kinds always come
    assert len(set(kinds)) >= 2, set(kinds)
    assert set(kinds) & {"isolation_violation", "ws_close_1011"}, set(kinds)

"""``goldenpath run``: one command from nothing to a results directory.

Starts the embedded reference backend on 127.0.0.1 (or targets ``--host``),
provisions users, waits for ``/ready``, runs Locust headless for a bounded
time, scrapes the backend's factory metrics before and after, writes the
results directory (``results/README.md``) and prints a summary. ``--compare``
runs legacy then canonical with the same scenario and prints both side by side.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import httpx

# gevent patches the standard library first: Locust does it on import.
import locust  # noqa: F401, I001
from locust.env import Environment
from locust.exception import RPCError
from locust.html import get_html_report
from locust.runners import MasterRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

from loadtests.config import ENV_VAR, LoadConfig
from loadtests.embedded import BackendError, EmbeddedBackend
from loadtests.locustfile import attach
from loadtests.merge import merge_parts
from loadtests.plan import RunPlan, check_out_dir, reachable
from loadtests.recorder import Recorder
from loadtests.results import (
    ResultsWriteError,
    new_meta,
    rows_on_disk,
    summarize_rows,
    write_json_atomic,
    write_text_atomic,
)
from loadtests.shapes import ShapeSpec, make_shape
from loadtests.supervise import Progress, Watch, await_last_reports, start_workers, stop_processes
from loadtests.users import GoldenPathUser, set_config
from resultsformat.meta import COMPLETED, is_completed

log = logging.getLogger(__name__)

#: How long the master waits for its Locust workers to connect.
WORKER_WAIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(target: str, path: Path) -> bool:
    try:
        resp = httpx.get(f"{target}/api/factory/metrics", timeout=5)
        resp.raise_for_status()
        write_json_atomic(path, resp.json())
        return True
    except (httpx.HTTPError, ValueError):
        return False


def _probe_mode(target: str) -> str | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        mode = httpx.get(f"{target}/ready", timeout=5).json().get("factory_mode")
        return str(mode) if mode else None
    return None


def _drive(
    plan: RunPlan,
    cfg: LoadConfig,
    target: str,
    out_dir: Path,
    backend: EmbeddedBackend | None,
    on_workers: Callable[[list[int]], None] | None = None,
) -> tuple[str, str | None, Recorder]:
    """Run Locust until the shape ends, the backend dies, results cannot be written or the
    hard deadline passes. ``on_workers`` gets the worker processes' PIDs once they started."""
    spec = ShapeSpec(users=plan.users, spawn_rate=plan.rate_of_spawn, duration_s=plan.duration_s)
    env = Environment(
        user_classes=[GoldenPathUser], shape_class=make_shape(plan.scenario, spec), host=target
    )
    workers: list[subprocess.Popen[bytes]] = []
    n_workers = plan.workers
    if plan.expect_workers:
        try:
            runner: Any = env.create_master_runner(plan.master_bind_host, plan.master_bind_port)
        except RPCError as exc:  # taken between the check and now
            raise BackendError(f"cannot listen for Locust workers: {exc}") from None
    elif plan.processes > 1:
        port = _free_port()
        runner = env.create_master_runner("127.0.0.1", port)
        workers = start_workers(plan.processes, port, out_dir / "workers.log")
    else:
        runner = env.create_local_runner()
    recorder = attach(env, out_dir)
    recorder.start()
    csv_writer = StatsCSVFileWriter(env, PERCENTILES_TO_REPORT, str(out_dir / "locust"), True)
    background = [gevent.spawn(stats_history, runner), gevent.spawn(csv_writer.stats_writer)]
    progress = Progress(recorder, plan.duration_s, quiet=plan.quiet)
    end_reason, detail = COMPLETED, None
    lost: set[str] = set()
    health: httpx.Client | None = None
    try:
        # One client, made before the load: a check needs no new file or TLS context a second.
        health = httpx.Client(timeout=2)
        if workers and on_workers is not None:
            on_workers([w.pid for w in workers])
        if isinstance(runner, MasterRunner):
            deadline = time.monotonic() + WORKER_WAIT_S
            while len(runner.clients.ready) < n_workers:
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    where = (
                        "see workers.log"
                        if workers
                        else f"start them with: locust -f loadtests/locustfile.py --worker "
                        f"--master-host {reachable(plan.master_bind_host or '*')} "
                        f"--master-port {plan.master_bind_port}"
                    )
                    raise BackendError(
                        f"only {len(runner.clients.ready)} of {n_workers} Locust workers "
                        f"connected within {WORKER_WAIT_S:.0f} s ({where})"
                    )
                gevent.sleep(0.1)
            if len(runner.clients.ready) > n_workers:
                # Worker k of n logs in as accounts k, k+n, ...: an extra one would share them.
                raise BackendError(
                    f"{len(runner.clients.ready)} Locust workers connected for "
                    f"--expect-workers {n_workers}: stop the extra ones"
                )
        runner.start_shape()
        watch = Watch(runner, recorder, backend, target, health, n_workers, plan)
        lost = watch.lost  # the same set: filled in place as workers go missing
        while (stop := watch.step()) is None:
            gevent.sleep(0.25)
            progress.tick(runner)
        end_reason, detail = stop
        progress.tick(runner, force=True)
    except KeyboardInterrupt:
        end_reason, detail = "interrupted", "interrupted by the user"
    finally:
        if health is not None:
            health.close()
        runner.stop()
        if isinstance(runner, MasterRunner):
            await_last_reports(runner, recorder, lost)
        runner.quit()
        for g in background:  # they wait in gevent.sleep between passes: killed there
            g.kill()
        try:
            last_csv_pass(csv_writer)
        except Exception as exc:  # noqa: BLE001 - Locust's private writer methods may change
            log.warning("Locust's CSV files may miss the last second: %s", exc)
        with contextlib.suppress(Exception):
            csv_writer.close_files()
        with contextlib.suppress(Exception):
            html = get_html_report(env, show_download_link=False)
            write_text_atomic(out_dir / "locust_report.html", html)
        stop_processes(workers)
    return end_reason, detail, recorder


def last_csv_pass(writer: StatsCSVFileWriter) -> None:
    """Locust's CSV writer passes once a second; this is one more pass, now, with the last
    reports in (its greenlet killed first), instead of waiting up to a second for it."""
    for handle, writes, columns, rows in (
        (writer.requests_csv_filehandle, writer.requests_csv_writer,
         writer.requests_csv_columns, writer._requests_data_rows),
        (writer.failures_csv_filehandle, writer.failures_csv_writer,
         writer.failures_columns, writer._failures_data_rows),
        (writer.exceptions_csv_filehandle, writer.exceptions_csv_writer,
         writer.exceptions_columns, writer._exceptions_data_rows),
    ):  # fmt: skip
        handle.seek(0)
        handle.truncate()
        writes.writerow(columns)
        rows(writes)
    writer._stats_history_data_rows(writer.stats_history_csv_writer, time.time())


def run_once(
    plan: RunPlan, factory: str | None, out_dir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One load run into ``out_dir``; returns (meta, summary)."""
    check_out_dir(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC)
    meta = new_meta(plan, factory, started_at)
    write_json_atomic(out_dir / "meta.json", meta)
    backend: EmbeddedBackend | None = None
    recorder: Recorder | None = None
    t0 = time.monotonic()
    try:
        if plan.host:
            target = plan.host.rstrip("/")
            meta["factory_mode"] = factory or _probe_mode(target)
        else:
            settings: dict[str, object] = {"agent_seed": plan.seed, **plan.backend_settings}
            backend = EmbeddedBackend(
                factory=factory or "canonical",
                users=plan.pool_size or plan.peak_users,
                prefix=plan.user_prefix,
                password=plan.password,
                settings=settings,
                log_path=out_dir / "backend.log",
            )
            backend.start()
            target = backend.url
            meta["backend_pid"] = backend.pid
            meta["factory_mode"] = factory or "canonical"
            meta["backend_config"] = {"factory_mode": meta["factory_mode"], **settings}
        meta["target"] = target
        write_json_atomic(out_dir / "meta.json", meta)
        _scrape(target, out_dir / "factory_metrics_before.json")
        cfg = LoadConfig(
            user_prefix=plan.user_prefix,
            password=plan.password,
            pool_size=plan.pool_size or plan.peak_users,
            users_csv=str(plan.users_csv) if plan.users_csv else None,
            connection="persistent" if plan.connection == "persistent" else "per_iteration",
            start_runs=plan.runs_start,
            response_timeout_s=plan.response_timeout_s,
            think_time_s=plan.think_time_s,
            source_addresses=plan.source_addresses,
            processes=plan.workers,
            model=plan.model,
            rate=plan.rate,
            rate_end=plan.rate_end,
            arrival=plan.arrival,
            duration_s=plan.duration_s,
            seed=plan.seed,
        )
        os.environ[ENV_VAR] = cfg.to_env()  # for worker processes
        set_config(cfg)

        def note_workers(pids: list[int]) -> None:
            meta["worker_pids"] = pids
            write_json_atomic(out_dir / "meta.json", meta)

        end_reason, detail, recorder = _drive(plan, cfg, target, out_dir, backend, note_workers)
        meta["end_reason"], meta["end_detail"] = end_reason, detail
        if end_reason != "backend_died":
            _scrape(target, out_dir / "factory_metrics_after.json")
    except KeyboardInterrupt:
        meta["end_reason"], meta["end_detail"] = "interrupted", "interrupted by the user"
    except BackendError as exc:
        meta["end_reason"], meta["end_detail"] = "error", str(exc).splitlines()[0][:300]
    except ResultsWriteError as exc:
        meta["end_reason"], meta["end_detail"] = "write_failed", str(exc)
    finally:
        try:
            rows = recorder.finalize() if recorder is not None else merge_parts(out_dir)
        except ResultsWriteError as exc:
            # The parts are still there (merge_parts deletes them only after success).
            rows = rows_on_disk(out_dir)
            unwritten = len(recorder.parts.pending) if recorder and recorder.parts else 0
            meta["end_reason"] = "write_failed"
            meta["end_detail"] = (
                f"{exc}; {rows} rows kept in events/part-*.parquet, {unwritten} not written"
            )
        if backend is not None:
            backend.cleanup()
        meta["ended_at"] = dt.datetime.now(dt.UTC).isoformat()
        meta["events_rows"] = rows
        meta["elapsed_s"] = round(time.monotonic() - t0, 3)
        try:
            write_json_atomic(out_dir / "meta.json", meta)
        except ResultsWriteError as exc:
            meta["end_reason"] = "write_failed"
            meta["end_detail"] = f"{exc}; the meta.json on disk is an earlier one"
    meta["out_dir"] = str(out_dir)
    return meta, summarize_rows(out_dir)


@dataclass(frozen=True)
class RunResult:
    """What ``run`` recorded: the results directory, its ``meta.json`` and a summary of its
    rows (per name: count, failures, percentiles; ``runs``: agent runs by the counting rule)."""

    out: Path
    meta: dict[str, Any]
    summary: dict[str, Any]

    @property
    def completed(self) -> bool:
        """The run ran to its end (``end_reason`` ``completed``)."""
        return is_completed(self.meta)

    @property
    def end_reason(self) -> str:
        return str(self.meta.get("end_reason"))


def run(plan: RunPlan) -> RunResult:
    """One load run from Python, as ``goldenpath run`` makes it; returns when it is recorded.

    Raises ``UsageError`` for a plan that cannot run (before anything starts) and
    ``ResultsWriteError`` when not even ``meta.json`` can be written. A run that fails
    once its directory exists (a backend that cannot start or dies, a lost worker, a full
    disk) returns, with its ``end_reason`` and ``end_detail``.
    """
    plan = plan.checked()
    out = plan.out or default_out(plan.factory or "run")
    meta, summary = run_once(plan, plan.factory, out)
    return RunResult(out=out, meta=meta, summary=summary)


def default_out(tag: str) -> Path:
    return Path("results") / "runs" / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{tag}"

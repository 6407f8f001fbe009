"""``goldenpath run``: one command from nothing to a results directory.

Starts the embedded reference backend on 127.0.0.1 (or targets ``--host``),
provisions users, waits for ``/ready``, runs Locust headless for a bounded
time, scrapes the backend's factory metrics before and after, writes the
results directory (``results/README.md``) and prints a summary. ``--compare``
runs legacy then canonical with the same scenario and prints both side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
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
from locust.runners import STATE_INIT, STATE_MISSING, STATE_STOPPED, MasterRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

from loadtests.config import (
    ENV_VAR,
    LoadConfig,
    OneLineParser,
    StartRuns,
    UsageError,
    parse_duration,
)
from loadtests.embedded import BackendError, EmbeddedBackend
from loadtests.locustfile import attach
from loadtests.recorder import Recorder
from loadtests.results import (
    SCHEMA_VERSION,
    ResultsWriteError,
    format_counts,
    format_summary,
    git_revision,
    merge_parts,
    rows_on_disk,
    summarize_rows,
    versions,
    write_json_atomic,
    write_text_atomic,
)
from loadtests.shapes import SHAPES, ShapeSpec, make_shape
from loadtests.users import GoldenPathUser, read_identities, set_config
from resultsformat.meta import COMPLETED, is_completed

PROG = "goldenpath run"
# A part that cannot be written is retried every second; after this long the run stops.
WRITE_FAILURE_LIMIT_S = 5.0
#: How long the master waits for its Locust workers to connect.
WORKER_WAIT_S = 60.0


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--scenario", default="steady", choices=sorted(SHAPES), help="load shape")
    p.add_argument("--users", type=int, default=50, help="peak concurrent users (default 50)")
    p.add_argument(
        "--spawn-rate", type=float, help="users started per second (default: all in 1 s)"
    )
    p.add_argument("--duration", default="20s", help="run time, e.g. 20s, 2m (default 20s)")
    p.add_argument("--factory", choices=["canonical", "legacy"], help="embedded backend's mode")
    p.add_argument("--host", help="target URL of a running deployment (default: embedded backend)")
    p.add_argument("--out", type=Path, help="results directory (default results/runs/<id>)")
    p.add_argument("--compare", action="store_true", help="run legacy then canonical, side by side")
    p.add_argument("--processes", type=int, default=1, help="Locust worker processes (default 1)")
    p.add_argument(
        "--expect-workers", type=int, default=0, metavar="N",
        help="run as a Locust master for N workers started elsewhere (locust -f "
        "loadtests/locustfile.py --worker --master-host THIS_HOST); their rows come here",
    )  # fmt: skip
    p.add_argument(
        "--master-bind-host",
        help="with --expect-workers: the address to listen on for workers (default *: all)",
    )  # fmt: skip
    p.add_argument(
        "--master-bind-port", type=int,
        help="with --expect-workers: the port to listen on for workers (default 5557)",
    )  # fmt: skip
    p.add_argument("--model", choices=["closed", "open"], default="closed")
    p.add_argument("--rate", type=float, default=0.0, help="open model: iterations per second")
    p.add_argument("--rate-end", type=float, help="open model: ramp the rate to this")
    p.add_argument("--arrival", choices=["constant", "poisson"], default="constant")
    p.add_argument(
        "--connection",
        choices=["per-iteration", "persistent"],
        default="per-iteration",
        help="login+connect every iteration (the golden path) or once per user",
    )
    p.add_argument(
        "--start-runs",
        choices=["ws", "http", "http-first"],
        help="start runs with a WebSocket frame, POST /api/chat/message, or HTTP for each "
        "user's first run (default: http-first for cold-start, else ws)",
    )
    p.add_argument("--users-csv", type=Path, help="CSV of username,password to log in as")
    p.add_argument(
        "--user-prefix", default="load", help="usernames PREFIX0..PREFIXn (default load)"
    )
    p.add_argument("--password", default="load-password", help="password of the load users")
    p.add_argument("--pool-size", type=int, help="distinct users to log in as (default: peak)")
    p.add_argument("--response-timeout", default="10s", help="wait for agent_completed (10s)")
    p.add_argument("--think-time", default="0s", help="pause between a user's iterations (0s)")
    p.add_argument(
        "--source-addresses", type=int, default=1, help="spread sockets over 127.0.0.1..N"
    )
    p.add_argument(
        "--backend-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="embedded backend setting, e.g. agent_think_ms=20 (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


@dataclass
class Plan:
    args: argparse.Namespace
    duration_s: float
    response_timeout_s: float
    think_time_s: float
    spawn_rate: float
    peak_users: int
    backend_settings: dict[str, str]


def start_runs(args: argparse.Namespace) -> StartRuns:
    """How runs start: as asked, else HTTP-first for a cold start (its HTTP burst) and
    WebSocket frames otherwise."""
    chosen: StartRuns = args.start_runs or ("http-first" if args.scenario == "cold-start" else "ws")
    return chosen


def _check_bind(host: str, port: int) -> None:
    """Refuse, with one line, an address and port the master could not listen on."""
    if not 1 <= port <= 65535:
        raise UsageError("--master-bind-port must be between 1 and 65535")
    try:
        infos = socket.getaddrinfo(None if host == "*" else host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    except OSError as exc:
        raise UsageError(
            f"--master-bind-host {host} --master-bind-port {port}: cannot listen there "
            f"({getattr(exc, 'strerror', None) or exc})"
        ) from None


def _reachable(bind_host: str) -> str:
    """What a worker passes as ``--master-host`` for a master listening on ``bind_host``."""
    wildcard = bind_host == "*" or bind_host.strip("0.:") == ""  # *, 0.0.0.0, ::
    return "<this host's address>" if wildcard else bind_host


def worker_count(args: argparse.Namespace) -> int:
    """Locust processes that run users: local ``--processes``, or ``--expect-workers``."""
    return int(args.expect_workers or args.processes)


def make_plan(args: argparse.Namespace) -> Plan:
    if args.users < 1:
        raise UsageError("--users must be at least 1")
    if args.processes < 1 or args.processes > 64:
        raise UsageError("--processes must be between 1 and 64")
    if args.expect_workers:
        if not 1 <= args.expect_workers <= 64:
            raise UsageError("--expect-workers must be between 1 and 64")
        if args.processes > 1:
            raise UsageError("--expect-workers and --processes both start workers: use one")
        if args.model == "open":
            raise UsageError(
                "--model open sets each worker's arrival schedule when it starts: use "
                "--processes on one host, or the closed model with --expect-workers"
            )
        if not args.host:
            raise UsageError(
                "--expect-workers needs --host: workers on other hosts cannot reach the "
                "embedded backend, which listens on 127.0.0.1"
            )
        args.master_bind_host = args.master_bind_host or "*"
        if args.master_bind_port is None:
            args.master_bind_port = 5557
        _check_bind(args.master_bind_host, args.master_bind_port)
    elif args.master_bind_host is not None or args.master_bind_port is not None:
        raise UsageError("--master-bind-host and --master-bind-port go with --expect-workers")
    if args.compare and args.host:
        raise UsageError("--compare starts its own legacy and canonical backends; drop --host")
    if args.model == "open" and args.rate <= 0:
        raise UsageError("--model open needs --rate > 0 (iterations per second)")
    if args.pool_size is not None and args.pool_size < 1:
        raise UsageError("--pool-size must be at least 1")
    if args.users_csv is not None:
        try:
            accounts = len(read_identities(str(args.users_csv)))
        except OSError as exc:
            raise UsageError(f"--users-csv {args.users_csv}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UsageError(f"--users-csv {exc}") from None
        if accounts < worker_count(args):
            raise UsageError(
                f"--users-csv {args.users_csv} has {accounts} account(s) for {worker_count(args)} "
                "processes: each process needs accounts of its own (an account cannot span "
                "processes)"
            )
    peak = args.users * 3 if args.scenario == "spike" else args.users
    pool = args.pool_size or peak
    if args.users_csv is None and pool < worker_count(args):
        raise UsageError(
            f"a pool of {pool} account(s) (--pool-size, default --users) for "
            f"{worker_count(args)} worker processes: each process needs accounts of its own "
            "(an account cannot span processes)"
        )
    if args.host and not re.match(r"^https?://[^/\s]+", args.host):
        raise UsageError(f"--host {args.host!r}: expected a URL like http://127.0.0.1:8000")
    settings: dict[str, str] = {}
    for item in args.backend_setting:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--backend-setting {item!r}: expected KEY=VALUE")
        settings[key.strip().lower()] = value.strip()
    duration = parse_duration(args.duration)
    return Plan(
        args=args,
        duration_s=duration,
        response_timeout_s=parse_duration(args.response_timeout),
        think_time_s=parse_duration(args.think_time, allow_zero=True),
        spawn_rate=args.spawn_rate or float(args.users),
        peak_users=peak,
        backend_settings=settings,
    )


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


class Progress:
    """One status line every few seconds (stderr), so a long run shows it is alive."""

    def __init__(self, recorder: Recorder, duration_s: float, *, quiet: bool) -> None:
        self.recorder = recorder
        self.duration_s = duration_s
        self.quiet = quiet
        self.started = time.monotonic()
        self._last = 0.0

    def tick(self, runner: Any, force: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not force and now - self._last < 2.0):
            return
        self._last = now
        live = self.recorder.live
        elapsed = now - self.started
        rate = live.runs.runs / elapsed if elapsed > 0 else 0.0
        print(
            f"[{elapsed:5.0f}s/{self.duration_s:.0f}s] users {runner.user_count:>5} | "
            f"{rate:.1f} runs/s | {format_counts(live.runs)} | rows {live.rows}",
            file=sys.stderr,
            flush=True,
        )


def _start_workers(n: int, port: int, log: Path) -> list[subprocess.Popen[bytes]]:
    locustfile = Path(__file__).with_name("locustfile.py")
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--worker"]
    cmd += ["--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
    procs = []
    with open(log, "ab") as fh:
        for _ in range(n):
            procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT))  # noqa: S603
    return procs


def _await_last_reports(
    runner: MasterRunner, recorder: Recorder, lost: set[str], timeout_s: float = 10.0
) -> None:
    """Wait until each live worker has sent a report after it stopped: it carries its last rows.

    A stopping worker kills its users, sends ``client_stopped``, then ``client_ready``
    (state INIT). Its messages arrive in order, so a report that arrives after the master
    has seen it INIT again left after its users stopped. Workers report every 3 s, so this
    takes at most about that; a worker that went missing sends nothing more.
    """
    seen_at: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        waiting = False
        for client_id in set(recorder.reports) | set(runner.clients):
            node = runner.clients.get(client_id)
            if client_id in lost or (node is not None and node.state == STATE_MISSING):
                continue
            if node is None or node.state != STATE_INIT:
                waiting = True  # between client_stopped and client_ready, or still stopping
                continue
            seen_at.setdefault(client_id, recorder.reports[client_id])
            waiting |= recorder.reports[client_id] <= seen_at[client_id]
        if not waiting:
            return
        gevent.sleep(0.1)


def _stop_processes(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _drive(
    plan: Plan,
    cfg: LoadConfig,
    target: str,
    out_dir: Path,
    backend: EmbeddedBackend | None,
    on_workers: Callable[[list[int]], None] | None = None,
) -> tuple[str, str | None, Recorder]:
    """Run Locust until the shape ends, the backend dies, results cannot be written or the
    hard deadline passes. ``on_workers`` gets the worker processes' PIDs once they started."""
    args = plan.args
    spec = ShapeSpec(users=args.users, spawn_rate=plan.spawn_rate, duration_s=plan.duration_s)
    env = Environment(
        user_classes=[GoldenPathUser], shape_class=make_shape(args.scenario, spec), host=target
    )
    workers: list[subprocess.Popen[bytes]] = []
    n_workers = worker_count(args)
    if args.expect_workers:
        try:
            runner: Any = env.create_master_runner(args.master_bind_host, args.master_bind_port)
        except RPCError as exc:  # taken between the check and now
            raise BackendError(f"cannot listen for Locust workers: {exc}") from None
    elif args.processes > 1:
        port = _free_port()
        runner = env.create_master_runner("127.0.0.1", port)
        workers = _start_workers(args.processes, port, out_dir / "workers.log")
    else:
        runner = env.create_local_runner()
    recorder = attach(env, out_dir)
    recorder.start()
    csv_writer = StatsCSVFileWriter(env, PERCENTILES_TO_REPORT, str(out_dir / "locust"), True)
    background = [gevent.spawn(stats_history, runner), gevent.spawn(csv_writer.stats_writer)]
    progress = Progress(recorder, plan.duration_s, quiet=args.quiet)
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
                        f"--master-host {_reachable(args.master_bind_host)} "
                        f"--master-port {args.master_bind_port}"
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
        started = time.monotonic()
        # The shape stops the run at duration_s; this bound stops it whatever happens.
        hard_deadline = started + plan.duration_s + max(30.0, 2 * plan.response_timeout_s)
        health_failures, next_health = 0, started + 1
        while True:
            gevent.sleep(0.25)
            now = time.monotonic()
            progress.tick(runner)
            if runner.state == STATE_STOPPED and now - started > 1:
                break
            if backend is not None and backend.process is not None:
                if backend.process.poll() is not None:
                    end_reason = "backend_died"
                    detail = f"the backend exited with {backend.process.returncode} mid-run"
                    break
            elif now >= next_health:
                next_health = now + 1
                try:
                    health.get(f"{target}/health").raise_for_status()
                    health_failures = 0
                except (httpx.HTTPError, OSError):  # OSError: out of files, say
                    health_failures += 1
                if health_failures >= 5:
                    end_reason, detail = "backend_died", "GET /health failed 5 times in a row"
                    break
            if isinstance(runner, MasterRunner):
                missing = {c.id for c in runner.clients.missing} - lost
                if missing:
                    # The others run on to the end; the lost workers' users are not replaced.
                    lost |= missing
                    end_reason = "worker_lost"
                    detail = (
                        f"{len(lost)} of {n_workers} Locust workers stopped reporting "
                        f"mid-run; the others ran on"
                    )
                if len(lost) >= n_workers:
                    break
            parts = recorder.parts
            if parts is not None and parts.failing_since is not None:
                if now - parts.failing_since >= WRITE_FAILURE_LIMIT_S:
                    end_reason = "write_failed"
                    detail = (
                        f"{parts.error}; retried for {WRITE_FAILURE_LIMIT_S:.0f} s, run stopped"
                    )
                    break
            if now > hard_deadline:
                end_reason, detail = "error", "the run did not stop by itself; stopped at the bound"
                break
        progress.tick(runner, force=True)
    except KeyboardInterrupt:
        end_reason, detail = "interrupted", "interrupted by the user"
    finally:
        if health is not None:
            health.close()
        runner.stop()
        if isinstance(runner, MasterRunner):
            _await_last_reports(runner, recorder, lost)
        runner.quit()
        # One more pass of Locust's CSV writer (every 1 s), so its files include the last reports.
        gevent.sleep(1.1)
        for g in background:
            g.kill()
        with contextlib.suppress(Exception):
            csv_writer.close_files()
        with contextlib.suppress(Exception):
            html = get_html_report(env, show_download_link=False)
            write_text_atomic(out_dir / "locust_report.html", html)
        _stop_processes(workers)
    return end_reason, detail, recorder


def run_once(
    plan: Plan, factory: str | None, out_dir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One load run into ``out_dir``; returns (meta, summary)."""
    args = plan.args
    if out_dir.exists() and any(out_dir.iterdir()):
        raise UsageError(f"--out {out_dir}: the directory is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC)
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": f"{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        "target": args.host,
        "embedded_backend": args.host is None,
        "factory_mode": factory,
        "scenario": {
            "name": args.scenario if args.model == "closed" else "open",
            "shape": args.scenario,
            "model": args.model,
            "user_class": "GoldenPathUser",
            "connection": args.connection,
            "start_runs": start_runs(args),
            "rate": args.rate if args.model == "open" else None,
            "rate_end": args.rate_end,
            "arrival": args.arrival if args.model == "open" else None,
        },
        "users": plan.peak_users,
        "spawn_rate": plan.spawn_rate,
        "duration_s": plan.duration_s,
        "processes": args.processes,
        "expect_workers": args.expect_workers or None,
        "backend_config": {},
        "versions": versions(),
        "git_revision": git_revision(Path(__file__).resolve().parent),
        "started_at": started_at.isoformat(),
        "ended_at": None,
        "end_reason": "running",
        "end_detail": None,
        "events_rows": 0,
    }
    write_json_atomic(out_dir / "meta.json", meta)
    backend: EmbeddedBackend | None = None
    recorder: Recorder | None = None
    t0 = time.monotonic()
    try:
        if args.host:
            target = args.host.rstrip("/")
            meta["factory_mode"] = factory or _probe_mode(target)
        else:
            settings: dict[str, object] = {"agent_seed": args.seed, **plan.backend_settings}
            backend = EmbeddedBackend(
                factory=factory or "canonical",
                users=args.pool_size or plan.peak_users,
                prefix=args.user_prefix,
                password=args.password,
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
            user_prefix=args.user_prefix,
            password=args.password,
            pool_size=args.pool_size or plan.peak_users,
            users_csv=str(args.users_csv) if args.users_csv else None,
            connection="persistent" if args.connection == "persistent" else "per_iteration",
            start_runs=start_runs(args),
            response_timeout_s=plan.response_timeout_s,
            think_time_s=plan.think_time_s,
            source_addresses=args.source_addresses,
            processes=worker_count(args),
            model=args.model,
            rate=args.rate,
            rate_end=args.rate_end,
            arrival=args.arrival,
            duration_s=plan.duration_s,
            seed=args.seed,
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


def _default_out(tag: str) -> Path:
    return Path("results") / "runs" / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{tag}"


def _side_by_side(results: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    cols = list(results)
    rows: list[tuple[str, list[str]]] = []

    def cell(summary: dict[str, Any], name: str, key: str, fmt: str) -> str:
        value = summary["names"].get(name, {}).get(key)
        return "-" if value is None else format(value, fmt)

    for label, name, key, fmt in [
        ("golden_path count", "golden_path", "count", "d"),
        ("golden_path failures", "golden_path", "failures", "d"),
        ("golden_path p50 ms", "golden_path", "p50", ".1f"),
        ("golden_path p95 ms", "golden_path", "p95", ".1f"),
        ("golden_path p99 ms", "golden_path", "p99", ".1f"),
        ("response p95 ms", "response", "p95", ".1f"),
    ]:
        rows.append((label, [cell(results[c][1], name, key, fmt) for c in cols]))
    counts = {c: results[c][1]["runs"] for c in cols}
    rows.append(("agent runs failed", [str(counts[c].failed) for c in cols]))
    rows.append(("isolation violations", [str(counts[c].isolation_violations) for c in cols]))
    rows.append(("1011 closes", [str(counts[c].closes_1011) for c in cols]))
    rows.append(("runs timed out", [str(counts[c].by_kind.get("timeout", 0)) for c in cols]))
    width = max(len(r[0]) for r in rows) + 2
    lines = ["".ljust(width) + "".join(c.rjust(14) for c in cols)]
    lines += [label.ljust(width) + "".join(v.rjust(14) for v in vals) for label, vals in rows]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``goldenpath run ...``; exit 0 when every run completed, 1 otherwise (a lost worker,
    a dead backend, a failed write), 2 on bad input."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        plan = make_plan(args)
        if args.compare:
            base = args.out or _default_out("compare")
            results = {}
            for mode in ("legacy", "canonical"):
                print(
                    f"== {mode}: {args.users} users, {args.scenario}, {args.duration}",
                    file=sys.stderr,
                )
                results[mode] = run_once(plan, mode, base / mode)
            for mode, (meta, summary) in results.items():
                print("\n".join(format_summary(mode, summary, meta)))
            print("\nbefore (legacy) vs after (canonical):")
            print("\n".join(_side_by_side(results)))
            return 0 if all(is_completed(m) for m, _ in results.values()) else 1
        out = args.out or _default_out(args.factory or "run")
        meta, summary = run_once(plan, args.factory, out)
        print("\n".join(format_summary(meta.get("factory_mode") or "run", summary, meta)))
        if meta["end_reason"] == "write_failed":
            print(f"{PROG}: error: {meta['end_detail']}", file=sys.stderr)
            return 1
        if not is_completed(meta):
            reason, detail = meta["end_reason"], meta["end_detail"]
            print(f"{PROG}: the run did not complete cleanly ({reason}): {detail}", file=sys.stderr)
            return 1
        return 0
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"{PROG}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except ResultsWriteError as exc:  # before the run started: nothing was recorded
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1

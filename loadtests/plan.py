"""What a load run is asked to do: ``RunPlan``, built in Python or from ``goldenpath run``'s
arguments, and checked before anything starts (``UsageError``: one line, exit 2).

    from loadtests import RunPlan, run
    result = run(RunPlan(users=20, duration_s=30, out=Path("results/runs/mine")))
"""

from __future__ import annotations

import argparse
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from loadtests.accounts import read_identities
from loadtests.config import StartRuns, UsageError, parse_duration
from loadtests.shapes import SHAPES
from resultsformat.cli import OneLineParser

PROG = "goldenpath run"
DEFAULT_MASTER_PORT = 5557


@dataclass(frozen=True)
class RunPlan:
    """One load run. Every field has ``goldenpath run``'s default; durations in seconds.

    ``host`` None starts the embedded reference backend on 127.0.0.1 in ``factory`` mode
    (canonical unless legacy); ``out`` None writes to ``results/runs/<time>-<mode>``.
    """

    users: int = 50
    duration_s: float = 20.0
    scenario: str = "steady"
    spawn_rate: float | None = None  # users started per second; None: all in 1 s
    factory: Literal["canonical", "legacy"] | None = None
    host: str | None = None
    out: Path | None = None
    processes: int = 1
    expect_workers: int = 0
    master_bind_host: str | None = None
    master_bind_port: int | None = None
    model: Literal["closed", "open"] = "closed"
    rate: float = 0.0
    rate_end: float | None = None
    arrival: Literal["constant", "poisson"] = "constant"
    connection: Literal["per-iteration", "persistent"] = "per-iteration"
    start_runs: StartRuns | None = None
    users_csv: Path | None = None
    user_prefix: str = "load"
    password: str = "load-password"  # noqa: S105 - the embedded backend's throwaway users
    pool_size: int | None = None
    response_timeout_s: float = 10.0
    think_time_s: float = 0.0
    source_addresses: int = 1
    backend_settings: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    quiet: bool = False

    # --- derived ------------------------------------------------------------------------

    @property
    def peak_users(self) -> int:
        return self.users * 3 if self.scenario == "spike" else self.users

    @property
    def pool(self) -> int:
        """Accounts the users log in as (``pool_size``, default the peak)."""
        return self.pool_size or self.peak_users

    @property
    def rate_of_spawn(self) -> float:
        return self.spawn_rate or float(self.users)

    @property
    def workers(self) -> int:
        """Locust processes that run users: local ``processes``, or ``expect_workers``."""
        return int(self.expect_workers or self.processes)

    @property
    def runs_start(self) -> StartRuns:
        """How runs start: as asked, else HTTP-first for a cold start (its HTTP burst) and
        WebSocket frames otherwise."""
        return self.start_runs or ("http-first" if self.scenario == "cold-start" else "ws")

    # --- checks -------------------------------------------------------------------------

    def checked(self) -> RunPlan:
        """This plan, with the master's defaults filled in; ``UsageError`` names what is wrong."""
        plan = self
        if self.users < 1:
            raise UsageError("--users must be at least 1")
        if self.duration_s <= 0 or self.response_timeout_s <= 0 or self.think_time_s < 0:
            raise UsageError("--duration and --response-timeout must be > 0, --think-time >= 0")
        if "workers" in self.backend_settings:
            raise UsageError(
                "--backend-setting workers: the embedded backend is one process "
                "(serve several workers yourself and point --host at them)"
            )
        if self.scenario not in SHAPES:
            raise UsageError(f"--scenario {self.scenario!r}: one of {', '.join(sorted(SHAPES))}")
        for name, value, allowed in (
            ("--model", self.model, ("closed", "open")),
            ("--connection", self.connection, ("per-iteration", "persistent")),
            ("--arrival", self.arrival, ("constant", "poisson")),
            ("--start-runs", self.start_runs, (None, "ws", "http", "http-first")),
            ("--factory", self.factory, (None, "canonical", "legacy")),
        ):
            if value not in allowed:
                choices = ", ".join(a for a in allowed if a)
                raise UsageError(f"{name} {value!r}: one of {choices}")
        if self.source_addresses < 1:
            raise UsageError("--source-addresses must be at least 1")
        if self.spawn_rate is not None and not self.spawn_rate > 0:
            raise UsageError("--spawn-rate must be > 0")
        if self.processes < 1 or self.processes > 64:
            raise UsageError("--processes must be between 1 and 64")
        if self.expect_workers:
            plan = self._checked_master()
        elif self.master_bind_host is not None or self.master_bind_port is not None:
            raise UsageError("--master-bind-host and --master-bind-port go with --expect-workers")
        if self.model == "open" and self.rate <= 0:
            raise UsageError("--model open needs --rate > 0 (iterations per second)")
        if self.pool_size is not None and self.pool_size < 1:
            raise UsageError("--pool-size must be at least 1")
        if self.users_csv is not None:
            self._check_accounts_file(self.users_csv)
        elif self.pool < self.workers:
            raise UsageError(
                f"a pool of {self.pool} account(s) (--pool-size, default --users) for "
                f"{self.workers} worker processes: each process needs accounts of its own "
                "(an account cannot span processes)"
            )
        if self.host and not re.match(r"^https?://[^/\s]+", self.host):
            raise UsageError(f"--host {self.host!r}: expected a URL like http://127.0.0.1:8000")
        return plan

    def _checked_master(self) -> RunPlan:
        if not 1 <= self.expect_workers <= 64:
            raise UsageError("--expect-workers must be between 1 and 64")
        if self.processes > 1:
            raise UsageError("--expect-workers and --processes both start workers: use one")
        if self.model == "open":
            raise UsageError(
                "--model open sets each worker's arrival schedule when it starts: use "
                "--processes on one host, or the closed model with --expect-workers"
            )
        if not self.host:
            raise UsageError(
                "--expect-workers needs --host: workers on other hosts cannot reach the "
                "embedded backend, which listens on 127.0.0.1"
            )
        host = self.master_bind_host or "*"
        port = DEFAULT_MASTER_PORT if self.master_bind_port is None else self.master_bind_port
        _check_bind(host, port)
        return replace(self, master_bind_host=host, master_bind_port=port)

    def _check_accounts_file(self, path: Path) -> None:
        try:
            accounts = len(read_identities(str(path)))
        except OSError as exc:
            raise UsageError(f"--users-csv {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UsageError(f"--users-csv {exc}") from None
        if accounts < self.workers:
            raise UsageError(
                f"--users-csv {path} has {accounts} account(s) for {self.workers} "
                "processes: each process needs accounts of its own (an account cannot span "
                "processes)"
            )

    # --- from the command line ----------------------------------------------------------

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunPlan:
        """The plan ``goldenpath run``'s arguments describe (checked)."""
        settings: dict[str, str] = {}
        for item in args.backend_setting:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"--backend-setting {item!r}: expected KEY=VALUE")
            settings[key.strip().lower()] = value.strip()
        if args.compare and args.host:
            raise UsageError("--compare starts its own legacy and canonical backends; drop --host")
        plan = cls(
            users=args.users,
            duration_s=parse_duration(args.duration),
            scenario=args.scenario,
            spawn_rate=args.spawn_rate,
            factory=args.factory,
            host=args.host,
            out=args.out,
            processes=args.processes,
            expect_workers=args.expect_workers,
            master_bind_host=args.master_bind_host,
            master_bind_port=args.master_bind_port,
            model=args.model,
            rate=args.rate,
            rate_end=args.rate_end,
            arrival=args.arrival,
            connection=args.connection,
            start_runs=args.start_runs,
            users_csv=args.users_csv,
            user_prefix=args.user_prefix,
            password=args.password,
            pool_size=args.pool_size,
            response_timeout_s=parse_duration(args.response_timeout),
            think_time_s=parse_duration(args.think_time, allow_zero=True),
            source_addresses=args.source_addresses,
            backend_settings=settings,
            seed=args.seed,
            quiet=args.quiet,
        )
        return plan.checked()


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


def reachable(bind_host: str) -> str:
    """What a worker passes as ``--master-host`` for a master listening on ``bind_host``."""
    wildcard = bind_host == "*" or bind_host.strip("0.:") == ""  # *, 0.0.0.0, ::
    return "<this host's address>" if wildcard else bind_host


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=PROG,
        description="``goldenpath run``: one command from nothing to a results directory.",
    )
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


def check_out_dir(out: Path) -> None:
    """A run writes into a new or empty directory: ``UsageError`` otherwise."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out}: the directory is not empty")
    for parent in out.parents:  # a file where a directory must be made
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {out}: {parent} is not a directory")
            break

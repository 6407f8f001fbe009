"""Locust users for the golden path: login -> WebSocket -> AI response, every check on.

``GoldenPathUser`` logs in, connects, sends a message carrying a unique
canary and reads until its ``agent_completed``, then checks order, isolation
and the close code (:mod:`loadtests.checks`). Timings go to Locust's own
statistics under their own names (``login``, ``ws_connect``, ``ttfe``,
``response``, ``golden_path``) and, through :mod:`loadtests.recorder`, to the
run's raw event log.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections import deque
from typing import Any

from locust import task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

from loadtests.checks import GoldenPathFailure, RunCheck, new_canary
from loadtests.config import LoadConfig
from loadtests.wsclient import ClosedByServer, WsConnection, token_subject, ws_url

_config: LoadConfig | None = None
_local_index = itertools.count()
_csv_identities: list[tuple[str, str]] | None = None


def load_config() -> LoadConfig:
    """This process's LoadConfig: set by the runner, else read from the environment."""
    global _config
    if _config is None:
        _config = LoadConfig.from_env()
    return _config


def set_config(cfg: LoadConfig) -> None:
    global _config, _csv_identities
    _config, _csv_identities = cfg, None


def read_identities(path: str) -> list[tuple[str, str]]:
    """``username,password`` rows of a CSV (header and ``#`` comments allowed).

    Raises ValueError naming the first bad line.
    """
    identities = []
    with open(path, newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].startswith("#") or row[:2] == ["username", "password"]:
                continue
            if len(row) < 2 or not row[0] or not row[1]:
                raise ValueError(f"{path}:{lineno}: expected username,password")
            identities.append((row[0], row[1]))
    if not identities:
        raise ValueError(f"{path}: no username,password rows")
    return identities


def _identities(cfg: LoadConfig) -> list[tuple[str, str]]:
    global _csv_identities
    if _csv_identities is None:
        _csv_identities = read_identities(cfg.users_csv or "")
    return _csv_identities


class GoldenPathUser(FastHttpUser):
    """One distinct backend user walking the golden path back to back (closed model)."""

    # Locust's default HTTP timeouts; the WebSocket has its own (LoadConfig).
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.cfg = load_config()
        index = self._global_index()
        self.source_index = index
        if self.cfg.users_csv:
            identities = _identities(self.cfg)
            self.username, self.password = identities[index % len(identities)]
        else:
            self.username = f"{self.cfg.user_prefix}{index % self.cfg.pool_size}"
            self.password = self.cfg.password
        self.token: str | None = None
        self.login_failure = "auth_failed"
        self.user_id = ""
        self.ws: WsConnection | None = None
        self.schedule = getattr(self.environment, "goldenpath_schedule", None)
        self.backoff_s = 0.0
        # this user's last runs that did not complete: their late events may still come
        self.unfinished: deque[str] = deque(maxlen=64)  # their canaries
        self.unfinished_runs: deque[str] = deque(maxlen=64)  # their run ids, once seen

    def wait_time(self) -> float:
        """Think time between iterations (0: back to back, the closed model's default).

        After a failure to reach the server at all (refused or reset), a closed-model
        user backs off, 50 ms doubling up to 2 s, so an outage is not hammered by
        thousands of failed logins a second while the backend restarts.
        """
        return max(self.cfg.think_time_s, self.backoff_s)

    def _unreachable(self, failed: bool) -> None:
        if self.schedule is not None:  # the open model keeps its schedule (drops are counted)
            return
        self.backoff_s = min(2.0, max(0.05, 2 * self.backoff_s)) if failed else 0.0

    def _global_index(self) -> int:
        # Distinct across processes: worker k of n takes k, k+n, k+2n, ...
        worker = int(getattr(self.environment.runner, "worker_index", 0) or 0)
        return worker + next(_local_index) * max(1, self.cfg.processes)

    def on_stop(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def _fire(
        self,
        name: str,
        started: float,
        ms: float,
        exc: BaseException | None = None,
        **context: Any,
    ) -> None:
        self.environment.events.request.fire(
            request_type="GOLDENPATH" if name in {"golden_path", "iteration"} else "WS",
            name=name,
            response_time=ms,
            response_length=0,
            exception=exc,
            context={"user": self.username, **context},
            start_time=started,
            url=None,
            response=None,
        )

    def _login(self) -> bool:
        with self.client.post(
            "/api/auth/login",
            json={"username": self.username, "password": self.password},
            name="login",
            context={"user": self.username},
            catch_response=True,
        ) as resp:
            if resp.status_code == 0:  # no HTTP answer: refused, reset or timed out
                self.login_failure = "connect_failed"
                resp.failure(f"connect_failed: {type(resp.error).__name__}: {resp.error}")
                return False
            if resp.status_code != 200:
                self.login_failure = "auth_failed"
                resp.failure(f"auth_failed: HTTP {resp.status_code}")
                return False
            try:
                self.token = str(resp.json()["access_token"])
                self.user_id = token_subject(self.token)
            except (ValueError, KeyError, TypeError, IndexError):
                self.login_failure = "auth_failed"
                resp.failure("auth_failed: no access_token in the login response")
                return False
        return True

    def _connect(self) -> bool:
        started = time.time()
        t0 = time.perf_counter()
        try:
            self.ws = WsConnection(
                ws_url(self.host or ""),
                token=self.token or "",
                timeout_s=self.cfg.connect_timeout_s,
                source_index=self.source_index,
                sources=self.cfg.source_addresses,
            )
        except Exception as exc:
            self.ws = None
            failure = GoldenPathFailure("connect_failed", type(exc).__name__)
            self._fire("ws_connect", started, (time.perf_counter() - t0) * 1000, failure)
            return False
        self._fire("ws_connect", started, (time.perf_counter() - t0) * 1000)
        return True

    def _exchange(self, ws: WsConnection) -> tuple[RunCheck, float, float | None, float]:
        """Send one message and read its run: (check, send wall time, ttfe ms, response ms)."""
        check = RunCheck(
            user_id=self.user_id,
            canary=new_canary(),
            earlier=frozenset(self.unfinished),
            earlier_runs=set(self.unfinished_runs),
        )
        frame = json.dumps(
            {
                "type": "user_message",
                "message": f"{self.cfg.message} {check.canary}",
                "client_msg_id": check.canary,
            }
        )
        sent_at = time.time()
        t0 = time.perf_counter()
        ttfe: float | None = None
        deadline = t0 + self.cfg.response_timeout_s
        try:
            ws.send_text(frame)
            while not check.done:
                left = deadline - time.perf_counter()
                if left <= 0:
                    check.timed_out = True
                    break
                ws.settimeout(left)
                raw = ws.recv_text()
                elapsed_ms = (time.perf_counter() - t0) * 1000
                set_aside = check.stale
                check.observe(raw)
                if ttfe is None and check.stale == set_aside:  # not an earlier run's event
                    ttfe = elapsed_ms
        except ClosedByServer as closed:
            check.close_code = closed.code
        except TimeoutError:
            check.timed_out = True
        except Exception:  # the socket broke without a close frame (1006)
            check.close_code = 1006
        return check, sent_at, ttfe, (time.perf_counter() - t0) * 1000

    @task
    def golden_path(self) -> None:
        intended: float | None = None
        if self.schedule is not None:
            intended = self.schedule.take()
            if intended is None:
                raise StopUser()
        self.iteration(intended)

    def iteration(self, intended: float | None = None) -> None:
        per_iteration = self.cfg.connection == "per_iteration"
        started = time.time()
        t0 = time.perf_counter()
        if (per_iteration or self.token is None) and not self._login():
            failure = GoldenPathFailure(self.login_failure)
            self._unreachable(failure.kind == "connect_failed")
            self._end_iteration(intended, started, t0, failure, None)
            return
        if (per_iteration or self.ws is None) and not self._connect():
            self._unreachable(True)
            self._end_iteration(intended, started, t0, GoldenPathFailure("connect_failed"), None)
            return
        self._unreachable(False)
        assert self.ws is not None
        check, sent_at, ttfe, response_ms = self._exchange(self.ws)
        run_id = next(iter(check.run_ids), None) if len(check.run_ids) == 1 else None
        if ttfe is not None:
            self._fire("ttfe", sent_at, ttfe, run_id=run_id)
        failure = check.failure()
        if not check.completed:
            self.unfinished.append(check.canary)
            self.unfinished_runs.extend(check.run_ids)
        self.unfinished_runs.extend(check.earlier_runs.difference(self.unfinished_runs))
        if check.close_code is not None:
            self.ws = None  # the server ended it; reconnect next time
        close_code = check.close_code
        # a socket whose read or send timed out may hold half a frame: never reused
        if (per_iteration or check.timed_out) and self.ws is not None:
            close_code = self.ws.close()
            self.ws = None
            if failure is None and close_code not in (1000, 1001, None):
                failure = GoldenPathFailure(
                    "ws_close_1011" if close_code == 1011 else "ws_close_other",
                    f"close handshake answered with {close_code}",
                )
        last = not per_iteration
        self._fire(
            "response",
            sent_at,
            self._corrected(intended, response_ms) if last else response_ms,
            failure,
            run_id=run_id,
            close_code=check.close_code,
            failure_kind=failure.kind if failure else None,
            service_ms=response_ms,
        )
        if per_iteration:
            self._end_iteration(intended, started, t0, failure, close_code, run_id=run_id)

    @staticmethod
    def _corrected(intended: float | None, service_ms: float) -> float:
        """Latency from the intended start (open model: coordinated omission corrected)."""
        return service_ms if intended is None else (time.time() - intended) * 1000

    def _end_iteration(
        self,
        intended: float | None,
        started: float,
        t0: float,
        failure: GoldenPathFailure | None,
        close_code: int | None,
        run_id: str | None = None,
    ) -> None:
        if self.cfg.connection != "per_iteration":
            return  # persistent users have no per-iteration login: their failed step has its row
        service_ms = (time.perf_counter() - t0) * 1000
        ms = self._corrected(intended, service_ms)
        self._fire(
            "golden_path",
            intended or started,
            ms,
            failure,
            run_id=run_id,
            close_code=close_code,
            failure_kind=failure.kind if failure else None,
            service_ms=service_ms,
        )

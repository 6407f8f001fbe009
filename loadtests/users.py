"""Locust users for the golden path: login -> WebSocket -> AI response, every check on.

``GoldenPathUser`` logs in, connects, sends a message carrying a unique
canary and reads until its ``agent_completed``, then checks order, isolation
and the close code (:mod:`loadtests.checks`). Timings go to Locust's own
statistics under their own names (``login``, ``ws_connect``, ``ttfe``,
``response``, ``golden_path``) and, through :mod:`loadtests.recorder`, to the
run's raw event log.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from gevent import GreenletExit
from locust import task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

from loadtests.accounts import credentials, load_config, set_config
from loadtests.checks import Account, GoldenPathFailure, RunCheck
from loadtests.wsclient import ClosedByServer, WsConnection, token_subject, ws_url
from resultsformat import GOLDEN_PATH, LATE_FRAME, RESPONSE

__all__ = ["CLOSE_WAIT_S", "GoldenPathUser", "load_config", "set_config"]

_local_index = itertools.count()
# Backend users in this process, by user id: virtual users logged in as one account
# share what it sent, so one's messages are never foreign to the other.
_accounts: dict[str, Account] = {}
# Seconds a socket closed at the end of the load (or after a timeout) waits for the
# server's close frame, checking every message that arrives before it.
CLOSE_WAIT_S = 1.0


class GoldenPathUser(FastHttpUser):
    """One backend user walking the golden path back to back (closed model).

    Every frame it reads is checked (:mod:`loadtests.checks`). A run's row is
    written once its outcome is known; a frame read after that (on the socket
    closed when the load stops) that changes the outcome is written as a
    ``late_frame`` row for that run. A run cut by the end of the load is written
    as ``interrupted``, once its socket is closed and what arrived was checked.
    """

    # Locust's default HTTP timeouts; the WebSocket has its own (LoadConfig).
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.cfg = load_config()
        worker = int(getattr(self.environment.runner, "worker_index", 0) or 0)
        local = next(_local_index)
        processes = max(1, self.cfg.processes)
        # Distinct across processes: worker k of n takes k, k+n, k+2n, ...
        self.source_index = worker + local * processes
        self.username, self.password = credentials(self.cfg, worker, local)
        self.token: str | None = None
        self.login_failure = "auth_failed"
        self.user_id = ""
        self.account: Account | None = None
        self.ws: WsConnection | None = None
        self.schedule = getattr(self.environment, "goldenpath_schedule", None)
        self.backoff_s = 0.0
        self.last: RunCheck | None = None  # the latest run whose row is written
        self.runs_started = 0

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

    def on_stop(self) -> None:
        # The socket of a persistent user (or of one stopped between iterations) may
        # still hold frames: they are checked and charged to its latest run.
        if self.ws is not None and self.last is not None:
            self._close(self.last)
        elif self.ws is not None:
            self.ws.close(CLOSE_WAIT_S)
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
            request_type="GOLDENPATH" if name in {GOLDEN_PATH, "iteration"} else "WS",
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
            # a fixed message per kind (one row in Locust's failures table), details apart
            if resp.status_code == 0:  # no HTTP answer: refused, reset or timed out
                self.login_failure = "connect_failed"
                detail = f"{type(resp.error).__name__}: {resp.error}"
                resp.failure(GoldenPathFailure("connect_failed", detail))
                return False
            if resp.status_code != 200:
                self.login_failure = "auth_failed"
                resp.failure(GoldenPathFailure("auth_failed", f"HTTP {resp.status_code}"))
                return False
            try:
                self.token = str(resp.json()["access_token"])
                user_id = token_subject(self.token)
            except (ValueError, KeyError, TypeError, IndexError):
                self.login_failure = "auth_failed"
                detail = "no access_token in the login response"
                resp.failure(GoldenPathFailure("auth_failed", detail))
                return False
        if self.account is None or self.account.user_id != user_id:
            if self.account is not None:
                self.account.members -= 1
            self.account = _accounts.setdefault(user_id, Account(user_id))
            self.account.members += 1
        self.user_id = user_id
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

    def _check_unread(self, ws: WsConnection, check: RunCheck) -> None:
        """Check the messages a close or a failed send read on the way to the close frame."""
        for raw in ws.take_unread():
            self._late(check.observe(raw), check)

    def _late(self, charged: RunCheck, current: RunCheck | None = None) -> None:
        """A frame changed the outcome of a run whose row is written: a ``late_frame`` row."""
        if charged is current:
            return
        change = charged.outcome_change()
        if change is None:
            return
        prior, kind = change
        code = charged.run_close_code if charged.recorded_code is None else None
        started = charged.sent_at or time.time()
        self._fire(
            LATE_FRAME,
            started,
            (time.time() - started) * 1000,
            GoldenPathFailure(kind, f"after its row said {prior}: {charged.detail()}"),
            run_id=_run_id(charged),
            close_code=code,
            failure_kind=kind,
            msg_id=charged.msg_id,
            prior_kind=prior,
        )
        charged.record()

    def _over_http(self) -> bool:
        mode = self.cfg.start_runs
        return mode == "http" or (mode == "http-first" and self.runs_started == 0)

    def _post_message(self, message: dict[str, str], check: RunCheck) -> None:
        """Start the run with ``POST /api/chat/message``; its events come on the socket."""
        body = {"message": message["message"], "client_msg_id": message["client_msg_id"]}
        with self.client.post(
            "/api/chat/message",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            name="chat_message",
            context={"user": self.username, "msg_id": check.msg_id},
            catch_response=True,
        ) as resp:
            if resp.status_code != 202:
                failure = GoldenPathFailure("http_error", f"HTTP {resp.status_code}")
                resp.failure(failure)
                check.errors.append(f"chat_message HTTP {resp.status_code}")

    def _exchange(self, ws: WsConnection, check: RunCheck) -> None:
        """Send one message and read its run into ``check`` (timings on it too)."""
        message = {
            "type": "user_message",
            "message": f"{self.cfg.message} {check.canary}",
            "client_msg_id": check.msg_id,
        }
        t0 = time.perf_counter()
        check.sent_at = time.time()
        deadline = t0 + self.cfg.response_timeout_s
        over_http = self._over_http()
        self.runs_started += 1
        try:
            if over_http:
                self._post_message(message, check)
            else:
                ws.send_text(json.dumps(message))
            while not check.done:
                left = deadline - time.perf_counter()
                if left <= 0:
                    check.timed_out = True
                    break
                ws.settimeout(left)
                raw = ws.recv_text()
                elapsed_ms = (time.perf_counter() - t0) * 1000
                events = len(check.types) + len(check.errors)
                self._late(check.observe(raw), check)
                if check.ttfe_ms is None and len(check.types) + len(check.errors) > events:
                    check.ttfe_ms = elapsed_ms  # this run's first event
        except ClosedByServer as closed:
            self._check_unread(ws, check)
            check.close_code = closed.code
        except TimeoutError:
            check.timed_out = True
        except GreenletExit:
            check.interrupted = True
            raise
        except Exception:  # the socket broke without a close frame (1006)
            self._check_unread(ws, check)
            check.close_code = 1006
        finally:
            check.response_ms = (time.perf_counter() - t0) * 1000

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
        check: RunCheck | None = None
        try:
            if per_iteration or self.token is None:
                if not self._login():
                    failure = GoldenPathFailure(self.login_failure)
                    self._unreachable(failure.kind == "connect_failed")
                    self._end_iteration(intended, started, t0, failure, None)
                    return
                if not per_iteration and self.cfg.start_runs == "ws":
                    # A persistent user needs HTTP again only to log in again: release the
                    # keep-alive socket, so a user holds one file (its WebSocket), not two.
                    self.client.client.close()
            if (per_iteration or self.ws is None) and not self._connect():
                self._unreachable(True)
                failure = GoldenPathFailure("connect_failed")
                self._end_iteration(intended, started, t0, failure, None)
                return
            self._unreachable(False)
            assert self.ws is not None and self.account is not None, "connected and logged in"
            check = RunCheck(self.account, self.account.new_canary(), sender=self)
            self._exchange(self.ws, check)
            self._finish(check, intended, started, t0, per_iteration)
        except GreenletExit:
            # The load ended mid-iteration (Locust kills its users): close the socket, check
            # what arrived, and write the rows. A run that had completed keeps its outcome.
            if check is not None and check.recorded is None:
                check.interrupted = True
                self._finish(check, intended, started, t0, per_iteration)
            elif check is None:
                failure = GoldenPathFailure("interrupted", "before the message was sent")
                self._end_iteration(intended, started, t0, failure, None)
            raise

    def _close(self, check: RunCheck) -> None:
        """Close our socket; check what arrives before the server's close, charged to ``check``."""
        ws, self.ws = self.ws, None
        if ws is None:
            return
        try:
            code = ws.close(CLOSE_WAIT_S)
        except GreenletExit:
            # The load ended while we waited for the server's close (after a run that had
            # completed): read on to it, as on_stop's close does (until the close frame, or
            # 1 s with nothing read), so the frames already read, or on their way, are
            # checked before the run's row is written.
            self._closed(ws, check, ws.close(CLOSE_WAIT_S))
            raise
        self._closed(ws, check, code)

    def _closed(self, ws: WsConnection, check: RunCheck, code: int | None) -> None:
        self._check_unread(ws, check)
        if check.close_code is None and check.closed_with is None:
            check.closed_with = code
        self._late(check)

    def _finish(
        self,
        check: RunCheck,
        intended: float | None,
        started: float,
        t0: float,
        per_iteration: bool,
    ) -> None:
        """Close the socket if this run ends it, then write the run's rows."""
        if check.close_code is not None:  # the server ended it (or it broke): reconnect next time
            ws, self.ws = self.ws, None
            if ws is not None:
                ws.abort()
        # a socket whose read or send timed out may hold half a frame: never reused
        if per_iteration or check.timed_out or check.interrupted:
            self._close(check)
        run_id = _run_id(check)
        sent_at, response_ms = check.sent_at or started, check.response_ms
        if check.ttfe_ms is not None:
            self._fire("ttfe", sent_at, check.ttfe_ms, run_id=run_id, msg_id=check.msg_id)
        failure = check.failure()
        last = not per_iteration
        self._fire(
            RESPONSE,
            sent_at,
            self._corrected(intended, response_ms) if last else response_ms,
            failure,
            run_id=run_id,
            close_code=check.run_close_code,
            failure_kind=failure.kind if failure else None,
            service_ms=response_ms,
            msg_id=check.msg_id,
        )
        check.record()
        self.last = check
        if per_iteration:
            self._end_iteration(
                intended, started, t0, failure, check.run_close_code, run_id=run_id, check=check
            )

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
        check: RunCheck | None = None,
    ) -> None:
        if self.cfg.connection != "per_iteration":
            return  # persistent users have no per-iteration login: their failed step has its row
        service_ms = (time.perf_counter() - t0) * 1000
        ms = self._corrected(intended, service_ms)
        self._fire(
            GOLDEN_PATH,
            intended or started,
            ms,
            failure,
            run_id=run_id,
            close_code=close_code,
            failure_kind=failure.kind if failure else None,
            service_ms=service_ms,
            msg_id=check.msg_id if check is not None else None,
        )


def _run_id(check: RunCheck) -> str | None:
    return next(iter(check.run_ids)) if len(check.run_ids) == 1 else None

"""Locust as a library (``examples/use_as_lib.py``) for the harness benchmarks.

    python benchmarks/locust_bench.py --host URL --user golden|bare --users 50 --seconds 15

Prints one JSON line: flows completed, seconds, flows per second, failures.
``bare`` sends the same frames as ``GoldenPathUser`` and checks nothing (a login and a
connect per flow); ``persistent`` logs in and connects once per user.
"""

from __future__ import annotations

import argparse
import json
import time

import gevent

# gevent patches the standard library first: Locust does it on import.
import locust  # noqa: F401, I001
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from loadtests.config import LoadConfig
from loadtests.locustfile import attach
from loadtests.users import GoldenPathUser, set_config
from loadtests.wsclient import WsConnection, ws_url

_index = iter(range(10**9))


def _record(environment: Environment, t0: float) -> None:
    """One golden path, timed from ``t0``, in Locust's stats."""
    environment.events.request.fire(
        request_type="BARE",
        name="golden_path",
        response_time=(time.perf_counter() - t0) * 1000,
        response_length=0,
        exception=None,
        context={},
    )


class BareUser(FastHttpUser):
    """Login, connect, send, read until agent_completed, close: no parsing, no checks."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.username = f"load{next(_index)}"

    @task
    def flow(self) -> None:
        t0 = time.perf_counter()
        resp = self.client.post(
            "/api/auth/login",
            json={"username": self.username, "password": "load-password"},
            name="login",
        )
        token = resp.json()["access_token"]
        # Same transport as GoldenPathUser (its close handshake too), none of its checks.
        ws = WsConnection(ws_url(self.host or ""), token=token, timeout_s=10)
        ws.send_text('{"type": "user_message", "message": "golden path check"}')
        while "agent_completed" not in ws.recv_text():
            pass
        ws.close()
        _record(self.environment, t0)


class BarePersistentUser(FastHttpUser):
    """Login and connect once, then send and read until agent_completed: no checks."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.username = f"load{next(_index)}"
        resp = self.client.post(
            "/api/auth/login",
            json={"username": self.username, "password": "load-password"},
            name="login",
        )
        self.ws = WsConnection(
            ws_url(self.host or ""), token=resp.json()["access_token"], timeout_s=10
        )

    def on_stop(self) -> None:
        self.ws.close()

    @task
    def flow(self) -> None:
        t0 = time.perf_counter()
        self.ws.send_text('{"type": "user_message", "message": "golden path check"}')
        while "agent_completed" not in self.ws.recv_text():
            pass
        _record(self.environment, t0)


USERS = {"bare": BareUser, "persistent": BarePersistentUser}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--user", choices=["golden", "bare", "persistent"], required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    user_class = GoldenPathUser if args.user == "golden" else USERS[args.user]
    set_config(LoadConfig(pool_size=args.users))
    env = Environment(user_classes=[user_class], host=args.host)
    runner = env.create_local_runner()
    if args.user == "golden":
        attach(env)  # the event log's listener too: every check and the recording on
    runner.start(args.users, spawn_rate=args.users)
    gevent.sleep(2)  # warm-up: all users spawned and looping
    before = env.stats.get("golden_path", "GOLDENPATH" if args.user == "golden" else "BARE")
    n0, f0, t0 = before.num_requests, before.num_failures, time.perf_counter()
    gevent.sleep(args.seconds)
    n1, f1, t1 = before.num_requests, before.num_failures, time.perf_counter()
    runner.quit()
    print(
        json.dumps(
            {
                "user": args.user,
                "flows": n1 - n0,
                "failures": f1 - f0,
                "seconds": round(t1 - t0, 3),
                "flows_per_s": round((n1 - n0) / (t1 - t0), 2),
            }
        )
    )


if __name__ == "__main__":
    main()

"""``goldenpath smoke --host URL``: one user, one golden path, every check; exit 0 or 1.

The pre-promotion check of a blue-green gate: quick, no Locust, same checks
as the load users (:mod:`loadtests.checks`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

import httpx

from loadtests.checks import GOLDEN_PATH_EVENTS, Account, RunCheck
from loadtests.wsclient import ClosedByServer, WsConnection, token_subject, ws_url
from resultsformat.cli import OneLineParser

PROG = "goldenpath smoke"


def smoke(host: str, username: str, password: str, timeout_s: float) -> tuple[bool, list[str]]:
    """Walk the golden path once; returns (passed, report lines)."""
    lines: list[str] = []
    t0 = time.perf_counter()

    def step(name: str, ok: bool, detail: str) -> bool:
        lines.append(f"{'PASS' if ok else 'FAIL'} {name:<11} {detail}")
        return ok

    try:
        resp = httpx.post(
            f"{host}/api/auth/login",
            json={"username": username, "password": password},
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        step("login", False, f"{host} unreachable: {type(exc).__name__}")
        return False, lines
    if not step("login", resp.status_code == 200, f"HTTP {resp.status_code}"):
        return False, lines
    token = str(resp.json().get("access_token", ""))
    try:
        user_id = token_subject(token)
        ws = WsConnection(ws_url(host), token=token, timeout_s=timeout_s)
    except Exception as exc:
        step("ws_connect", False, f"{type(exc).__name__}: {exc}")
        return False, lines
    step("ws_connect", True, "subprotocols jwt-auth + jwt.<token> accepted")
    account = Account(str(user_id))
    check = RunCheck(account, account.new_canary())
    sent = time.perf_counter()
    first: float | None = None
    message = {"type": "user_message", "message": f"smoke test {check.canary}"}
    try:
        ws.send_text(json.dumps({**message, "client_msg_id": check.msg_id}))
        while not check.done and time.perf_counter() - sent < timeout_s:
            ws.settimeout(max(0.01, timeout_s - (time.perf_counter() - sent)))
            check.observe(ws.recv_text())
            first = first or time.perf_counter()
    except ClosedByServer as closed:
        check.close_code = closed.code
    except TimeoutError:
        check.timed_out = True
    close_code = check.close_code if check.close_code is not None else ws.close()
    for raw in ws.take_unread():  # what arrived after the reply, before the close: checked too
        check.observe(raw)
    if check.close_code is None:
        check.closed_with = close_code
    ttfe = f"first event after {(first - sent) * 1000:.1f} ms" if first else "no event"
    failure = check.failure()
    ok = step("response", failure is None, str(failure) if failure else ttfe)
    in_order = tuple(check.types) == GOLDEN_PATH_EVENTS
    ok &= step("events", in_order, " -> ".join(check.types) or "none")
    ok &= step("isolation", not check.foreign, f"{len(check.foreign)} foreign markers")
    ok &= step("close", close_code in (1000, 1001), f"close code {close_code}")
    lines.append(f"{'PASSED' if ok else 'FAILED'} in {(time.perf_counter() - t0) * 1000:.0f} ms")
    return ok, lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description="One golden path with every check (exit 0 or 1).")
    parser.add_argument("--host", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--username", default="load0")
    parser.add_argument("--password", default="load-password")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per step (10)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if not args.host.startswith(("http://", "https://")):
        print(
            f"{PROG}: error: --host {args.host!r}: expected a URL like http://127.0.0.1:8000",
            file=sys.stderr,
        )
        return 2
    ok, lines = smoke(args.host.rstrip("/"), args.username, args.password, args.timeout)
    print("\n".join(lines))
    return 0 if ok else 1

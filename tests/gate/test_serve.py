"""``gate serve``: real HTTP requests to a real server on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from analysis.gate.files import judge_dirs
from analysis.gate.judge import Verdict
from analysis.gate.serve import GateService, make_server
from tests.utils.gate import BASELINES, ROOT, gate_cli

FLAGGER_PAYLOAD = {
    "name": "chat-backend",
    "namespace": "prod",
    "phase": "Progressing",
    "checksum": "85d557f47b",
    "type": "pre-rollout",
    "metadata": {"green": "http://example.com/chat-backend-canary"},  # never contacted
}


@contextmanager
def gate_server(candidate: Path) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serve a gate judging ``candidate`` on a free 127.0.0.1 port; stop it in ``finally``."""
    calls: list[dict[str, str]] = []

    def gate(params: dict[str, str]) -> Verdict:
        calls.append(params)
        return judge_dirs([candidate], [], None)

    server = make_server(GateService(gate), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}", calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_flagger_webhook_pass_and_fail() -> None:
    with gate_server(BASELINES / "canonical") as (url, calls):
        resp = httpx.post(f"{url}/gate", json=FLAGGER_PAYLOAD, timeout=60)
        assert resp.status_code == 200
        body = resp.json()
        assert body["verdict"] == "pass" and body["passed"] == 1 and body["score"] == 1.0
        assert calls == [{"name": "chat-backend", "namespace": "prod"}]
    with gate_server(BASELINES / "legacy") as (url, _):
        resp = httpx.post(f"{url}/gate", json=FLAGGER_PAYLOAD, timeout=60)
        assert resp.status_code == 412
        body = resp.json()
        assert body["verdict"] == "fail" and body["passed"] == 0
        assert {"isolation", "ws-1011-closes"} <= set(body["failing"])


def test_argo_web_metric_gets_200_with_the_verdict() -> None:
    with gate_server(BASELINES / "legacy") as (url, _):
        resp = httpx.get(f"{url}/gate", timeout=60)
        assert resp.status_code == 200  # Argo counts non-2xx as an error, not a failure
        assert resp.json()["passed"] == 0 and resp.json()["score"] < 0.8
        coded = httpx.get(f"{url}/gate", params={"status": "verdict"}, timeout=60)
        assert coded.status_code == 412


def test_bad_requests() -> None:
    with gate_server(BASELINES / "canonical") as (url, calls):
        assert httpx.get(f"{url}/healthz", timeout=10).json() == {"ok": True}
        bad = httpx.post(f"{url}/gate", content=b"{not json", timeout=10)
        assert bad.status_code == 400
        evil = httpx.post(f"{url}/gate", json={"name": "../../etc"}, timeout=10)
        assert evil.status_code == 400 and "Kubernetes name" in evil.json()["error"]
        assert httpx.get(f"{url}/nope", timeout=10).status_code == 404
        assert calls == []


def test_cli_serve_answers_a_real_request(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "analysis.gate.cli", "serve", "--port", "0"]
    cmd += ["--candidate", str(BASELINES / "canonical"), "--out", str(tmp_path)]
    with subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "listening on http://127.0.0.1:" in line
            url = line.split("listening on ", 1)[1].strip()
            resp = httpx.post(url, json=FLAGGER_PAYLOAD, timeout=60)
            assert resp.status_code == 200 and resp.json()["verdict"] == "pass"
            assert len(list(tmp_path.glob("*/verdict.json"))) == 1
            assert len(list(tmp_path.glob("*/junit.xml"))) == 1
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ["serve"],  # no gate configured
        ["serve", "--candidate", "/nonexistent/run"],
        ["serve", "--blue", "not-a-url", "--green", "http://127.0.0.1:1"],
    ],
)
def test_cli_serve_bad_input_exits_2(args: list[str]) -> None:
    done = gate_cli(*args, "--port", "0", timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr

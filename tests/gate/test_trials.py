"""``gate run``: smoke on green, interleaved blue/green trials, judged (loopback only)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from loadtests.embedded import EmbeddedBackend
from tests.utils.gate import gate_cli

RUN = ["--users", "10", "--duration", "5s", "--trials", "2", "--max-trials", "3"]


def closed_port() -> str:
    """A 127.0.0.1 URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def load_verdict(out: Path) -> dict:
    return json.loads((out / "verdict.json").read_text())


LOCAL = ["--blue", "http://127.0.0.1:1", "--green", "http://127.0.0.1:1"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--blue", "blue.internal", "--green", "http://127.0.0.1:1"], "--blue 'blue.internal'"),
        ([*LOCAL, "--trials", "0"], "--trials"),
        ([*LOCAL, "--slo", "/no/slo.toml"], "no such SLO"),
        (["--green", "http://127.0.0.1:1"], "--blue"),
    ],
)
def test_bad_input_exits_2_before_any_load(args: list[str], reason: str, tmp_path: Path) -> None:
    done = gate_cli("run", *args, "--out", tmp_path / "o", timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], done.stderr
    assert not (tmp_path / "o" / "blue").exists()


def test_green_failing_the_smoke_check_fails_without_load(tmp_path: Path) -> None:
    down = closed_port()
    done = gate_cli("run", "--blue", down, "--green", down, *RUN, "--out", tmp_path, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = load_verdict(tmp_path)
    assert verdict["failing"] == ["green-smoke"]
    assert "unreachable" in verdict["objectives"][0]["detail"]
    assert not (tmp_path / "blue").exists()  # no trial ran


@contextmanager
def two_backends(
    green_settings: dict[str, object], blue_settings: dict[str, object] | None = None
) -> Iterator[tuple[str, str]]:
    """Blue and green canonical backends on 127.0.0.1, both fresh; stopped on exit."""
    with (
        EmbeddedBackend(factory="canonical", users=20, settings=blue_settings) as blue,
        EmbeddedBackend(factory="canonical", users=20, settings=green_settings) as green,
    ):
        yield blue.url, green.url


def gate_run(blue: str, green: str, out: Path, max_trials: int = 3) -> tuple[int, dict, float]:
    t0 = time.monotonic()
    args = [*RUN[:-1], str(max_trials)]  # RUN ends with --max-trials 3
    done = gate_cli("run", "--blue", blue, "--green", green, *args, "--out", out, timeout=300)
    elapsed = time.monotonic() - t0
    assert done.returncode != 2, done.stderr
    return done.returncode, load_verdict(out), elapsed


@pytest.mark.slow
@pytest.mark.alone
def test_green_with_slower_agent_fails_the_relative_latency_objective(tmp_path: Path) -> None:
    with two_backends({"agent_think_ms": 20}) as (blue, green):
        rc, verdict, elapsed = gate_run(blue, green, tmp_path)
    by_name = {o["name"]: o for o in verdict["objectives"]}
    rel = by_name["response-p50-vs-baseline"]
    assert rc == 1 and verdict["verdict"] == "fail", verdict
    assert rel["outcome"] == "fail", rel
    assert rel["value"] > rel["baseline_value"] * 1.20
    assert "response-p50-vs-baseline" in verdict["failing"]
    assert by_name["green-smoke"]["outcome"] == "pass"
    # Interleaved: blue 1, green 1, blue 2, green 2.
    order = [(t["trial"], t["side"]) for t in verdict["trials"]]
    assert order[:4] == [(1, "blue"), (1, "green"), (2, "blue"), (2, "green")]
    # Decided at the first judgement (--trials 2): a 20 ms change needs no extra pair.
    assert verdict["trial_pairs"] == 2, verdict["trial_pairs"]
    print(
        f"\nslower green: {rel['detail']}; gate run {elapsed:.1f} s, {verdict['trial_pairs']} pairs"
    )


@pytest.mark.slow
@pytest.mark.alone
def test_identical_green_passes(tmp_path: Path) -> None:
    # Both with a model that thinks for 20 ms, as a real one does: response p50 is then a
    # stable ~22 ms, not a ~2 ms figure that any load beside the test moves by 50%.
    # At 5 s x 2 pairs an identical green is inconclusive about 1 time in 10 here (README,
    # "gate run"): the gate's answer to that is more pairs, so this gate may add up to 3.
    model = {"agent_think_ms": 20}
    with two_backends(model, model) as (blue, green):
        rc, verdict, elapsed = gate_run(blue, green, tmp_path, max_trials=5)
    rel = {o["name"]: o for o in verdict["objectives"]}["response-p50-vs-baseline"]
    undecided = [(o["name"], o["detail"]) for o in verdict["objectives"] if o["outcome"] != "pass"]
    assert rc == 0 and verdict["verdict"] in ("pass", "warning"), (verdict["verdict"], undecided)
    assert rel["outcome"] == "pass", rel
    print(
        f"\nidentical green: {rel['detail']}; "
        f"gate run {elapsed:.1f} s, {verdict['trial_pairs']} pairs"
    )

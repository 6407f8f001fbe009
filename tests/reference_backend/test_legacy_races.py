"""The legacy mode's races: each one fires under concurrency, counts itself, and the defects
it causes are counted under it; canonical mode's counters stay at 0.

No sleeps and no injected failures: the windows are the real awaits of the legacy code
(SQLite audit writes in a thread), and concurrency is what opens them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from loadtests.embedded import EmbeddedBackend
from reference_backend.agent import SimulatedModel
from reference_backend.config import Settings
from reference_backend.db import open_database
from reference_backend.legacy.bridge import BridgeHolder
from reference_backend.legacy.engine import UserExecutionContext
from reference_backend.legacy.races import (
    CONTEXT_SWAP,
    LOST_REGISTRATION,
    ORPHANED_BRIDGE,
    RACES,
    UNCONFIGURED_FACTORY,
    RaceCounters,
)
from reference_backend.legacy.service import LegacyService
from reference_backend.legacy.supervisor.execution_engine_factory import ExecutionEngineFactory
from reference_backend.metrics import Metrics
from tests.utils.golden import metric
from tests.utils.servers import PASSWORD


async def _configured() -> tuple[ExecutionEngineFactory, BridgeHolder, RaceCounters]:
    races = RaceCounters()
    db = open_database("sqlite://")
    holder = BridgeHolder(db, races)
    await holder.get_websocket_bridge()
    factory = ExecutionEngineFactory(db, SimulatedModel(), races)
    factory.configure(holder)
    return factory, holder, races


def test_concurrent_engine_creation_swaps_contexts_and_counts_each_swap() -> None:
    async def main() -> tuple[list[Any], RaceCounters]:
        factory, _, races = await _configured()
        contexts = [UserExecutionContext(f"user-{i}", f"run-{i}") for i in range(20)]
        engines = await asyncio.gather(*(factory.create_for_user(c) for c in contexts))
        return list(engines), races

    engines, races = asyncio.run(main())
    swapped = [e for e in engines if e.swapped]
    assert swapped, "20 concurrent creations: some engine got another user's context"
    assert races.races[CONTEXT_SWAP] == len(swapped)
    # one at a time, the same factory never swaps
    engines, races = asyncio.run(_one_at_a_time())
    assert not any(e.swapped for e in engines) and races.races[CONTEXT_SWAP] == 0


async def _one_at_a_time() -> tuple[list[Any], RaceCounters]:
    factory, _, races = await _configured()
    engines = []
    for i in range(20):
        engines.append(await factory.create_for_user(UserExecutionContext(f"u{i}", f"r{i}")))
    return engines, races


def test_concurrent_registrations_lose_some_and_count_each_loss() -> None:
    async def main() -> tuple[BridgeHolder, RaceCounters, list[str]]:
        races = RaceCounters()
        holder = BridgeHolder(open_database("sqlite://"), races)
        bridge = await holder.get_websocket_bridge()
        users = [f"user-{i}" for i in range(20)]
        await asyncio.gather(*(bridge.register(u, object()) for u in users))  # type: ignore[arg-type]
        return holder, races, users

    holder, races, users = asyncio.run(main())
    assert holder.bridge is not None
    missing = [u for u in users if not holder.bridge.has(u)]
    assert missing, "20 concurrent registrations: some were overwritten"
    assert races.races[LOST_REGISTRATION] >= len(missing)
    assert {holder.cause_of_missing(u) for u in missing} == {LOST_REGISTRATION}


def test_a_removal_racing_registrations_is_undone_and_counted() -> None:
    """Users leaving while others connect: a writer that copied the map before a removal
    publishes the closed socket again; the user's next send would go to it."""

    async def main() -> tuple[BridgeHolder, RaceCounters, dict[str, object]]:
        races = RaceCounters()
        holder = BridgeHolder(open_database("sqlite://"), races)
        bridge = await holder.get_websocket_bridge()
        leaving = {f"leaving-{i}": object() for i in range(10)}
        for user, ws in leaving.items():  # one at a time: no race yet
            await bridge.register(user, ws)  # type: ignore[arg-type]
        assert races.races[LOST_REGISTRATION] == 0
        await asyncio.gather(
            *(bridge.unregister(u, ws) for u, ws in leaving.items()),  # type: ignore[arg-type]
            *(bridge.register(f"joining-{i}", object()) for i in range(10)),  # type: ignore[arg-type]
        )
        return holder, races, leaving

    holder, races, leaving = asyncio.run(main())
    bridge = holder.bridge
    assert bridge is not None
    put_back = [u for u in leaving if bridge.has(u)]
    assert put_back, "removals copied over by concurrent writers come back"
    assert set(put_back) <= set(bridge.restored)
    assert races.races[LOST_REGISTRATION] >= len(put_back)
    assert {holder.cause_of_missing(u) for u in put_back} == {LOST_REGISTRATION}


def test_a_lazily_built_bridge_is_built_again_by_concurrent_first_callers() -> None:
    async def main() -> tuple[BridgeHolder, RaceCounters, list[Any]]:
        races = RaceCounters()
        holder = BridgeHolder(open_database("sqlite://"), races)
        bridges = await asyncio.gather(*(holder.get_websocket_bridge() for _ in range(5)))
        await bridges[0].register("early", object())  # type: ignore[arg-type]
        return holder, races, list(bridges)

    holder, races, bridges = asyncio.run(main())
    assert len({id(b) for b in bridges}) == 5 and holder.initializations == 5
    assert len(holder.orphans) == 4 == races.races[ORPHANED_BRIDGE]
    # a socket registered on a bridge that was then replaced cannot be reached
    assert holder.cause_of_missing("early") == ORPHANED_BRIDGE


def test_http_runs_at_a_cold_start_use_an_unconfigured_factory() -> None:
    """Before any socket has built the bridge, the first HTTP run publishes its factory and
    awaits the bridge; runs arriving meanwhile take the factory before it is configured."""

    async def main() -> LegacyService:
        service = LegacyService(
            Settings(), db=open_database("sqlite://"), model=SimulatedModel(), metrics=Metrics()
        )
        for i in range(10):
            await service.start_run(f"user-{i}", f"hello {i}", None)
        await asyncio.gather(*service._http_runs, return_exceptions=True)
        return service

    service = asyncio.run(main())
    races = service.races
    assert races.races[UNCONFIGURED_FACTORY] >= 1
    assert races.http_failed[UNCONFIGURED_FACTORY] == races.races[UNCONFIGURED_FACTORY]
    metrics = service.factory_metrics()
    assert metrics["legacy_races"][UNCONFIGURED_FACTORY] == races.races[UNCONFIGURED_FACTORY]
    assert metrics["creation_errors"] >= 1


def _run(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "loadtests.cli", "run", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_a_cold_start_fires_the_races_and_the_backend_attributes_every_1011(
    tmp_path: Path,
) -> None:
    """50 users at the same instant on a backend that has not served a socket yet, their
    first runs over HTTP: the lazily built bridge is built several times, contexts swap and
    registrations are lost; each 1011 close the backend sends is counted under its race,
    and those counts add up to the 1011 closes the harness saw."""
    out = tmp_path / "cold"
    with EmbeddedBackend(factory="legacy", users=50, password=PASSWORD) as backend:
        done = _run("--host", backend.url, "--scenario", "cold-start", "--users", 50,
                    "--duration", "5s", "--response-timeout", "2s", "--password", PASSWORD,
                    "--out", out, "--quiet")  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        for race in RACES:
            assert (
                f'goldenpath_legacy_races_total{{race="{race}"}}'
                in httpx.get(f"{backend.url}/metrics").text
            )
        assert metric(backend.url, "goldenpath_legacy_races_total", race=CONTEXT_SWAP) > 0
    after = json.loads((out / "factory_metrics_after.json").read_text())
    races = after["legacy_races"]
    assert after["bridge_initializations"] > 1 and races[ORPHANED_BRIDGE] >= 1, races
    assert races[CONTEXT_SWAP] > 0 and races[LOST_REGISTRATION] > 0, races
    events = pd.read_parquet(out / "events.parquet")
    responses = events[events["name"] == "response"]
    harness_1011 = int((responses["close_code"] == 1011).sum())
    backend_1011 = sum(after["closes_1011_by_cause"].values())
    assert harness_1011 > 0 and backend_1011 == harness_1011, after["closes_1011_by_cause"]
    assert after["misdelivered_events_by_cause"][CONTEXT_SWAP] > 0
    # the run summary shows the split
    assert "1011 closes sent: " in done.stdout and " context swaps" in done.stdout


@pytest.mark.slow
def test_canonical_mode_shows_every_race_counter_at_zero_after_a_cold_start(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cold"
    with EmbeddedBackend(factory="canonical", users=50, password=PASSWORD) as backend:
        done = _run("--host", backend.url, "--scenario", "cold-start", "--users", 50,
                    "--duration", "4s", "--response-timeout", "2s", "--password", PASSWORD,
                    "--out", out, "--quiet")  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        for race in RACES:
            assert metric(backend.url, "goldenpath_legacy_races_total", race=race) == 0
        assert (
            metric(backend.url, "goldenpath_legacy_ws_1011_closes_total", cause=CONTEXT_SWAP) == 0
        )
    events = pd.read_parquet(out / "events.parquet")
    bad = events[~events["ok"] & (events["failure_kind"] != "interrupted")]
    assert bad.empty, bad.head()
    assert (events["name"] == "chat_message").sum() == 50  # the first runs went over HTTP


@pytest.mark.slow
@pytest.mark.parametrize("connection", ["per-iteration", "persistent"])
def test_one_user_at_a_time_legacy_is_correct(tmp_path: Path, connection: str) -> None:
    """The races need concurrency: one user, back to back, never loses a run. (Its own
    unregister of the old socket could race the register of the new one; the close
    handshake and the next login take longer than the audit write, so it did not fire.)"""
    out = tmp_path / connection
    done = _run("--factory", "legacy", "--users", 1, "--duration", "6s", "--connection",
                connection, "--out", out, "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    events = pd.read_parquet(out / "events.parquet")
    responses = events[events["name"] == "response"]
    assert len(responses) > 200
    bad = events[~events["ok"] & (events["failure_kind"] != "interrupted")]
    assert bad.empty, bad.head()
    after = json.loads((out / "factory_metrics_after.json").read_text())
    assert set(after["legacy_races"].values()) == {0}, after["legacy_races"]

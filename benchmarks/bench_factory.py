"""Factory micro-benchmark: ``create_for_user`` + ``cleanup_engine``, p50/p99 per pair.

References measured in the same run: an empty ``await`` (the floor of any
async call here) and the legacy factory, whose create awaits an audit write.

    .venv/bin/python benchmarks/bench_factory.py [--iterations 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import statistics
import time
from collections.abc import Awaitable, Callable

from reference_backend.agent import SimulatedModel
from reference_backend.agents.supervisor import ExecutionEngineFactory, UserExecutionContext
from reference_backend.bridge import WebSocketBridge
from reference_backend.db import open_database
from reference_backend.legacy.bridge import BridgeHolder
from reference_backend.legacy.engine import UserExecutionContext as LegacyContext
from reference_backend.legacy.races import RaceCounters
from reference_backend.legacy.supervisor.execution_engine_factory import (
    ExecutionEngineFactory as LegacyFactory,
)


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def measure(op: Callable[[int], Awaitable[None]], n: int) -> list[float]:
    for i in range(min(1000, n)):  # warm-up
        await op(i)
    gc.collect()
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        await op(i)
        out.append((time.perf_counter_ns() - t0) / 1000)  # microseconds
    return out


async def main(n: int, users: int) -> None:
    factory = ExecutionEngineFactory(websocket_bridge=WebSocketBridge(), model=SimulatedModel())
    contexts = [UserExecutionContext(f"user-{i % users}", f"run-{i}") for i in range(n + 1000)]

    async def canonical(i: int) -> None:
        engine = await factory.create_for_user(contexts[i])
        await factory.cleanup_engine(engine)

    async def noop() -> None:
        return None

    async def floor(i: int) -> None:
        await noop()
        await noop()

    db = open_database("sqlite://")
    legacy = LegacyFactory(db, SimulatedModel())
    bridges = BridgeHolder(db, RaceCounters())
    await bridges.get_websocket_bridge()
    legacy.configure(bridges)
    legacy_n = max(200, n // 10)
    legacy_ctx = [LegacyContext(f"user-{i % users}", f"run-{i}") for i in range(legacy_n + 1000)]

    async def fragmented(i: int) -> None:
        engine = await legacy.create_for_user(legacy_ctx[i])
        await legacy.cleanup_engine(engine)

    results = {
        "empty await x2 (floor)": await measure(floor, n),
        "canonical create+cleanup": await measure(canonical, n),
        "legacy create+cleanup": await measure(fragmented, legacy_n),
    }
    canon = results["canonical create+cleanup"]
    print(
        f"# factory micro-benchmark ({platform.machine()}, {platform.python_version()}, "
        f"{n} pairs, {users} users)"
    )
    print("| operation | n | p50 (us) | p99 (us) | mean (us) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, s in results.items():
        p50, p99, mean = pct(s, 0.5), pct(s, 0.99), statistics.fmean(s)
        print(f"| {name} | {len(s)} | {p50:.1f} | {p99:.1f} | {mean:.1f} |")
    legacy_s = results["legacy create+cleanup"]
    print(
        f"\ncanonical p99 {pct(canon, 0.99):.1f} us (goal < 50 us; plan's target 25 ms); "
        f"legacy/canonical p50 ratio {pct(legacy_s, 0.5) / pct(canon, 0.5):.0f}x"
    )
    metrics = factory.get_factory_metrics()
    assert metrics["active_engines_count"] == 0, metrics
    db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.iterations, args.users))

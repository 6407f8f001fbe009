"""Locust golden-path users, load shapes and the one-command runner.

A run from Python (the same as ``goldenpath run``)::

    from loadtests import RunPlan, run
    result = run(RunPlan(users=20, duration_s=30))

``run`` imports Locust, which patches the standard library with gevent: import it in
a process of its own, as the command does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunPlan", "RunResult", "run"]


def __getattr__(name: str) -> Any:
    if name == "RunPlan":
        from loadtests.plan import RunPlan

        return RunPlan
    if name in ("RunResult", "run"):
        from loadtests import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'loadtests' has no attribute {name!r}")

"""What the backend says caused its defects: the legacy mode's race attribution.

A run directory holds the backend's ``/api/factory/metrics`` before and after the
load (``factory_metrics_{before,after}.json``). In legacy mode they carry, per race,
how often it fired and which 1011 closes, misdelivered events and failed HTTP runs
it caused (``reference_backend/legacy/races.py``). The run summary and the report
both show the split with this module, so it reads the same in both.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CAUSE_NAMES = {
    "context_swap": "context swaps",
    "lost_registration": "lost registrations",
    "orphaned_bridge": "orphaned bridges",
    "unconfigured_factory": "unconfigured-factory uses",
    "unattributed": "unattributed",
}
_SECTIONS = {
    "closes_1011": "closes_1011_by_cause",
    "misdelivered": "misdelivered_events_by_cause",
    "http_failed": "http_runs_failed_by_cause",
    "races": "legacy_races",
}


@dataclass
class Attribution:
    """Per cause: the 1011 closes, misdelivered events and failed HTTP runs it caused, and
    how often each race fired, over one or more runs (after minus before)."""

    closes_1011: Counter[str] = field(default_factory=Counter)
    misdelivered: Counter[str] = field(default_factory=Counter)
    http_failed: Counter[str] = field(default_factory=Counter)
    races: Counter[str] = field(default_factory=Counter)

    def __iadd__(self, other: Attribution) -> Attribution:
        for name in _SECTIONS:
            getattr(self, name).update(getattr(other, name))
        return self

    @staticmethod
    def _split(counts: Counter[str]) -> str:
        total = sum(counts.values())
        parts = [f"{n} {CAUSE_NAMES.get(c, c)}" for c, n in counts.most_common() if n]
        return f"{total}" + (f" = {' + '.join(parts)}" if parts and total else "")

    def rows(self) -> list[tuple[str, str]]:
        """(what, how many = the split by cause): the defects, then the races that fired."""
        fired = ", ".join(
            f"{CAUSE_NAMES.get(r, r)} {n}" for r, n in sorted(self.races.items()) if n
        )
        return [
            ("1011 closes sent", self._split(self.closes_1011)),
            ("events misdelivered to another user", self._split(self.misdelivered)),
            ("runs started over HTTP that failed", self._split(self.http_failed)),
            ("races fired", fired or "none"),
        ]

    def lines(self) -> list[str]:
        return [f"{what}: {value}" for what, value in self.rows()]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def attribution(run_dir: str | Path) -> Attribution | None:
    """The backend's attribution for one run, or None when it reports none (canonical mode,
    a foreign backend, or no metrics after the run)."""
    root = Path(run_dir)
    after = _read(root / "factory_metrics_after.json")
    if after is None or not isinstance(after.get("legacy_races"), dict):
        return None
    before = _read(root / "factory_metrics_before.json") or {}
    out = Attribution()
    for name, key in _SECTIONS.items():
        now, then = after.get(key) or {}, before.get(key) or {}
        counts: Counter[str] = getattr(out, name)
        for cause, n in now.items():
            if isinstance(n, int):
                prior = then.get(cause, 0)
                counts[str(cause)] = n - (prior if isinstance(prior, int) else 0)
    return out


def total(run_dirs: Iterable[str | Path]) -> Attribution | None:
    """The attribution summed over runs; None when no run has one."""
    found = [a for d in run_dirs if (a := attribution(d)) is not None]
    if not found:
        return None
    out = Attribution()
    for a in found:
        out += a
    return out

"""Which race fired, and which defect it caused: the legacy mode's attribution.

Each mechanism the legacy mode reproduces counts itself where it fires, and
each 1011 close, each misdelivered event and each failed HTTP run is counted
under the race that caused it. The counters show on ``/metrics``
(``goldenpath_legacy_*``, zero in canonical mode) and in
``/api/factory/metrics`` (``legacy_races``, ``closes_1011_by_cause``, ...).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from reference_backend.metrics import Metrics

CONTEXT_SWAP: Final = "context_swap"
LOST_REGISTRATION: Final = "lost_registration"
ORPHANED_BRIDGE: Final = "orphaned_bridge"
UNCONFIGURED_FACTORY: Final = "unconfigured_factory"
UNATTRIBUTED: Final = "unattributed"
#: The races, as the README names them.
RACES: Final = (CONTEXT_SWAP, LOST_REGISTRATION, ORPHANED_BRIDGE, UNCONFIGURED_FACTORY)
CAUSES: Final = (*RACES, UNATTRIBUTED)


class RaceCounters:
    """Counts races as they fire and defects under their cause, in JSON and Prometheus."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics
        self.races: Counter[str] = Counter({r: 0 for r in RACES})
        self.closes_1011: Counter[str] = Counter({c: 0 for c in CAUSES})
        self.misdelivered: Counter[str] = Counter({c: 0 for c in CAUSES})
        self.http_failed: Counter[str] = Counter({c: 0 for c in CAUSES})

    def fired(self, race: str, n: int = 1) -> None:
        self.races[race] += n
        if self._metrics is not None:
            self._metrics.legacy_races.labels(race=race).inc(n)

    def close_1011(self, cause: str) -> None:
        self.closes_1011[cause] += 1
        if self._metrics is not None:
            self._metrics.legacy_1011.labels(cause=cause).inc()

    def misdelivered_event(self, cause: str) -> None:
        self.misdelivered[cause] += 1
        if self._metrics is not None:
            self._metrics.legacy_misdelivered.labels(cause=cause).inc()

    def http_run_failed(self, cause: str) -> None:
        self.http_failed[cause] += 1
        if self._metrics is not None:
            self._metrics.legacy_http_failed.labels(cause=cause).inc()

    def as_dict(self) -> dict[str, Any]:
        return {
            "legacy_races": dict(self.races),
            "closes_1011_by_cause": dict(self.closes_1011),
            "misdelivered_events_by_cause": dict(self.misdelivered),
            "http_runs_failed_by_cause": dict(self.http_failed),
        }

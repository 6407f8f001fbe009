"""Prometheus metrics, one registry per app (so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class _FactoryCollector(Collector):
    """Reads the factory's own counters at scrape time."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        metrics = self._read()
        for key in (
            "active_engines_count",
            "total_engines_created",
            "total_engines_cleaned",
            "creation_errors",
            "cleanup_errors",
            "timeout_cleanups",
            "user_limit_rejections",
            "user_isolation_validations",
        ):
            if isinstance(metrics.get(key), int):
                yield GaugeMetricFamily(f"goldenpath_factory_{key}", key, value=metrics[key])


class Metrics:
    """The backend's counters, gauges and histograms."""

    def __init__(
        self, *, legacy_races: Sequence[str] = (), legacy_causes: Sequence[str] = ()
    ) -> None:
        """``legacy_races`` and ``legacy_causes`` label the legacy-mode counters from the start,
        so they read 0 (not absent) in canonical mode; ``reference_backend.legacy.races``
        names them."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.logins = Counter("goldenpath_logins", "Login attempts", ["outcome"], registry=r)
        self.ws_open = Gauge("goldenpath_ws_connections", "Open WebSocket connections", registry=r)
        self.ws_closes = Counter(
            "goldenpath_ws_closes", "WebSocket closes sent by the server", ["code"], registry=r
        )
        self.ws_rejected = Counter(
            "goldenpath_ws_rejected", "WebSocket connections refused", ["reason"], registry=r
        )
        self.ws_frames_rejected = Counter(
            "goldenpath_ws_frames_rejected",
            "Client frames refused with an error event (forged_id, invalid_json, ...)",
            ["reason"],
            registry=r,
        )
        self.ws_send_timeouts = Counter(
            "goldenpath_ws_send_timeouts",
            "Sockets closed because a send did not finish within ws_send_timeout_s",
            registry=r,
        )
        self.ws_backpressure = Counter(
            "goldenpath_ws_backpressure",
            "Times a socket's reads were paused: ws_max_inflight_runs runs already in flight",
            registry=r,
        )
        self.cross_user_refused = Counter(
            "goldenpath_cross_user_events_refused",
            "Events naming one user that were addressed to another, refused by the bridge",
            registry=r,
        )
        self.runs = Counter("goldenpath_agent_runs", "Agent runs", ["outcome"], registry=r)
        self._run_outcomes: dict[str, Any] = {}
        self.run_seconds = Histogram(
            "goldenpath_agent_run_seconds",
            "Agent run duration",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )

        # Legacy mode's attribution (reference_backend/legacy/races.py): every label exists
        # from the start, so canonical mode shows each at 0.
        self.legacy_races = Counter(
            "goldenpath_legacy_races",
            "Legacy-mode races that fired, by race (0 in canonical mode)",
            ["race"],
            registry=r,
        )
        self.legacy_1011 = Counter(
            "goldenpath_legacy_ws_1011_closes",
            "Legacy-mode 1011 closes, by the race that caused them",
            ["cause"],
            registry=r,
        )
        self.legacy_misdelivered = Counter(
            "goldenpath_legacy_misdelivered_events",
            "Legacy-mode events sent to a user other than the run's, by cause",
            ["cause"],
            registry=r,
        )
        self.legacy_http_failed = Counter(
            "goldenpath_legacy_http_runs_failed",
            "Legacy-mode runs started over HTTP that failed, by cause",
            ["cause"],
            registry=r,
        )
        for race in legacy_races:
            self.legacy_races.labels(race=race)
        for cause in legacy_causes:
            self.legacy_1011.labels(cause=cause)
            self.legacy_misdelivered.labels(cause=cause)
            self.legacy_http_failed.labels(cause=cause)

    def run_outcome(self, outcome: str) -> Any:
        """The ``goldenpath_agent_runs_total{outcome}`` child, looked up once per outcome
        (on the hot path, ``labels()`` would hash the label values for every run)."""
        child = self._run_outcomes.get(outcome)
        if child is None:
            child = self._run_outcomes[outcome] = self.runs.labels(outcome=outcome)
        return child

    def watch_factory(self, read: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(_FactoryCollector(read))

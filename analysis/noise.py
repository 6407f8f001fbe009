"""Run-to-run noise of a comparison: each side's repeated runs pooled with a calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.calibration import Calibration, Noise, dispersion, rate_table
from analysis.summary import Summary


@dataclass(frozen=True)
class NoiseModel:
    """What a comparison knows of run-to-run noise: each side's repeated runs and a
    calibration, pooled by degrees of freedom."""

    baseline: Summary
    candidate: Summary
    calibration: Calibration
    dispersion: Noise | None  # of rates: the sides' repeated runs pooled with the calibration

    @classmethod
    def of(cls, sb: Summary, sc: Summary, calibration: Calibration) -> NoiseModel:
        tables = [rate_table(s) for s in (sb, sc) if len(s.runs) > 1]
        own = dispersion(tables)
        cal = calibration.dispersion
        return cls(sb, sc, calibration, own.pooled(cal) if own else cal)

    @property
    def runs(self) -> tuple[int, int]:
        return len(self.baseline.runs), len(self.candidate.runs)

    def _own(self, values: list[np.ndarray]) -> Noise | None:
        """Pooled SD of log per-run values within each side that has repeated runs."""
        pooled: Noise | None = None
        for v in values:
            v = v[np.isfinite(v) & (v > 0)]
            if v.size >= 2:
                n = Noise(float(np.log(v).std(ddof=1)), int(v.size - 1))
                pooled = n.pooled(pooled)
        return pooled

    def latency(self, name: str, label: str) -> Noise | None:
        values = []
        for s in (self.baseline, self.candidate):
            if label in s.per_run and name in s.per_run.index.get_level_values("name"):
                values.append(s.per_run.xs(name, level="name")[label].to_numpy(dtype=float))
        return _pool(self._own(values), self.calibration.latency_noise(name, label))

    def throughput(self) -> Noise | None:
        values = [_run_throughput(s) for s in (self.baseline, self.candidate)]
        return _pool(self._own(values), self.calibration.throughput)


def _pool(own: Noise | None, cal: Noise | None) -> Noise | None:
    return own.pooled(cal) if own is not None else cal


def _run_throughput(s: Summary) -> np.ndarray:
    """Requests per second of each run's steady state (dropped and interrupted left out)."""
    if s.per_run.empty:
        return np.empty(0)
    requests = s.per_run.groupby(level="run", observed=True)["requests"].sum()
    seconds = s.run_seconds.reindex(requests.index).to_numpy(dtype=float)
    return np.asarray(requests.to_numpy(dtype=float) / seconds)

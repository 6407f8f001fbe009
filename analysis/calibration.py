"""Run-to-run noise: how much a metric moves between runs of one build on one machine.

A single run cannot show it, and rows of one run are not independent (a busy
second slows every request in it), so a comparison's uncertainty comes from
repeated runs, not from row counts. This module measures that noise and
stores it as a *calibration*:

* **latency** (per request name and percentile) and **throughput**: the
  standard deviation, between runs, of the log of the run's statistic, with
  its degrees of freedom (runs - 1, pooled over the builds measured);
* **rates** (failure rates, failure kinds, defects): the dispersion factor
  phi, the between-run variance of a run's rate over the binomial variance
  (Pearson's statistic over its degrees of freedom), from the rates that were
  not zero in every run. ``None`` when no calibration run failed anything: the
  calibration then says nothing about how rates vary.

``compare`` pools these with the spread it sees between a side's own repeated
runs. ``goldenpath calibrate`` writes a calibration from runs of one build
(or of several builds, each measured against its own mean), and ``report`` and
``gate`` take it as ``--calibration FILE``. Without one, the calibration
shipped with goldenpath is used (``default_calibration``), and the report
says it was measured on another machine.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import CorruptFileError, MissingFileError
from analysis.summary import Summary

FORMAT = 1
DEFAULT_NAME = "default_calibration.json"


@dataclass(frozen=True)
class Noise:
    """Run-to-run noise of one kind of statistic: a standard deviation (or phi), and its df."""

    value: float
    df: int

    def pooled(self, other: Noise | None) -> Noise:
        """Variances pooled by degrees of freedom (phi is a variance ratio: pooled alike)."""
        if other is None or other.df <= 0:
            return self
        if self.df <= 0:
            return other
        df = self.df + other.df
        if self.is_sd:
            var = (self.df * self.value**2 + other.df * other.value**2) / df
            return Noise(math.sqrt(var), df, True)
        return Noise((self.df * self.value + other.df * other.value) / df, df, False)

    is_sd: bool = True  # True: a standard deviation of a log; False: a dispersion factor


@dataclass
class Calibration:
    """Measured run-to-run noise, by metric; ``source`` says where it was measured."""

    latency: dict[str, dict[str, Noise]] = field(default_factory=dict)  # name -> pXX -> sd
    throughput: Noise | None = None
    dispersion: Noise | None = None  # phi of rates; None: no calibration run failed
    runs: int = 0
    builds: int = 0
    source: str = "none"
    machine: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    scenario: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.runs == 0

    def latency_noise(self, name: str, label: str) -> Noise | None:
        """The noise of a percentile; for a request name it never saw, the largest of any."""
        own = self.latency.get(name, {}).get(label)
        if own is not None:
            return own
        others = [by[label] for by in self.latency.values() if label in by]
        if not others:
            return None
        worst = max(others, key=lambda n: n.value)
        return Noise(worst.value, min(n.df for n in others))

    def describe(self) -> str:
        if self.empty:
            return "no calibration: only repeated runs show run-to-run noise"
        where = self.machine.get("node") or "?"
        return (
            f"calibration {self.source} ({self.runs} runs of {self.builds} build(s) on "
            f"{where}, {self.machine.get('cpus', '?')} CPUs, {self.created[:10]})"
        )

    # --- files ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def noise(n: Noise | None) -> dict[str, Any] | None:
            return None if n is None else {"value": round(n.value, 6), "df": n.df}

        return {
            "goldenpath_calibration": FORMAT,
            "created": self.created,
            "machine": self.machine,
            "runs": self.runs,
            "builds": self.builds,
            "scenario": self.scenario,
            "latency_sd_log": {
                name: {lab: noise(n) for lab, n in by.items()} for name, by in self.latency.items()
            },
            "throughput_sd_log": noise(self.throughput),
            "rate_dispersion": noise(self.dispersion),
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Calibration:
        def noise(raw: Any, is_sd: bool = True) -> Noise | None:
            if raw is None:
                return None
            value, df = float(raw["value"]), int(raw["df"])
            if not math.isfinite(value) or value < 0 or df < 0:
                raise ValueError(f"bad noise {raw!r}")
            return Noise(value, df, is_sd)

        if not isinstance(data, dict) or data.get("goldenpath_calibration") != FORMAT:
            raise ValueError(f"not a goldenpath calibration (format {FORMAT})")
        latency = {
            str(name): {str(lab): n for lab, raw in by.items() if (n := noise(raw)) is not None}
            for name, by in dict(data.get("latency_sd_log") or {}).items()
        }
        return cls(
            latency=latency,
            throughput=noise(data.get("throughput_sd_log")),
            dispersion=noise(data.get("rate_dispersion"), is_sd=False),
            runs=int(data.get("runs", 0)),
            builds=int(data.get("builds", 0)),
            source=source,
            machine=dict(data.get("machine") or {}),
            created=str(data.get("created") or ""),
            scenario=dict(data.get("scenario") or {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration file; a ``ResultsError`` names the file when it is unusable."""
        p = Path(path)
        if not p.is_file():
            raise MissingFileError(p, "no such calibration file")
        try:
            return cls.from_dict(json.loads(p.read_text(encoding="utf-8")), str(p))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(p, f"not a usable calibration ({exc})") from None


def default_calibration() -> Calibration:
    """The calibration shipped with goldenpath (``make bench-calibration`` measured it)."""
    text = resources.files("analysis").joinpath(DEFAULT_NAME).read_text(encoding="utf-8")
    return Calibration.from_dict(json.loads(text), f"shipped with goldenpath ({DEFAULT_NAME})")


# --- measuring ---------------------------------------------------------------------------


def spread(values: np.ndarray) -> Noise | None:
    """SD of the log of positive per-run values, with k - 1 df (None under two runs)."""
    v = values[np.isfinite(values) & (values > 0)]
    if v.size < 2:
        return None
    return Noise(float(np.log(v).std(ddof=1)), int(v.size - 1))


def rate_table(s: Summary) -> pd.DataFrame:
    """Per run and rate metric, failures ``k`` of ``n``. The metrics: each request name's
    failure rate, and each failure kind and defect over the agent runs judged."""
    rows = []
    kinds = sorted({k for c in s.per_run_counts.values() for k in c.failures()})
    for run, counts in s.per_run_counts.items():
        judged = counts.judged
        for kind in kinds:
            rows.append((run, f"kind {kind}", counts.by_kind.get(kind, 0), judged))
        rows.append((run, "isolation violations", counts.isolation_violations, judged))
        rows.append((run, "1011 closes", counts.closes_1011, judged))
    names = s.per_run_requests.index.unique("name")
    for run in s.per_run_counts:
        for name in names:
            key = (run, name)
            r = s.per_run_requests.loc[key] if key in s.per_run_requests.index else None
            k, n = (0, 0) if r is None else (int(r["failed"]), int(r["requests"]))
            rows.append((run, f"{name} failure rate", k, n))
    return pd.DataFrame(rows, columns=["run", "metric", "k", "n"]).set_index(["run", "metric"])


def dispersion(tables: Sequence[pd.DataFrame]) -> Noise | None:
    """Dispersion phi of per-run rates around each metric's pooled rate.

    Per build (one table), each metric that was not zero in every run gives
    Pearson's statistic over its k - 1 degrees of freedom; the build's phi is
    their mean. The metrics are views of the same k runs (a golden path's
    failure rate and its response's are one number), so a build brings k - 1
    degrees of freedom, not k - 1 per metric. Builds are pooled by df.
    """
    pooled: Noise | None = None
    for table in tables:
        if table.empty:
            continue
        phis, runs = [], 0
        for _, m in table.groupby(level="metric"):
            k, n = m["k"].to_numpy(float), m["n"].to_numpy(float)
            keep = n > 0
            k, n = k[keep], n[keep]
            if k.size < 2 or k.sum() == 0:
                continue
            p = k.sum() / n.sum()
            if p >= 1:
                continue
            chi2 = float((((k / n) - p) ** 2 / (p * (1 - p) / n)).sum())
            phis.append(chi2 / (k.size - 1))
            runs = max(runs, int(k.size))
        if phis:
            build = Noise(max(1.0, float(np.mean(phis))), runs - 1, is_sd=False)
            pooled = build.pooled(pooled)
    return pooled


def calibrate(builds: Sequence[Summary], *, source: str = "") -> Calibration:
    """Measure run-to-run noise from repeated runs of one or more builds.

    Each build's runs are measured against that build's own mean, and the
    variances are pooled over builds by degrees of freedom.
    """
    latency: dict[str, dict[str, Noise]] = {}
    throughput: Noise | None = None
    for s in builds:
        if len(s.runs) < 2:
            raise ValueError(f"{s.label}: a calibration needs at least 2 runs of a build")
        per_run = s.per_run
        for name in per_run.index.get_level_values("name").unique():
            rows = per_run.xs(name, level="name")
            for lab in [c for c in rows.columns if c.startswith("p")]:
                noise = spread(rows[lab].to_numpy(dtype=float))
                if noise is not None:
                    by = latency.setdefault(str(name), {})
                    by[lab] = noise.pooled(by.get(lab))
        total = per_run.groupby(level="run", observed=True)["requests"].sum().to_numpy(float)
        noise = spread(total / s.run_seconds.reindex(per_run.index.unique("run")).to_numpy(float))
        if noise is not None:
            throughput = noise.pooled(throughput)
    first = builds[0].meta[0] if builds and builds[0].meta else {}
    return Calibration(
        latency=latency,
        throughput=throughput,
        dispersion=dispersion([rate_table(s) for s in builds]),
        runs=sum(len(s.runs) for s in builds),
        builds=len(builds),
        source=source,
        machine={
            "node": platform.node(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        scenario={k: first.get(k) for k in ("scenario", "users", "duration_s", "backend_config")},
    )

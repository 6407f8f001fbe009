"""How each SLO metric is read from a summary: the readers of the metric table
(``criteria.METRICS``). A reader raises ``Missing`` when the results lack what it needs and
``TooFew`` when a percentile has too few samples for a bounded interval."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.errors import CorruptFileError
from analysis.quantiles import samples_for_bounded_ci

if TYPE_CHECKING:
    from analysis.load import RunGroup
    from analysis.summary import Summary

#: ``read(metric, request, summary, group) -> value``
Reader = Callable[[str, "str | None", "Summary", "RunGroup"], float]


class Missing(Exception):
    """The data an objective needs is not in the results."""


class TooFew(Exception):
    def __init__(self, have: int, need: int) -> None:
        self.have, self.need = have, need
        super().__init__(f"{have} samples, a bounded interval needs {need}")


def _row(s: Summary, request: str) -> Any:
    if request not in s.latency.index:
        raise Missing(f"no {request!r} requests in the results")
    return s.latency.loc[request]


def success_rate(metric: str, request: str | None, s: Summary, group: RunGroup) -> float:
    row = _row(s, str(request))
    if not row["requests"]:
        raise Missing(f"no {request!r} requests")
    return float((row["requests"] - row["failed"]) / row["requests"])


def failure_rate(metric: str, request: str | None, s: Summary, group: RunGroup) -> float:
    if request:
        row = _row(s, request)
        requests, failed = float(row["requests"]), float(row["failed"])
    else:
        requests, failed = float(s.latency["requests"].sum()), float(s.latency["failed"].sum())
    if not requests:
        raise Missing("no requests")
    return failed / requests


def isolation_violations(metric: str, request: str | None, s: Summary, group: RunGroup) -> float:
    return float(s.isolation_violations)


def closes_1011(metric: str, request: str | None, s: Summary, group: RunGroup) -> float:
    # Every agent run counts, the ramp-up included (a 1011 during warm-up is still a
    # defect), once, by the counting rule every report uses.
    return float(s.closes_1011)


def latency_column(metric: str, request: str | None, s: Summary, group: RunGroup) -> float:
    """``mean``, ``max``, ``throughput_rps`` or a percentile of the summary's latency table."""
    row = _row(s, str(request))
    if not row["samples"]:
        raise Missing(f"no successful {request!r} samples")
    if metric.startswith("p"):
        need = samples_for_bounded_ci(float(metric[1:]) / 100.0, s.confidence)
        if row["samples"] < need:
            raise TooFew(int(row["samples"]), need)
    return float(row[metric])


def _factory_metrics(group: RunGroup) -> list[dict[str, Any]]:
    """``factory_metrics_after.json`` of each run that has one."""
    out = []
    for run in group.runs:
        path = Path(run.path) / "factory_metrics_after.json"
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptFileError(path, f"not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CorruptFileError(path, "is not a JSON object")
        out.append(data)
    return out


def factory_creation(metric: str, request: str | None, s: Summary, group: RunGroup) -> float:
    """``factory_creation_<stat>_ms``: the worst run's creation-time statistic."""
    stat = metric.removeprefix("factory_creation_").removesuffix("_ms")
    values = [
        d["creation_time_ms"][stat]
        for d in _factory_metrics(group)
        if isinstance(d.get("creation_time_ms"), dict)
        and isinstance(d["creation_time_ms"].get(stat), int | float)
    ]
    if not values:
        raise Missing("no creation_time_ms in factory_metrics_after.json")
    return float(max(values))  # the worst run decides


def active_engines_after(metric: str, request: str | None, s: Summary, group: RunGroup) -> float:
    values = [
        d["active_engines_count"]
        for d in _factory_metrics(group)
        if isinstance(d.get("active_engines_count"), int | float)
    ]
    if not values:
        raise Missing("no active_engines_count in factory_metrics_after.json")
    return float(max(values))

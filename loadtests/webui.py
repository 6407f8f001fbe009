"""A Golden-path tab in Locust's web UI: the harness's own counts and exact percentiles, live.

Locust's web UI polls ``/stats/requests`` every 2 s and renders the
``extended_tabs`` named in its template arguments from the ``extended_stats``
of that response (Locust's documented extension points; see its
``examples/extend_web_ui.py``). The figures come from the rows the harness
records (:class:`loadtests.recorder.LiveCounts`), counted by the one rule of
``resultsformat``: the same numbers as the progress line, the run summary and
the report. With ``--processes`` the master has the web UI and every worker's
rows. ``GET /golden-path/stats`` serves the same figures as JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Response, jsonify, request
from locust.env import Environment

from loadtests.recorder import Recorder

TAB_KEY = "golden-path"
TAB_TITLE = "Golden path"
TIMINGS = ("login", "ws_connect", "ttfe", "response", "golden_path")
STATS_PATH = "/stats/requests"


def figures(recorder: Recorder) -> list[dict[str, str]]:
    """The tab's rows: ``figure`` and ``value``."""
    live = recorder.live
    runs = live.runs
    kinds = ", ".join(f"{k} {v}" for k, v in runs.failures().items()) or "none"
    rows = [
        ("agent runs", f"{runs.runs}"),
        ("failed agent runs", f"{runs.failed}"),
        ("failed agent runs by kind", kinds),
        ("isolation violations", f"{runs.isolation_violations}"),
        ("1011 closes", f"{runs.closes_1011}"),
        ("interrupted by the end of the load (not failures)", f"{runs.interrupted}"),
        ("open-model dropped iterations", f"{live.dropped}"),
    ]
    pct = live.percentiles()
    for name in TIMINGS:
        if name in pct:
            p50, p95, p99 = pct[name]
            rows.append(
                (f"{name} p50 / p95 / p99 (ms, exact)", f"{p50:.1f} / {p95:.1f} / {p99:.1f}")
            )
    out = recorder.out_dir
    rows.append(
        (
            "results directory",
            str(out) if out is not None else "not written (set GOLDENPATH_RESULTS_DIR)",
        )
    )
    rows.append(("rows recorded", f"{live.rows}"))
    return [{"figure": figure, "value": value} for figure, value in rows]


def attach_web_ui(environment: Environment, recorder: Recorder) -> bool:
    """Add the tab to ``environment``'s web UI; False when there is none (headless, worker)."""
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return False
    app = web_ui.app
    recorder.live.latencies = {}  # exact percentiles: keep every successful latency
    args = web_ui.template_args
    args["extended_tabs"] = [
        *args.get("extended_tabs", []),
        {"title": TAB_TITLE, "key": TAB_KEY},
    ]
    args["extended_tables"] = [
        *args.get("extended_tables", []),
        {
            "key": TAB_KEY,
            "structure": [
                {"key": "figure", "title": "Figure"},
                {"key": "value", "title": "Value"},
            ],
        },
    ]
    cache: dict[str, Any] = {"at": 0.0, "rows": []}

    def current() -> list[dict[str, str]]:
        # at most one computation a second, however many browsers poll
        if time.monotonic() - cache["at"] >= 1.0:
            cache["rows"], cache["at"] = figures(recorder), time.monotonic()
        return list(cache["rows"])

    @app.after_request
    def extend_stats(response: Response) -> Response:
        if request.path != STATS_PATH or not response.is_json:
            return response
        data = response.get_json() or {}
        # Locust may hand out one cached response twice: replace our entry, never add another
        others = [e for e in data.get("extended_stats", []) if e.get("key") != TAB_KEY]
        data["extended_stats"] = [*others, {"key": TAB_KEY, "data": current()}]
        response.set_data(json.dumps(data))
        return response

    @app.route("/golden-path/stats")
    def golden_path_stats() -> Response:
        return jsonify({row["figure"]: row["value"] for row in current()})

    return True

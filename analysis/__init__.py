"""Read load-run results directories, summarize, compare and report.

The public functions are imported lazily (PEP 562), so ``import analysis`` and
its subpackages (``analysis.gate`` for one) stay cheap until pandas is actually
needed. ``summarize`` and ``compare`` are modules here; their
functions of the same name are ``analysis.summarize.summarize`` and
``analysis.compare.compare``.
"""

from __future__ import annotations

from analysis.lazy import lazy_exports

_EXPORTS = {
    "ResultsError": "analysis.errors",
    "MissingFileError": "analysis.errors",
    "CorruptFileError": "analysis.errors",
    "SchemaVersionError": "analysis.errors",
    "EmptyRunError": "analysis.errors",
    "Run": "analysis.load",
    "RunGroup": "analysis.load",
    "load_run": "analysis.load",
    "load_group": "analysis.load",
    "resolve_run_dirs": "analysis.load",
    "locate": "analysis.load",
    "Summary": "analysis.summary",
    "over_time": "analysis.summarize",
    "failures_over_time": "analysis.summarize",
    "quantile_ci": "analysis.summarize",
    "detect_steady_state": "analysis.steady",
    "warmup_cuts": "analysis.steady",
    "Calibration": "analysis.calibration",
    "calibrate": "analysis.calibration",
    "Comparison": "analysis.compare",
    "Verdict": "analysis.compare",
    "Thresholds": "analysis.compare",
    "render_markdown": "analysis.report",
    "render_html": "analysis.report",
    "write_report": "analysis.report",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("analysis", _EXPORTS, globals())

"""The deployment gate: judge load results against an SLO file (TOML).

::

    criteria.py the metrics an objective may judge (and how each is read: readers.py),
                the criterion grammar ``p95 < 200 ms``, ``p95 <= +10%``
    slo.py      the SLO file: pydantic models of its tables, errors with line numbers
    errors.py   SloError, apart so that the CLI catches it without importing the parser
    tomllines.py where each TOML table and key sits (tomllib gives no lines)
    judge.py    each objective judged, and the four-way verdict decided
    outcomes.py the outcomes (pass, warning, fail, inconclusive, skipped), the verdict, exit codes
    junit.py    JUnit XML, one test case per objective
    trials.py   ``gate run``: smoke on green, interleaved blue/green trials, judge
    serve.py    ``gate serve``: the gate behind HTTP (Flagger webhook, Argo web metric)
    cli.py      ``goldenpath gate``: exit 0 pass/warning, 1 fail, 2 unusable input, 3 inconclusive

Like the rest of ``analysis``, it reads only the results format; the load
harness is reached through its command line, never imported.
"""

from __future__ import annotations

from analysis.lazy import lazy_exports

# ``judge`` is the module here (importing it sets the package's attribute of that name);
# the function is ``analysis.gate.judge.judge``, as ``analysis.compare.compare`` is.

# Imported on first use (PEP 562): `goldenpath gate --help` and a usage error need none
# of pandas and scipy that the judge pulls in.
_EXPORTS = {
    "Judge": "analysis.gate.judge",
    "ObjectiveResult": "analysis.gate.judge",
    "Verdict": "analysis.gate.judge",
    "Criterion": "analysis.gate.slo",
    "Objective": "analysis.gate.slo",
    "Slo": "analysis.gate.slo",
    "SloError": "analysis.gate.errors",
    "load_slo": "analysis.gate.slo",
    "parse_slo": "analysis.gate.slo",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("analysis.gate", _EXPORTS, globals())

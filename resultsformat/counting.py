"""The one counting rule: failures, defects and close codes are counted per agent run.

Every screen that shows a failure count (the progress line, the run summary,
report.md and report.html, the gate, the notebooks) takes it from here, so one
defect is one number everywhere.

* An **agent run** is a ``response`` row. In the per-iteration mode its
  ``golden_path`` row repeats the outcome, so counting rows would count it twice.
* A run's **outcome** is its ``response`` row's ``failure_kind`` (None: it
  passed every check). A frame read after that row was written (on a socket
  closed when the load stopped, say) is still checked: if it changes the run's
  outcome, it is written as a ``late_frame`` row naming the run's ``msg_id``,
  the new outcome in ``failure_kind`` and the one it replaces in ``prior_kind``
  (``ok`` for a run that had passed). The run is then counted under its new
  outcome only, so counts need no join: each late row moves one run from
  ``prior_kind`` to ``failure_kind``.
* A run's **close code** is the code the server closed its socket with while
  the run was read (on its response row, or on a late row: a socket the server
  closed is never read again, so a run has at most one).
* **Interrupted** runs (cut by the end of the load) are counted and shown, but
  are not failures of the backend: ``failed`` leaves them out.

``RunCounts.add`` counts one row at a time (the live progress line);
``count_runs`` counts whole columns (summaries, reports, the gate). Both apply
``RunCounts._move``; a test checks they agree on any rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from resultsformat.schema import FAILURE_KINDS, LATE_FRAME, NOT_REQUEST_KINDS, OK, RESPONSE

ISOLATION = "isolation_violation"
INTERRUPTED = "interrupted"
CLOSE_1011 = 1011


@dataclass
class RunCounts:
    """Agent runs by outcome and by close code."""

    runs: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # outcome -> runs (failures only)
    close_codes: Counter[int] = field(default_factory=Counter)  # close code -> runs

    # --- the rule --------------------------------------------------------------------

    def _move(self, prior: str | None, kind: str | None, n: int = 1) -> None:
        """``n`` runs change outcome from ``prior`` to ``kind`` (None or ``ok``: passed)."""
        if prior not in (None, OK):
            self.by_kind[prior] -= n
        if kind not in (None, OK):
            self.by_kind[kind] += n

    def add(
        self, name: str, failure_kind: str | None, close_code: int | None, prior_kind: str | None
    ) -> None:
        """Count one row (rows other than ``response`` and ``late_frame`` count nothing)."""
        if name == RESPONSE:
            self.runs += 1
            self._move(None, failure_kind)
        elif name == LATE_FRAME:
            self._move(prior_kind or OK, failure_kind)
        else:
            return
        if close_code is not None:
            self.close_codes[int(close_code)] += 1

    def merge(self, other: RunCounts) -> None:
        """Add the counts of another part of the same rows (a batch read after this one).

        A late frame may land in another batch than its run: its move is counted where it
        is read, so one batch's ``by_kind`` can go below zero; the sum is the whole's."""
        self.runs += other.runs
        self.by_kind.update(other.by_kind)  # update keeps negative counts; + would drop them
        self.close_codes.update(other.close_codes)

    # --- what the screens show ---------------------------------------------------------

    @property
    def interrupted(self) -> int:
        return self.by_kind.get(INTERRUPTED, 0)

    @property
    def failed(self) -> int:
        """Runs that failed a check; interrupted runs are not failures of the backend."""
        return sum(v for k, v in self.by_kind.items() if k != INTERRUPTED)

    @property
    def passed(self) -> int:
        return self.runs - self.failed - self.interrupted

    @property
    def judged(self) -> int:
        """Runs that ran to an outcome of their own: every run but the interrupted ones."""
        return self.runs - self.interrupted

    @property
    def isolation_violations(self) -> int:
        return self.by_kind.get(ISOLATION, 0)

    @property
    def closes_1011(self) -> int:
        return self.close_codes.get(CLOSE_1011, 0)

    def failures(self) -> dict[str, int]:
        """Failed runs per outcome (interrupted excluded), most serious first, zeros dropped."""
        rank = {k: i for i, k in enumerate(FAILURE_KINDS)}
        kinds = [k for k, v in self.by_kind.items() if v and k != INTERRUPTED]
        return {k: self.by_kind[k] for k in sorted(kinds, key=lambda k: rank.get(k, 99))}

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "failed": self.failed,
            "interrupted": self.interrupted,
            "isolation_violations": self.isolation_violations,
            "closes_1011": self.closes_1011,
            "failures": self.failures(),
            "close_codes": {int(k): v for k, v in sorted(self.close_codes.items()) if v},
        }


def _series(values: Any) -> pd.Series:
    # pandas is imported where a column or a table is made: the Locust processes, which
    # only add RunCounts up, never load it (half a second each).
    import pandas as pd

    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    array = np.asarray(values)
    return pd.Series(array if array.dtype != object else list(values), dtype=array.dtype)


def _counts(values: pd.Series) -> Iterable[tuple[Any, int]]:
    vc = values.dropna().value_counts(sort=False)
    return ((k, int(v)) for k, v in vc.items() if v)


def count_runs(
    name: Any, failure_kind: Any, close_code: Any, prior_kind: Any | None = None
) -> RunCounts:
    """``RunCounts`` of whole columns (pandas Series, numpy arrays or lists of equal length).

    ``prior_kind`` may be None for data without late-frame rows (schema version 1).
    """
    names, kinds, codes = _series(name), _series(failure_kind), _series(close_code)
    resp = (names == RESPONSE).to_numpy(dtype=bool)
    late = (names == LATE_FRAME).to_numpy(dtype=bool)
    out = RunCounts(runs=int(resp.sum()))
    for kind, n in _counts(kinds[resp]):
        out._move(None, str(kind), n)
    if late.any():
        if prior_kind is None:
            raise ValueError("late_frame rows need their prior_kind")
        priors = _series(prior_kind)[late].astype(object).fillna(OK).to_numpy()
        late_kinds = kinds[late].astype(object).fillna(OK).to_numpy()
        for (prior, kind), n in Counter(zip(priors, late_kinds, strict=True)).items():
            out._move(str(prior), str(kind), n)
    for code, n in _counts(codes[resp | late]):
        out.close_codes[int(code)] += n
    return out


def requests_by_name(name: Any, failure_kind: Any, ok: Any, runs: RunCounts) -> pd.DataFrame:
    """Per request name: ``rows``, ``requests``, ``failed`` and ``not_requests``.

    Requests are the rows the backend answered: dropped iterations never started and
    interrupted runs were cut by the end of the load (``not_requests``), and late
    frames are no request at all (left out). The ``response`` name stands for the
    agent runs, so its requests and failures are the rule's: ``runs.judged`` and
    ``runs.failed``, late frames included. Names are in order of first appearance.
    """
    import pandas as pd

    names = _series(name)
    frame = pd.DataFrame(
        {
            "name": names,
            "not_request": _series(failure_kind).isin(NOT_REQUEST_KINDS).to_numpy(dtype=bool),
            "ok": np.asarray(ok, dtype=bool),
        }
    )
    frame = frame[frame["name"] != LATE_FRAME]
    grouped = frame.groupby("name", sort=False, observed=True)
    raw = pd.DataFrame(
        {
            "rows": grouped.size(),
            "not_requests": grouped["not_request"].sum(),
            "ok": grouped["ok"].sum(),
        }
    )
    return requests_table(raw, runs)


def requests_table(raw: pd.DataFrame, runs: RunCounts) -> pd.DataFrame:
    """``requests_by_name`` from row counts already taken: ``raw`` has, per name (late
    frames left out), ``rows``, ``not_requests`` and ``ok``; summed over parts of a run
    (batches read one at a time), it gives the same table as the whole run's rows."""
    out = raw[["rows", "not_requests", "ok"]].astype("int64")
    out["requests"] = out["rows"] - out["not_requests"]
    out["failed"] = out["requests"] - out["ok"]
    if RESPONSE in out.index:
        out.loc[RESPONSE, ["requests", "failed"]] = [runs.judged, runs.failed]
    out.index = out.index.astype(str)
    return out[["rows", "requests", "failed", "not_requests"]].astype("int64")

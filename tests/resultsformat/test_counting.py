"""The one counting rule: per agent run, moved by late-frame rows; row by row equals columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from resultsformat import FAILURE_KINDS, LATE_FRAME, OK, RESPONSE, RunCounts, count_runs

NAMES = ["login", "ws_connect", "ttfe", RESPONSE, "golden_path", "iteration", LATE_FRAME]
KINDS = [None, *FAILURE_KINDS]
CODES = [None, 1000, 1001, 1006, 1011]


def rows_to_columns(rows: list[tuple]) -> tuple[pd.Series, ...]:
    frame = pd.DataFrame(rows, columns=["name", "failure_kind", "close_code", "prior_kind"])
    return (
        frame["name"].astype("category"),
        frame["failure_kind"].astype("category"),
        frame["close_code"].astype("Int32"),
        frame["prior_kind"].astype("category"),
    )


def test_a_golden_path_row_repeating_its_response_is_one_run_not_two() -> None:
    rows = [
        ("login", None, None, None),
        (RESPONSE, "isolation_violation", None, None),
        ("golden_path", "isolation_violation", 1000, None),
        (RESPONSE, "ws_close_1011", 1011, None),
        ("golden_path", "ws_close_1011", 1011, None),
        (RESPONSE, None, None, None),
    ]
    counts = count_runs(*rows_to_columns(rows))
    assert counts.runs == 3 and counts.failed == 2 and counts.passed == 1
    assert counts.isolation_violations == 1 and counts.closes_1011 == 1
    assert counts.close_codes == {1011: 1}


def test_a_late_frame_moves_its_run_to_the_new_outcome() -> None:
    rows = [
        (RESPONSE, None, None, None),  # passed, then a leaked frame was read at the close
        (LATE_FRAME, "isolation_violation", None, OK),
        (RESPONSE, "interrupted", None, None),  # cut by the end of the load, then a 1011
        (LATE_FRAME, "ws_close_1011", 1011, "interrupted"),
        (RESPONSE, "interrupted", None, None),
    ]
    counts = count_runs(*rows_to_columns(rows))
    assert counts.runs == 3
    assert counts.failures() == {"isolation_violation": 1, "ws_close_1011": 1}
    assert counts.failed == 2 and counts.interrupted == 1 and counts.passed == 0
    assert counts.judged == 2 and counts.closes_1011 == 1
    assert counts.as_dict()["close_codes"] == {1011: 1}


def test_interrupted_runs_are_counted_but_are_not_failures() -> None:
    counts = RunCounts()
    for kind in ("interrupted", None, "timeout"):
        counts.add(RESPONSE, kind, None, None)
    assert counts.runs == 3 and counts.interrupted == 1 and counts.failed == 1
    assert counts.judged == 2 and counts.failures() == {"timeout": 1}


row = st.tuples(
    st.sampled_from(NAMES),
    st.sampled_from(KINDS),
    st.sampled_from(CODES),
    st.sampled_from([None, OK, *FAILURE_KINDS]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(row, max_size=60))
def test_row_by_row_and_whole_columns_agree(rows: list[tuple]) -> None:
    # the progress line counts row by row; summaries, reports and the gate count columns
    live = RunCounts()
    for name, kind, code, prior in rows:
        live.add(name, kind, code, prior)
    whole = count_runs(*rows_to_columns(rows)) if rows else RunCounts()
    assert live.as_dict() == whole.as_dict()
    assert live.runs == sum(r[0] == RESPONSE for r in rows)


def test_numpy_and_list_columns_count_the_same() -> None:
    rows = [(RESPONSE, "timeout", None, None), (LATE_FRAME, "isolation_violation", 1006, "timeout")]
    names, kinds, codes, priors = (list(c) for c in zip(*rows, strict=True))
    a = count_runs(names, kinds, codes, priors)
    b = count_runs(np.array(names, dtype=object), np.array(kinds, dtype=object), codes, priors)
    assert (
        a.as_dict()
        == b.as_dict()
        == {
            "runs": 1,
            "failed": 1,
            "interrupted": 0,
            "isolation_violations": 1,
            "closes_1011": 0,
            "failures": {"isolation_violation": 1},
            "close_codes": {1006: 1},
        }
    )

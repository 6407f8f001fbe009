"""The SSOT audit's first customer: this backend.

Canonical mode has one implementation; legacy mode has four more.
"""

from __future__ import annotations

import json
import subprocess
import sys

CANONICAL = "reference_backend.agents.supervisor.execution_engine_factory:ExecutionEngineFactory"


def audit(*extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "ssotaudit",
        "reference_backend",
        "--pattern",
        "*ExecutionEngineFactory",
        "--canonical",
        CANONICAL,
        "--json",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_canonical_mode_has_exactly_one_implementation() -> None:
    done = audit("--exclude", "reference_backend/legacy/*", "--import-check")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    kinds = [c["kind"] for c in report["findings"]]
    assert kinds.count("canonical") == 1 and "duplicate" not in kinds
    assert kinds.count("wrapper") == 1 and kinds.count("alias") >= 3


def test_legacy_mode_is_reported_with_its_duplicates() -> None:
    done = audit()
    assert done.returncode == 1
    report = json.loads(done.stdout)
    duplicates = {c["import_path"] for c in report["findings"] if c["kind"] == "duplicate"}
    assert len(duplicates) == 4, duplicates
    assert all(path.startswith("reference_backend.legacy.") for path in duplicates)

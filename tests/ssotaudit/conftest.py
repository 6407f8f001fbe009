"""The SSOT audit's tests: the fragmented fixture, audited once per module."""

from __future__ import annotations

import pytest

from ssotaudit import AuditReport, audit
from tests.utils.ssot import CANONICAL, FIXTURE, PATTERNS


@pytest.fixture(scope="module")
def report() -> AuditReport:
    """The fixture audited once, statically."""
    return audit([FIXTURE], PATTERNS, CANONICAL)

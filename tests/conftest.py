"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from loadtests.embedded import EmbeddedBackend
from tests.utils.servers import PASSWORD


def pytest_runtest_setup(item: pytest.Item) -> None:
    # A test that judges real runs' timing cannot share the CPUs with other tests: a
    # neighbour's load on one side of an A/A pair is a change the verdict rightly reports.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if item.get_closest_marker("alone") is not None and workers > 1:
        pytest.skip(f"judges timing: run it without xdist ({workers} workers here); make test does")


@pytest.fixture(scope="module")
def canonical_backend() -> Iterator[EmbeddedBackend]:
    """A real canonical backend on 127.0.0.1 with 60 provisioned users."""
    with EmbeddedBackend(factory="canonical", users=60, password=PASSWORD) as backend:
        yield backend


@pytest.fixture(scope="module")
def legacy_backend() -> Iterator[EmbeddedBackend]:
    """A real legacy (fragmented) backend on 127.0.0.1 with 60 provisioned users."""
    with EmbeddedBackend(factory="legacy", users=60, password=PASSWORD) as backend:
        yield backend

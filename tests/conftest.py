"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtests.embedded import EmbeddedBackend
from tests.utils.servers import PASSWORD


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

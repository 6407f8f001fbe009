"""Errors a user can cause by pointing the analysis at bad results.

Every one names the file at fault, so the CLI can print one clear line::

    ResultsError                 base: .path is the file or directory at fault
     +-- MissingFileError        meta.json or the events data is not there
     +-- CorruptFileError        unreadable JSON/Parquet, or a column of the wrong type
     +-- SchemaVersionError      meta.json's schema_version is not one this reader knows
     +-- EmptyRunError           the events data holds no rows
"""

from __future__ import annotations

from pathlib import Path


class ResultsError(Exception):
    """A results directory that cannot be analysed; ``path`` names the culprit."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = Path(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


class MissingFileError(ResultsError):
    """A file the results format requires is absent."""


class CorruptFileError(ResultsError):
    """A file exists but cannot be read, or its contents break the format."""


class SchemaVersionError(ResultsError):
    """``meta.json`` declares a schema_version this reader does not understand."""


class EmptyRunError(ResultsError):
    """The run's events data holds no rows (nothing to summarize)."""

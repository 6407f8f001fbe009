"""The gate's input errors, in a module of their own: the CLI catches them without importing
the SLO parser (and pandas behind it) first."""

from __future__ import annotations


class SloError(Exception):
    """An SLO file that cannot be used; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source, self.line, self.message = source, line, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")

"""Where each table and key of a TOML text sits: tomllib gives values, not lines, and
an SLO error names the line at fault."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\s]+)\s*\]\]?")


class TomlLines:
    """Where each table and key sits in the text, for error messages (tomllib gives none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []  # (1-based line, table name)
        for i, line in enumerate(self.lines, 1):
            m = _HEADER.match(line)
            if m:
                self.headers.append((i, m.group(1)))

    def table(self, name: str, index: int = 0) -> int:
        found = [ln for ln, n in self.headers if n == name]
        return found[index] if index < len(found) else 0

    def key(self, table: str, index: int, key: str) -> int:
        """Line of ``key = ...`` inside the index-th ``table`` (its header line if absent)."""
        start = self.table(table, index)
        following = [ln for ln, _ in self.headers if ln > start]
        end = following[0] if following else len(self.lines) + 1
        if not start:
            start, end = 0, (self.headers[0][0] if self.headers else len(self.lines) + 1)
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for ln in range(start + 1, end):
            if pattern.match(self.lines[ln - 1]):
                return ln
        return start

"""SQLite storage: users with password hashes, and the audit trail."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reference_backend.config import sqlite_path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        REAL NOT NULL,
    user_id   TEXT NOT NULL,
    action    TEXT NOT NULL,
    run_id    TEXT,
    detail    TEXT
);
CREATE INDEX IF NOT EXISTS audit_user ON audit (user_id);
"""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str

    @property
    def user_id(self) -> str:
        """The id carried in tokens and events."""
        return f"user-{self.id}"


AuditRow = tuple[float, str, str, str | None, str | None]


class UserExistsError(Exception):
    """A username is already taken."""


class Database:
    """SQLite connections shared by threads under locks.

    SQLite serialises writers anyway; one connection keeps an in-memory
    database (``sqlite://``) the same database for every caller. A file
    database (WAL) also has a second connection for reading users, so a login
    never waits behind an audit batch being written.
    """

    def __init__(self, url: str) -> None:
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        target = ":memory:" if path is None else str(path)
        self.url = url
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(target, check_same_thread=False, timeout=30)
        with self._lock:
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            self._conn.commit()
        self._read_lock = self._lock
        self._reader = self._conn
        if path is not None:
            self._read_lock = threading.Lock()
            self._reader = sqlite3.connect(target, check_same_thread=False, timeout=30)

    @property
    def path(self) -> Path | None:
        return sqlite_path(self.url)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        if self._reader is not self._conn:
            with self._read_lock:
                self._reader.close()

    def add_users(self, users: Iterable[tuple[str, str]], *, replace: bool = False) -> int:
        """Insert ``(username, password_hash)`` pairs in one transaction; return the count."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        rows = [(name, pw_hash, time.time()) for name, pw_hash in users]
        with self._lock:
            try:
                with self._conn:
                    self._conn.executemany(
                        f"{verb} INTO users (username, password_hash, created_at) "  # noqa: S608
                        "VALUES (?, ?, ?)",
                        rows,
                    )
            except sqlite3.IntegrityError as exc:
                raise UserExistsError(str(exc)) from exc
        return len(rows)

    def get_user(self, username: str) -> User | None:
        with self._read_lock:
            row = self._reader.execute(
                "SELECT id, username, password_hash FROM users WHERE username = ?", (username,)
            ).fetchone()
        return None if row is None else User(int(row[0]), str(row[1]), str(row[2]))

    def record_audit(self, rows: Sequence[AuditRow]) -> None:
        """Append audit rows ``(ts, user_id, action, run_id, detail)``."""
        if not rows:
            return
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO audit (ts, user_id, action, run_id, detail) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def audit_for(self, user_id: str) -> list[AuditRow]:
        with self._lock:
            cur = self._conn.execute(
                "SELECT ts, user_id, action, run_id, detail FROM audit WHERE user_id = ? "
                "ORDER BY id",
                (user_id,),
            )
            return [tuple(r) for r in cur.fetchall()]

    def recent_audit_users(self, limit: int = 1000) -> list[str]:
        """Users with the most recent audit rows (the legacy bridge warms up with these)."""
        with self._lock:
            cur = self._conn.execute(
                "SELECT DISTINCT user_id FROM audit ORDER BY id DESC LIMIT ?", (limit,)
            )
            return [str(r[0]) for r in cur.fetchall()]


def open_database(url: str) -> Database:
    """Open (and create if needed) the database at ``url``."""
    return Database(url)


__all__ = ["Database", "User", "UserExistsError", "open_database"]

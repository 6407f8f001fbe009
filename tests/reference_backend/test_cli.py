"""``goldenpath serve`` and ``goldenpath users``: real processes, exit codes, one-line errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "loadtests.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_users_create_provisions_distinct_users(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    url = f"sqlite:///{db}"
    done = run(
        "users",
        "create",
        "--count",
        "25",
        "--prefix",
        "load",
        "--password",
        "pw",
        "--database-url",
        url,
        "--kdf-log2-n",
        "4",
    )
    assert done.returncode == 0, done.stderr
    assert "created 25 users (load0..load24)" in done.stdout
    names = [r[0] for r in sqlite3.connect(db).execute("SELECT username FROM users ORDER BY id")]
    assert names == [f"load{i}" for i in range(25)]
    again = run("users", "create", "--username", "load3", "--password", "pw", "--database-url", url)
    assert again.returncode == 2 and "--if-exists replace" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["serve", "--port", "70000"], "port"),
        (["serve", "--database-url", "postgres://x"], "database URL"),
        (["serve", "--factory", "broken"], "invalid choice"),
        (["serve", "--environment", "prod"], "GOLDENPATH_SECRET_KEY"),
        (["users", "create", "--count", "0", "--password", "x"], "--count"),
        (["nope"], "unknown verb"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1

"""A real browser for the tests: Debian's chromium, driven by Playwright for Python.

The browser build Playwright downloads cannot be fetched here, so it launches the
system's chromium (``executable_path``); ``.ci/run`` installs it with apt. Without
it the browser tests skip with that reason, except in CI, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Flags for a closed network: no background requests to Google's services at start-up.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """The system chromium's path; skip (fail in CI) when it is not installed."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass
class Browsed:
    """A page, and the errors the browser reported while it was open."""

    page: Any
    console_errors: list[str] = field(default_factory=list)


@contextmanager
def browser_page(width: int = 1400, height: int = 900) -> Iterator[Browsed]:
    """A fresh chromium page; console errors and uncaught exceptions are collected."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            browsed = Browsed(page)
            page.on(
                "console",
                lambda msg: (
                    browsed.console_errors.append(msg.text) if msg.type == "error" else None
                ),
            )
            page.on("pageerror", lambda exc: browsed.console_errors.append(str(exc)))
            yield browsed
        finally:
            browser.close()


def screenshot(page: Any, path: Path, docs_name: str | None = None) -> Path:
    """Save a screenshot under the test's tmp directory; with GOLDENPATH_DOCS_SCREENSHOTS=1,
    also as ``docs/<docs_name>`` (how the README's screenshots are made)."""
    page.screenshot(path=str(path), full_page=True)
    if docs_name and os.environ.get("GOLDENPATH_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / docs_name)
    return path

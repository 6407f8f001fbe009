"""Ending the processes the tests start: by their PID, SIGTERM first, then SIGKILL."""

from __future__ import annotations

import subprocess
from typing import Any


def end_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGTERM ``proc`` and wait ``timeout`` s; then SIGKILL and wait again. No-op if it ended."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)

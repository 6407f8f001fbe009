"""The README's baseline section is what the committed runs give (tools/render_baselines.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_baseline_section_matches_the_committed_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_baselines.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout

"""``python -m analysis.ssot``: the same as ``goldenpath ssot``."""

from __future__ import annotations

import sys

from analysis.ssot.cli import main

raise SystemExit(main(sys.argv[1:]))

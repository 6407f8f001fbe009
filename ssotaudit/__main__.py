"""``python -m ssotaudit``: the same as ``goldenpath ssot``."""

from __future__ import annotations

import sys

from ssotaudit.cli import main

raise SystemExit(main(sys.argv[1:]))

"""``python -m ssotaudit``: the same as ``goldenpath ssot``."""

from __future__ import annotations

import sys

from resultsformat.cli import configure_logging
from ssotaudit.cli import main

configure_logging()
raise SystemExit(main(sys.argv[1:]))

"""``python -m loadtests VERB ...``: the same as the ``goldenpath`` command."""

from loadtests.cli import main

raise SystemExit(main())

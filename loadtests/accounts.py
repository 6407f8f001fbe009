"""Who each virtual user logs in as, and this process's load configuration.

No Locust here: the run plan checks a ``--users-csv`` file with ``read_identities``
before any worker starts, in a process that never imports gevent.
"""

from __future__ import annotations

import csv

from loadtests.config import LoadConfig

_config: LoadConfig | None = None
_csv_identities: list[tuple[str, str]] | None = None


def load_config() -> LoadConfig:
    """This process's LoadConfig: set by the runner, else read from the environment."""
    global _config
    if _config is None:
        _config = LoadConfig.from_env()
    return _config


def set_config(cfg: LoadConfig) -> None:
    global _config, _csv_identities
    _config, _csv_identities = cfg, None


def read_identities(path: str) -> list[tuple[str, str]]:
    """``username,password`` rows of a CSV (header and ``#`` comments allowed).

    Raises ValueError naming the first bad line.
    """
    identities = []
    with open(path, newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].startswith("#") or row[:2] == ["username", "password"]:
                continue
            if len(row) < 2 or not row[0] or not row[1]:
                raise ValueError(f"{path}:{lineno}: expected username,password")
            identities.append((row[0], row[1]))
    if not identities:
        raise ValueError(f"{path}: no username,password rows")
    return identities


def account_slice(pool: int, processes: int, worker: int) -> range:
    """The account indices (of ``pool``) that worker ``worker`` of ``processes`` logs in as.

    Processes get disjoint slices, ``worker, worker + processes, ...``, so an account never
    spans processes: virtual users share an account's canaries only within one process.
    """
    return range(worker, pool, max(1, processes))


def identities(cfg: LoadConfig) -> list[tuple[str, str]]:
    """The ``--users-csv`` rows, read once per process (until ``set_config``)."""
    global _csv_identities
    if _csv_identities is None:
        _csv_identities = read_identities(cfg.users_csv or "")
    return _csv_identities


def credentials(cfg: LoadConfig, worker: int, local: int) -> tuple[str, str]:
    """The username and password of the ``local``-th virtual user of process ``worker``:
    from its slice of the CSV's rows, or of the provisioned pool ``{prefix}0..``."""
    processes = max(1, cfg.processes)
    if cfg.users_csv:
        rows = identities(cfg)
        mine = account_slice(len(rows), processes, worker)
        return rows[mine[local % len(mine)]]
    mine = account_slice(cfg.pool_size, processes, worker)
    return f"{cfg.user_prefix}{mine[local % len(mine)]}", cfg.password

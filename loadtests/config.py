"""What a load run asks of its users, shared with worker processes through one env var.

The runner writes a ``LoadConfig`` into ``GOLDENPATH_LOAD_CONFIG`` (JSON); the
users read it in every process, local or a Locust worker on another machine.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Literal

from resultsformat.duration import parse_duration as duration_seconds

#: How agent runs start: WebSocket frames, HTTP posts, or HTTP for the first then frames.
StartRuns = Literal["ws", "http", "http-first"]

ENV_VAR = "GOLDENPATH_LOAD_CONFIG"


@dataclass(frozen=True)
class LoadConfig:
    """Parameters of the golden-path users (all have defaults usable with plain ``locust``)."""

    user_prefix: str = "load"
    password: str = "load-password"  # noqa: S105 - the throwaway load-test users' password
    pool_size: int = 1000
    users_csv: str | None = None
    # per_iteration: login -> connect -> message -> close each iteration (the golden path);
    # persistent: login and connect once, then one message per iteration.
    connection: Literal["per_iteration", "persistent"] = "per_iteration"
    # how a run starts: a WebSocket frame, POST /api/chat/message (its events still come on
    # the socket), or HTTP for each user's first run only (a cold start's burst)
    start_runs: StartRuns = "ws"
    response_timeout_s: float = 10.0
    think_time_s: float = 0.0
    connect_timeout_s: float = 10.0
    message: str = "golden path check"
    source_addresses: int = 1
    processes: int = 1
    model: Literal["closed", "open"] = "closed"
    rate: float = 0.0
    rate_end: float | None = None
    arrival: Literal["constant", "poisson"] = "constant"
    duration_s: float = 0.0
    seed: int = 0
    batch_rows: int = 5000
    extra: dict[str, str] = field(default_factory=dict)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> LoadConfig:
        raw = os.environ.get(ENV_VAR)
        return cls(**json.loads(raw)) if raw else cls()


class UsageError(Exception):
    """Bad command-line input: the CLI prints one line and exits 2."""


class ResultsWriteError(OSError):
    """A results file could not be written (a full disk, a file-size limit, ...).

    Its message is one line naming the file and the errno.
    """

    def __str__(self) -> str:
        reason = os.strerror(self.errno) if self.errno else (self.strerror or "I/O error")
        code = f" (errno {self.errno})" if self.errno else ""
        return f"could not write {self.filename}: {reason}{code}"


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """``500ms``, ``90s``, ``5m``, ``1h30m``, ``45`` -> seconds (:mod:`resultsformat.duration`)."""
    try:
        return duration_seconds(text, allow_zero=allow_zero)
    except ValueError as e:
        raise UsageError(str(e)) from None

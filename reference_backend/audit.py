"""The audit trail of engine creation and cleanup, per user, in SQLite.

Recording is a list append (no I/O on the request path); a background task
writes batches to the database, and ``close()`` writes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from reference_backend.db import AuditRow, Database

log = logging.getLogger(__name__)


class AuditTrail:
    """Buffered audit rows, flushed every ``interval_s`` and on close."""

    def __init__(self, db: Database | None, *, interval_s: float = 0.5) -> None:
        self._db = db
        self._interval_s = interval_s
        self._pending: list[AuditRow] = []
        self._task: asyncio.Task[None] | None = None

    def record(
        self, user_id: str, action: str, run_id: str | None = None, detail: str | None = None
    ) -> None:
        self._pending.append((time.time(), user_id, action, run_id, detail))

    async def start(self) -> None:
        if self._db is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-flush")

    async def flush(self) -> None:
        rows, self._pending = self._pending, []
        if rows and self._db is not None:
            await asyncio.to_thread(self._db.record_audit, rows)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.flush()
            except Exception:  # a failed batch is logged; the trail keeps going
                log.exception("audit flush failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

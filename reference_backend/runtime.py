"""The long-lived parts of one app, built in its lifespan and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from reference_backend.agent import ModelProvider
from reference_backend.audit import AuditTrail
from reference_backend.config import Settings
from reference_backend.db import Database
from reference_backend.metrics import Metrics
from reference_backend.ratelimit import LoginLimiter, RedisLoginLimiter
from reference_backend.service import GoldenPathService


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    metrics: Metrics
    model: ModelProvider
    audit: AuditTrail
    service: GoldenPathService
    login_limiter: LoginLimiter | RedisLoginLimiter

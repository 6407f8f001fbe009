"""Login."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from reference_backend.api.deps import RuntimeDep, documented
from reference_backend.db import Database
from reference_backend.security import create_access_token, verify_password

log = logging.getLogger(__name__)
T = TypeVar("T")
router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


async def _limit(result: T | Awaitable[T]) -> T:
    """The in-memory limiter answers at once; the Redis one is a coroutine."""
    if inspect.isawaitable(result):
        return await result
    return result


def _check(db: Database, username: str, password: str, log2_n: int) -> str | None:
    user = db.get_user(username)
    ok = verify_password(password, user.password_hash if user else None, log2_n=log2_n)
    return user.user_id if user is not None and ok else None


@router.post(
    "/login",
    response_model=TokenResponse,
    responses=documented(400, 401, 429, 503),
)
async def login(body: LoginRequest, request: Request, runtime: RuntimeDep) -> TokenResponse:
    """Exchange a username and password for a JWT access token."""
    settings = runtime.settings
    limiter = runtime.login_limiter
    address = request.client.host if request.client else "unknown"
    # Checked before hashing, so a locked-out attacker cannot make us burn CPU.
    # Only failures count: a client that logs in successfully is never limited.
    try:
        wait_s = await _limit(limiter.retry_after(body.username, address))
    except (RedisError, OSError):
        # the limits live in Redis and Redis is away: no login without them (503, as /ready)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "not ready") from None
    if wait_s:
        runtime.metrics.logins.labels(outcome="rate_limited").inc()
        log.debug("login rate-limited for %r from %s (%d s)", body.username, address, wait_s)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed login attempts; try again later",
            headers={"Retry-After": str(wait_s)},
        )
    # Hashing runs in a thread so one login never stalls other users' sockets.
    user_id = await asyncio.to_thread(
        _check, runtime.db, body.username, body.password, settings.kdf_log2_n
    )
    if user_id is None:
        # Recorded after hashing, so attempts already in flight when the limit is
        # reached still finish; counting them up front would also hold back
        # concurrent *successful* logins, which the load harness makes by thousands.
        with contextlib.suppress(RedisError, OSError):
            await _limit(limiter.failed(body.username, address))
        runtime.metrics.logins.labels(outcome="failed").inc()
        # One answer for unknown user and wrong password: no account enumeration.
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with contextlib.suppress(RedisError, OSError):
        await _limit(limiter.succeeded(body.username))
    runtime.metrics.logins.labels(outcome="ok").inc()
    token, expires_in = create_access_token(settings, user_id=user_id, username=body.username)
    return TokenResponse(access_token=token, expires_in=expires_in)

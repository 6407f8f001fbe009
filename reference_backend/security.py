"""Password hashing (scrypt) and JWT access tokens (HS256, algorithm pinned)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from reference_backend.config import Settings

ALGORITHM = "HS256"
_SCRYPT_R = 8
_SCRYPT_P = 1
# Verifying against this hash costs the same as a real one, so an unknown
# username takes as long as a wrong password (no user enumeration by timing).
_DUMMY_SALT = b"goldenpath-dummy"


def hash_password(password: str, *, log2_n: int) -> str:
    """Hash with scrypt; the cost travels with the hash: ``scrypt$log2n$r$p$salt$hash``."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, log2_n)
    return "$".join(
        ["scrypt", str(log2_n), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str | None, *, log2_n: int) -> bool:
    """Constant-time check of ``password`` against ``stored`` (None: unknown user)."""
    if stored is None:
        _scrypt(password, _DUMMY_SALT, log2_n)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or int(r) != _SCRYPT_R or int(p) != _SCRYPT_P:
            return False
        actual = _scrypt(password, _unb64(salt), int(n))
    except ValueError:
        return False
    return hmac.compare_digest(actual, _unb64(digest))


def _scrypt(password: str, salt: bytes, log2_n: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=256 * n * 8, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    username: str
    expires_at: int


class InvalidTokenError(Exception):
    """The token is missing, malformed, expired or not ours. ``reason`` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# A JWT is three base64url parts; anything far longer is an attack, not a token.
MAX_TOKEN_CHARS = 4096


def create_access_token(settings: Settings, *, user_id: str, username: str) -> tuple[str, int]:
    """Issue a token for ``user_id``; returns ``(token, expires_in_seconds)``."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "name": username,
        "iat": now,
        "nbf": now,
        "exp": now + settings.token_ttl_s,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), settings.token_ttl_s


def decode_access_token(settings: Settings, token: str | None) -> TokenClaims:
    """Verify signature, algorithm, expiry, issuer and audience."""
    if not token:
        raise InvalidTokenError("missing token")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidTokenError("oversized token")
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],  # pinned: no "none", no RS/HS confusion
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"{type(exc).__name__}: {exc}") from exc
    sub, name = claims.get("sub"), claims.get("name")
    if not isinstance(sub, str) or not isinstance(name, str):
        raise InvalidTokenError("token without subject")
    return TokenClaims(user_id=sub, username=name, expires_at=int(claims["exp"]))

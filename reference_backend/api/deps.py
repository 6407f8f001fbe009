"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from reference_backend.runtime import Runtime
from reference_backend.security import InvalidTokenError, TokenClaims, decode_access_token

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False)


class ErrorDetail(BaseModel):
    """The body of every error the routes raise (``HTTPException``'s ``{"detail": ...}``)."""

    detail: str


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the error statuses a route can answer, so the OpenAPI schema lists them.

    Clients and API fuzzers check answers against the schema: a status it does not
    list (a 400 for a body that is not UTF-8, a 401 from the token check, a 503 while
    starting) reads as a contract break.
    """
    return {code: {"model": ErrorDetail, "description": _ERRORS[code]} for code in codes}


_ERRORS = {
    400: "The body could not be decoded (not UTF-8 JSON)",
    401: "Missing, invalid or expired credentials",
    429: "Too many failed logins; see Retry-After",
    503: "The server is starting or draining",
}


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the server is starting")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_current_user(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenClaims:
    try:
        return decode_access_token(
            runtime.settings, credentials.credentials if credentials else None
        )
    except InvalidTokenError as exc:
        # The reason is logged for operators, never echoed to the client.
        log.info("HTTP auth rejected: %s", exc.reason)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or missing token",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


CurrentUser = Annotated[TokenClaims, Depends(get_current_user)]

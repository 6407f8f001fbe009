"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reference_backend.runtime import Runtime
from reference_backend.security import InvalidTokenError, TokenClaims, decode_access_token

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False)


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

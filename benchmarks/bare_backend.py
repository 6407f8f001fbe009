"""A bare FastAPI WebSocket app: the reference backend's API with nothing behind it.

The same login (scrypt password check in a thread, an HS256 JWT from the same
code), the same WebSocket authentication (the ``jwt.<token>`` subprotocol) and
the same five events per message, with the same fields. No factory, no engine,
no bridge, no audit trail, no metrics, no checks: what FastAPI and uvicorn
cost by themselves. ``bench_backend.py`` measures the reference backend
against it.

    python -m uvicorn benchmarks.bare_backend:app --port 8000   (users load0..loadN-1)
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from reference_backend.config import Settings
from reference_backend.security import (
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)
from reference_backend.ws_protocol import extract_token

SETTINGS = Settings()
LOG2_N = 8  # the load users' scrypt cost, as the embedded backend provisions them
USERS = int(os.environ.get("BARE_USERS", "100"))
PASSWORD_HASHES = {f"load{i}": hash_password("load-password", log2_n=LOG2_N) for i in range(USERS)}
EVENTS = ("agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed")

app = FastAPI()


class Login(BaseModel):
    username: str
    password: str


@app.post("/api/auth/login")
async def login(body: Login) -> dict[str, object]:
    stored = PASSWORD_HASHES.get(body.username)
    ok = await asyncio.to_thread(verify_password, body.password, stored, log2_n=LOG2_N)
    if not ok:
        raise HTTPException(401, "invalid username or password")
    token, expires_in = create_access_token(
        SETTINGS, user_id=f"user-{body.username}", username=body.username
    )
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    token, subprotocol = extract_token(websocket)
    claims = decode_access_token(SETTINGS, token)
    await websocket.accept(subprotocol=subprotocol)
    thread_id = uuid.uuid4().hex
    seq = 0
    try:
        while True:
            frame = await websocket.receive_json()
            message, msg_id = frame.get("message"), frame.get("client_msg_id")
            run_id = uuid.uuid4().hex
            for kind in EVENTS:
                seq += 1
                data: dict[str, object] = {}
                if kind == "agent_started":
                    data = {"message": message, "client_msg_id": msg_id}
                elif kind == "agent_completed":
                    data = {"result": f'You said: "{message}"', "client_msg_id": msg_id}
                await websocket.send_json(
                    {
                        "type": kind,
                        "user_id": claims.user_id,
                        "run_id": run_id,
                        "thread_id": thread_id,
                        "client_msg_id": msg_id,
                        "agent_name": "supervisor",
                        "seq": seq,
                        "ts": time.time(),
                        "data": data,
                    }
                )
    except WebSocketDisconnect:
        pass

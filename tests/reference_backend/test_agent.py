"""The model providers: simulated (deterministic) and OpenAI-compatible (against a local fake)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loadtests.embedded import EmbeddedBackend
from reference_backend.agent import SimulatedModel
from tests.utils.golden import GOLDEN, golden_path
from tests.utils.servers import PASSWORD, serve_in_thread


def test_simulated_model_is_deterministic_per_seed() -> None:
    async def reply(seed: int) -> str:
        model = SimulatedModel(seed=seed)
        call = await model.choose_tool("hello")
        return await model.reply("hello", await model.run_tool(call))

    a, b, c = (asyncio.run(reply(s)) for s in (1, 1, 2))
    assert a == b and a != c and a.startswith('You said: "hello".')


def fake_llm(status: int = 200) -> tuple[FastAPI, list[dict[str, Any]]]:
    app, seen = FastAPI(), []

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append({"body": body, "auth": request.headers.get("authorization")})
        if status != 200:
            return JSONResponse({"error": "overloaded"}, status_code=status)
        text = f"FAKE-LLM answer to {body['messages'][-1]['content']!r}"
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": text}}]})

    return app, seen


def _backend(base: str) -> EmbeddedBackend:
    settings = {
        "agent_provider": "openai",
        "openai_base_url": f"{base}/v1",
        "openai_api_key": "sk-local-test",
        "openai_model": "fake-1",
    }
    return EmbeddedBackend(users=1, password=PASSWORD, settings=settings)


def test_openai_compatible_provider_against_a_local_fake() -> None:
    app, seen = fake_llm()
    with serve_in_thread(app) as base, _backend(base) as backend:
        out = asyncio.run(golden_path(backend.url, "load0", PASSWORD, message="ping the model"))
    assert out.types == GOLDEN
    result = out.events[-1]["data"]["result"]
    assert "FAKE-LLM answer" in result and 'You said: "ping the model' in result
    assert seen[0]["body"]["model"] == "fake-1" and seen[0]["auth"] == "Bearer sk-local-test"


def test_provider_failure_is_an_error_event_not_a_dead_socket() -> None:
    app, _ = fake_llm(status=503)
    with serve_in_thread(app) as base, _backend(base) as backend:
        out = asyncio.run(golden_path(backend.url, "load0", PASSWORD, timeout_s=3))
    assert out.types[-1] == "error" and out.events[-1]["data"]["code"] == "agent_failed"
    assert out.close_code == 1000

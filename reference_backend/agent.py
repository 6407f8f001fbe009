"""The AI behind the golden path: a provider interface and two implementations.

``SimulatedModel`` is deterministic (seeded) with configurable latency per
phase, so load figures measure the platform. ``OpenAICompatibleModel`` talks
to any ``/v1/chat/completions`` endpoint.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from reference_backend.config import Settings

TOOLS = ("search_docs", "calculator", "weather_lookup", "ticket_lookup")


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    args: dict[str, Any]


class ModelProvider(Protocol):
    """What an execution engine needs from a model, one call per phase."""

    name: str

    async def think(self, message: str) -> str: ...

    async def choose_tool(self, message: str) -> ToolCall: ...

    async def run_tool(self, call: ToolCall) -> str: ...

    async def reply(self, message: str, tool_result: str) -> str: ...

    async def aclose(self) -> None: ...


class ProviderError(Exception):
    """The model provider failed to answer."""


class SimulatedModel:
    """Deterministic for a given seed and message; latency per phase in milliseconds."""

    name = "simulated"

    def __init__(
        self,
        *,
        seed: int = 0,
        think_ms: float = 0.0,
        tool_ms: float = 0.0,
        token_ms: float = 0.0,
        reply_tokens: int = 8,
    ) -> None:
        self.seed = seed
        self.think_ms = think_ms
        self.tool_ms = tool_ms
        self.token_ms = token_ms
        self.reply_tokens = reply_tokens

    def _pick(self, message: str, phase: str, n: int, k: int = 0) -> int:
        """A deterministic choice in ``range(n)`` for (seed, phase, message, k).

        A CRC of the key: as repeatable as seeding an RNG per call, at a fraction of
        its cost (seeding hashes the key with SHA-512), which every run paid 3 times.
        """
        return zlib.crc32(f"{self.seed}:{phase}:{k}:{message}".encode()) % n

    async def think(self, message: str) -> str:
        # The model's latency; with 0 ms it still yields, as any real call would.
        await asyncio.sleep(self.think_ms / 1000)
        words = len(message.split())
        return f"Reading a {words}-word message and picking a tool."

    async def choose_tool(self, message: str) -> ToolCall:
        name = TOOLS[self._pick(message, "tool", len(TOOLS))]
        return ToolCall(name=name, args={"query": message[:200]})

    async def run_tool(self, call: ToolCall) -> str:
        await asyncio.sleep(self.tool_ms / 1000)
        value = self._pick(str(call.args), "result", 1000)
        return f"{call.name} returned {value}"

    async def reply(self, message: str, tool_result: str) -> str:
        vocabulary = ("sure", "here", "is", "what", "I", "found", "for", "you", "today", "now")
        tokens: list[str] = []
        if not self.token_ms:
            await asyncio.sleep(0)  # the reply is one call's worth of latency: one yield
        for k in range(self.reply_tokens):
            if self.token_ms:
                await asyncio.sleep(self.token_ms / 1000)  # streamed: a token at a time
            tokens.append(vocabulary[self._pick(message, "reply", len(vocabulary), k)])
        # Quoting the message verbatim makes a misdelivered reply detectable.
        return f'You said: "{message}". {" ".join(tokens)} ({tool_result}).'

    async def aclose(self) -> None:
        return None


class OpenAICompatibleModel:
    """A model behind any OpenAI-compatible ``/chat/completions`` endpoint."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    async def _complete(self, system: str, user: str) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        try:
            resp = await self._client.post("/chat/completions", json=body)
            resp.raise_for_status()
            content = resp.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(f"model endpoint failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(content, str):
            raise ProviderError("model endpoint returned no text content")
        return content

    async def think(self, message: str) -> str:
        return "Sending the message to the model."

    async def choose_tool(self, message: str) -> ToolCall:
        return ToolCall(name="chat_completion", args={"model": self.model})

    async def run_tool(self, call: ToolCall) -> str:
        return f"{call.name} via {self.model}"

    async def reply(self, message: str, tool_result: str) -> str:
        answer = await self._complete("You are a helpful assistant.", message)
        # The reply quotes the message, as the simulated one does, so the
        # harness can detect a reply delivered to the wrong user.
        return f'You said: "{message}". {answer}'

    async def aclose(self) -> None:
        await self._client.aclose()


def build_model(settings: Settings) -> ModelProvider:
    """The provider the settings name."""
    if settings.agent_provider == "openai":
        return OpenAICompatibleModel(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            timeout_s=settings.openai_timeout_s,
        )
    return SimulatedModel(
        seed=settings.agent_seed,
        think_ms=settings.agent_think_ms,
        tool_ms=settings.agent_tool_ms,
        token_ms=settings.agent_token_ms,
        reply_tokens=settings.agent_reply_tokens,
    )

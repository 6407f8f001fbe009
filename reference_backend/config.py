"""One typed settings object, read from ``GOLDENPATH_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me-0123456789"  # noqa: S105 - refused outside dev, see below

FactoryMode = Literal["canonical", "legacy"]


class Settings(BaseSettings):
    """Backend configuration; CLI flags override the environment."""

    model_config = SettingsConfigDict(env_prefix="GOLDENPATH_", extra="ignore")

    environment: Literal["dev", "test", "prod"] = "dev"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    factory_mode: FactoryMode = "canonical"

    secret_key: str = DEV_SECRET
    jwt_issuer: str = "goldenpath-reference-backend"
    jwt_audience: str = "goldenpath"
    token_ttl_s: int = Field(default=3600, gt=0)

    database_url: str = "sqlite:///goldenpath.db"
    # scrypt cost as log2(N): 14 is the safe default; load-test users may use less
    # so a run measures the platform, not password hashing.
    kdf_log2_n: int = Field(default=14, ge=1, le=20)

    agent_provider: Literal["simulated", "openai"] = "simulated"
    agent_seed: int = 0
    agent_think_ms: float = Field(default=0.0, ge=0)
    agent_tool_ms: float = Field(default=0.0, ge=0)
    agent_token_ms: float = Field(default=0.0, ge=0)
    agent_reply_tokens: int = Field(default=8, ge=1, le=4096)
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_api_key: str = ""
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = Field(default=30.0, gt=0)

    max_engines_per_user: int = Field(default=8, ge=1)
    engine_idle_timeout_s: float = Field(default=300.0, gt=0)
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=256)
    # Floods: at most this many runs in flight per socket. At the limit the server
    # stops reading that socket until a run ends; frames then wait in uvicorn's
    # queue (ws_max_queue frames) and beyond it in TCP, so the client's sends block.
    # Memory per socket stays under ws_max_queue * ws_max_message_bytes (1 MiB).
    ws_max_inflight_runs: int = Field(default=4, ge=1)
    ws_max_queue: int = Field(default=16, ge=1)
    # uvicorn pings every socket; one that does not answer in time is dropped
    # (half-open clients: a peer that vanished without a FIN).
    ws_ping_interval_s: float = Field(default=20.0, gt=0)
    ws_ping_timeout_s: float = Field(default=20.0, gt=0)
    # A send that cannot finish in time closes that socket (a client that stopped reading).
    ws_send_timeout_s: float = Field(default=10.0, gt=0)
    # Failed logins per sliding window, per username and per client address.
    login_max_failures_per_user: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=100, ge=1)
    login_failure_window_s: float = Field(default=60.0, gt=0)
    # Proxies whose X-Forwarded-For is believed (comma-separated IPs/CIDRs, "*" for
    # any). Empty: the socket's peer is the client. uvicorn's default trusts
    # 127.0.0.1, which let any local client pick the address the login limit sees.
    trusted_proxies: str = ""
    # Scale-out across workers and hosts: events through Redis pub/sub, one channel per user,
    # and the failed-login limits in Redis. None: one process, the in-memory bridge.
    redis_url: str | None = None
    redis_prefix: str = "goldenpath"
    shutdown_grace_s: float = Field(default=5.0, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # One line per request: useful by hand, megabytes per minute under load.
    access_log: bool = True

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        if not url:
            return None
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"redis_url {url!r}: expected redis://host:port[/db]")
        return url

    @field_validator("database_url")
    @classmethod
    def _sqlite_only(cls, url: str) -> str:
        sqlite_path(url)  # raises ValueError naming the URL
        return url

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Settings:
        # The template's rule: a known secret is fine on a laptop, never in a deployment.
        if self.environment != "dev" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "GOLDENPATH_SECRET_KEY must be set to a real secret outside environment=dev"
            )
        if self.workers > 1 and sqlite_path(self.database_url) is None:
            raise ValueError("an in-memory database cannot be shared by several workers")
        return self


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL, or None for an in-memory database.

    Raises ValueError for anything that is not a SQLite URL.
    """
    if url in {"sqlite://", "sqlite:///:memory:", ":memory:"}:
        return None
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or sqlite://")
    return Path(url[len(prefix) :])

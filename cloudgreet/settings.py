"""Every setting of every CloudGreet process, read from the environment (or a `.env` file).

The API, the worker, the simulator and the CLI all read this one class, so a process
started by hand against any Temporal server, database, Telnyx or OpenAI endpoint behaves
like the one `cloudgreet dev` starts.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Telnyx: the SDK appends paths such as /calls/{id}/actions/speak, so the base URL carries /v2.
    telnyx_api_key: str | None = Field(default=None, alias="TELNYX_API_KEY")
    telnyx_public_key: str | None = Field(default=None, alias="TELNYX_PUBLIC_KEY")
    telnyx_base_url: str = Field(default="https://api.telnyx.com/v2", alias="TELNYX_BASE_URL")
    telnyx_connection_id: str | None = Field(default=None, alias="TELNYX_CONNECTION_ID")

    # OpenAI or any server that speaks its chat completions protocol.
    openai_api_key: str | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str = Field(default="https://api.openai.com/v1", alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", alias="OPENAI_MODEL")

    temporal_address: str = Field(default="localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_task_queue: str = Field(default="cloudgreet-calls", alias="TEMPORAL_TASK_QUEUE")
    temporal_ui_url: str = Field(default="http://localhost:8233", alias="TEMPORAL_UI_URL")

    database_url: str = Field(default=f"sqlite:///{DATA_DIR / 'cloudgreet.db'}", alias="DATABASE_URL")

    # Webhook bodies from Telnyx are a few kilobytes; anything far larger is not Telnyx.
    webhook_max_body_bytes: int = Field(default=64 * 1024, alias="WEBHOOK_MAX_BODY_BYTES", gt=0)
    # One attempt of the LLM must produce its first sentence within this, or it is retried.
    llm_first_sentence_timeout_seconds: float = Field(default=2.0, alias="LLM_FIRST_SENTENCE_TIMEOUT_SECONDS", gt=0)
    # All attempts of the LLM at one caller turn; past it the offline responder answers the turn.
    turn_deadline_seconds: float = Field(default=7.0, alias="TURN_DEADLINE_SECONDS", gt=0)
    # How long an on-call number rings before the next one is tried.
    transfer_ring_seconds: int = Field(default=20, alias="TRANSFER_RING_SECONDS", gt=0, le=120)
    callback_max_attempts: int = Field(default=3, alias="CALLBACK_MAX_ATTEMPTS", ge=1, le=10)
    callback_retry_minutes: float = Field(default=30, alias="CALLBACK_RETRY_MINUTES", gt=0)
    log_format: str = Field(default="console", alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    # Operations (issue 5): the admin pages and API, health checks, metrics, cost estimates.
    admin_api_key: SecretStr | None = Field(default=None, alias="ADMIN_API_KEY")
    health_check_timeout_seconds: float = Field(default=2.0, alias="HEALTH_CHECK_TIMEOUT_SECONDS", gt=0, le=30)
    # The worker serves Prometheus metrics (its own and the Temporal SDK's) on this port; unset: none.
    metrics_port: int | None = Field(default=None, alias="METRICS_PORT", ge=1, le=65535)
    telnyx_price_per_minute_usd: float = Field(default=0.01, alias="TELNYX_PRICE_PER_MINUTE_USD", ge=0)
    llm_price_per_million_prompt_tokens_usd: float = Field(
        default=0.15, alias="LLM_PRICE_PER_MILLION_PROMPT_TOKENS_USD", ge=0
    )
    llm_price_per_million_completion_tokens_usd: float = Field(
        default=0.60, alias="LLM_PRICE_PER_MILLION_COMPLETION_TOKENS_USD", ge=0
    )

    # The browser path (issue 4): Realtime sessions for /demo and /test-agent-simple.
    realtime_model: str = Field(default="gpt-realtime-1.5", alias="REALTIME_MODEL", min_length=1)
    # Used when the business's voice is not one of OpenAI's ("female", "male" or a Telnyx voice).
    realtime_voice: str = Field(default="marin", alias="REALTIME_VOICE", min_length=1)
    realtime_transcription_model: str = Field(
        default="gpt-4o-mini-transcribe", alias="REALTIME_TRANSCRIPTION_MODEL", min_length=1
    )
    # The client secret expires then, and the page hangs up then: a demo costs money per minute.
    realtime_max_session_seconds: int = Field(default=300, alias="REALTIME_MAX_SESSION_SECONDS", ge=10, le=7200)
    # Comma-separated origins (https://example.com) whose pages may ask for sessions besides the
    # API's own pages; "*" allows any.
    realtime_allowed_origins: str | None = Field(default=None, alias="REALTIME_ALLOWED_ORIGINS")
    realtime_sessions_per_client: int = Field(default=10, alias="REALTIME_SESSIONS_PER_CLIENT", ge=1)
    realtime_sessions_per_business: int = Field(default=60, alias="REALTIME_SESSIONS_PER_BUSINESS", ge=1)
    realtime_rate_window_seconds: float = Field(default=3600, alias="REALTIME_RATE_WINDOW_SECONDS", gt=0)

    @field_validator("database_url")
    @classmethod
    def _psycopg3_driver(cls, url: str) -> str:
        # Plain postgres URLs would make SQLAlchemy look for psycopg2; this project ships psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @field_validator("telnyx_public_key")
    @classmethod
    def _ed25519_public_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError("TELNYX_PUBLIC_KEY must be base64 (copy it from the Telnyx portal)") from None
        if len(raw) != 32:
            raise ValueError(f"TELNYX_PUBLIC_KEY must decode to 32 bytes (an Ed25519 key), not {len(raw)}")
        return value

    @field_validator("admin_api_key", mode="before")
    @classmethod
    def _long_admin_key(cls, value: object) -> object:
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(raw) < 16:
            # The key guards every business's calls and configuration: no short passwords.
            raise ValueError(f"ADMIN_API_KEY must be at least 16 characters, not {len(raw)} (try: openssl rand -hex 24)")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("console", "json"):
            raise ValueError("LOG_FORMAT must be 'console' or 'json'")
        return value

    @field_validator("telnyx_base_url", "openai_base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.rstrip("/")

    @field_validator("realtime_allowed_origins")
    @classmethod
    def _origin_list(cls, value: str | None) -> str | None:
        for origin in (o.strip() for o in (value or "").split(",")):
            if origin and origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"REALTIME_ALLOWED_ORIGINS: {origin!r} is not an origin such as https://example.com")
        return value

    @property
    def realtime_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in (self.realtime_allowed_origins or "").split(",") if o.strip())

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key)


@lru_cache
def get_settings() -> Settings:
    return Settings()

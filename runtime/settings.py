"""Every setting of every CloudGreet process, read from the environment (or a `.env` file).

The API, the worker, the simulator and the CLI all read this one class, so a process
started by hand against any Temporal server, database, Telnyx or OpenAI endpoint behaves
like the one `cloudgreet dev` starts.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.realtime_sip import realtime_sip_uri

DATA_DIR = Path("data")
SECRET_KEY_MIN_LENGTH = 32
# Words of the values people paste from examples ("change-me", "your-secret-key-here"), never of a generated key.
# An OpenAI project id, as its settings show it: the user part of the project's SIP URI.
OPENAI_PROJECT_ID = re.compile(r"proj_[A-Za-z0-9]{3,64}")
PLACEHOLDER_WORDS = ("change", "example", "default", "secret", "placeholder", "insecure", "password")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused SECRET_KEY or API key is not printed in the error that refuses it.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True, hide_input_in_errors=True)

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
    # Temporal Cloud or a cluster with TLS. The names are the Temporal CLI's and SDKs' own (`temporal
    # options`), so one set of variables serves `temporal` and CloudGreet alike. Files, not contents:
    # they come from mounted secrets, and a rotated certificate is read at the next connection.
    temporal_api_key: SecretStr | None = Field(default=None, alias="TEMPORAL_API_KEY")
    temporal_tls: bool | None = Field(default=None, alias="TEMPORAL_TLS")
    # The Temporal CLI's names, so one .env serves `temporal` and CloudGreet; the short names are accepted too.
    temporal_tls_client_cert_path: Path | None = Field(
        default=None,
        alias="TEMPORAL_TLS_CLIENT_CERT_PATH",
        validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CERT"),
    )
    temporal_tls_client_key_path: Path | None = Field(
        default=None,
        alias="TEMPORAL_TLS_CLIENT_KEY_PATH",
        validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_KEY"),
    )
    temporal_tls_server_ca_cert_path: Path | None = Field(default=None, alias="TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    temporal_tls_server_name: str | None = Field(default=None, alias="TEMPORAL_TLS_SERVER_NAME")

    database_url: str = Field(default=f"sqlite:///{DATA_DIR / 'cloudgreet.db'}", alias="DATABASE_URL")
    # Every database call is bounded (database/engine.py), so a database that hangs costs a request
    # seconds and a clear 503, never a thread of the API for good. PostgreSQL's libpq counts whole
    # seconds and waits at least 2.
    database_connect_timeout_seconds: int = Field(default=5, alias="DATABASE_CONNECT_TIMEOUT_SECONDS", ge=2, le=300)
    # PostgreSQL's statement_timeout (lock waits included); SQLite's busy timeout (the wait for a lock).
    database_statement_timeout_seconds: float = Field(
        default=10.0, alias="DATABASE_STATEMENT_TIMEOUT_SECONDS", gt=0, le=3600
    )
    # How long a request waits for a free connection of the pool.
    database_pool_timeout_seconds: float = Field(default=5.0, alias="DATABASE_POOL_TIMEOUT_SECONDS", gt=0, le=300)
    # How often a worker reads every business again, so a database outage finds it with recent
    # configurations (activities/business_directory.py).
    business_refresh_seconds: float = Field(default=60.0, alias="BUSINESS_REFRESH_SECONDS", gt=0, le=86400)
    # How often each linked calendar (CalDAV) is synced by its Temporal schedule (activities/calendar_schedules.py).
    calendar_sync_seconds: float = Field(default=120.0, alias="CALENDAR_SYNC_SECONDS", ge=1, le=86400)

    # The last rung (issue 10, README "Reliability"): a call that has rung this long without Temporal
    # taking it is answered by the API itself, which promises a call-back.
    last_rung_grace_seconds: float = Field(default=5.0, alias="LAST_RUNG_GRACE_SECONDS", gt=0, le=60)
    # How long one webhook waits for Temporal to take its event; then 503, and Telnyx redelivers.
    # The SDK alone would retry an unreachable server for up to ten seconds.
    temporal_delivery_timeout_seconds: float = Field(
        default=2.0, alias="TEMPORAL_DELIVERY_TIMEOUT_SECONDS", gt=0, le=30
    )
    # The API's own durable outbox of those promises and its cache of business names: a directory on
    # a disk that survives a restart of the API, one per replica (or shared by a replica's processes).
    last_rung_dir: Path = Field(default=DATA_DIR / "last-rung", alias="LAST_RUNG_DIR")

    # Webhook bodies from Telnyx are a few kilobytes; anything far larger is not Telnyx.
    webhook_max_body_bytes: int = Field(default=64 * 1024, alias="WEBHOOK_MAX_BODY_BYTES", gt=0)
    # One attempt of the LLM must produce its first sentence within this, or it is retried.
    llm_first_sentence_timeout_seconds: float = Field(default=2.0, alias="LLM_FIRST_SENTENCE_TIMEOUT_SECONDS", gt=0)
    # A phone call's run continues as new once its history has this many events (README "Reliability");
    # unset, when the Temporal server suggests it. Tests set a small one to see long calls switch runs.
    call_history_event_limit: int | None = Field(default=None, alias="CALL_HISTORY_EVENT_LIMIT", ge=100)
    # Off by default: a held call.speak.ended is acknowledged to Telnyx before it is signalled, so an API
    # killed in those 0.1 s loses it (api/held_events.py). On: one signal per sentence fewer, for that risk.
    hold_playback_events: bool = Field(default=False, alias="HOLD_PLAYBACK_EVENTS")
    # The worker's way to the API that receives Telnyx's webhooks: a phone reply then completes once the
    # caller heard it, and its speech events are not signalled to the call (api/reply_windows.py).
    # Unset: every speech event is a signal, as before. With several API replicas, a call's webhooks and
    # this URL must reach the same one (README "Replies that follow their playback").
    api_internal_url: str | None = Field(default=None, alias="API_INTERNAL_URL")
    # All attempts of the LLM at one caller turn; past it the offline responder answers the turn.
    turn_deadline_seconds: float = Field(default=7.0, alias="TURN_DEADLINE_SECONDS", gt=0)
    # The worker's memory of a failing LLM (activities/llm_circuit.py): after this many failed attempts in
    # a row, replies skip the LLM for this long, then one reply tries it again.
    llm_circuit_failures: int = Field(default=3, alias="LLM_CIRCUIT_FAILURES", ge=1, le=100)
    llm_circuit_open_seconds: float = Field(default=30.0, alias="LLM_CIRCUIT_OPEN_SECONDS", gt=0, le=3600)
    # How long an on-call number rings before the next one is tried.
    transfer_ring_seconds: int = Field(default=20, alias="TRANSFER_RING_SECONDS", gt=0, le=120)
    callback_max_attempts: int = Field(default=3, alias="CALLBACK_MAX_ATTEMPTS", ge=1, le=10)
    callback_retry_minutes: float = Field(default=30, alias="CALLBACK_RETRY_MINUTES", gt=0)
    # Every call-back dials the caller from the business's line: caps so that no call, caller or
    # business can make it ring a number again and again. A business may lower them in its configuration.
    callbacks_per_call: int = Field(default=2, alias="CALLBACKS_PER_CALL", ge=0)
    callbacks_per_caller_per_day: int = Field(default=3, alias="CALLBACKS_PER_CALLER_PER_DAY", ge=0)
    callbacks_per_business_per_hour: int = Field(default=20, alias="CALLBACKS_PER_BUSINESS_PER_HOUR", ge=0)
    log_format: str = Field(default="console", alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    # Operations (issue 5): the admin pages and API, health checks, metrics, cost estimates.
    admin_api_key: SecretStr | None = Field(default=None, alias="ADMIN_API_KEY")
    # Signs every token the project issues (admin sessions, Realtime tools tokens), each purpose with a
    # salt of its own (runtime/signing.py). Unset: nothing is signed, so the admin side and the browser
    # demo's sessions are off, while calls are answered as ever.
    secret_key: SecretStr | None = Field(default=None, alias="SECRET_KEY")
    health_check_timeout_seconds: float = Field(default=2.0, alias="HEALTH_CHECK_TIMEOUT_SECONDS", gt=0, le=30)
    # Anonymous /api/health requests share one result this old at most, so they cannot make the server
    # call Telnyx and OpenAI with its keys on every hit.
    health_cache_seconds: float = Field(default=5.0, alias="HEALTH_CACHE_SECONDS", gt=0, le=300)
    # Traces (runtime/tracing.py), by OpenTelemetry's own names: otlp (to OTEL_EXPORTER_OTLP_ENDPOINT,
    # OTLP over HTTP), console (one line per span, `cloudgreet dev --traces`) or none; unset: none,
    # unless an endpoint is given.
    otel_traces_exporter: Literal["otlp", "console", "none"] | None = Field(default=None, alias="OTEL_TRACES_EXPORTER")
    otel_exporter_otlp_endpoint: str | None = Field(default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_service_name: str | None = Field(default=None, alias="OTEL_SERVICE_NAME")
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
    # Verifies OpenAI's signed webhooks (the project's webhook secret, whsec_...): a phone line in
    # Realtime-SIP mode is announced by `realtime.call.incoming` at POST /api/openai/webhooks.
    openai_webhook_secret: SecretStr | None = Field(default=None, alias="OPENAI_WEBHOOK_SECRET")
    # The OpenAI project (proj_..., its settings' General page) whose SIP URI a Realtime-mode line's calls are
    # transferred to by the worker when they reach our Call Control application; unset, they get Telnyx speech.
    openai_project_id: str | None = Field(default=None, alias="OPENAI_PROJECT_ID")
    # What a Realtime-SIP call's model costs (the call's estimated cost): gpt-realtime's list prices when
    # written, per million tokens; check https://openai.com/api/pricing/ for the model you use.
    realtime_price_per_million_audio_input_tokens_usd: float = Field(
        default=32.0, alias="REALTIME_PRICE_PER_MILLION_AUDIO_INPUT_TOKENS_USD", ge=0
    )
    realtime_price_per_million_audio_output_tokens_usd: float = Field(
        default=64.0, alias="REALTIME_PRICE_PER_MILLION_AUDIO_OUTPUT_TOKENS_USD", ge=0
    )
    realtime_price_per_million_text_input_tokens_usd: float = Field(
        default=4.0, alias="REALTIME_PRICE_PER_MILLION_TEXT_INPUT_TOKENS_USD", ge=0
    )
    realtime_price_per_million_text_output_tokens_usd: float = Field(
        default=16.0, alias="REALTIME_PRICE_PER_MILLION_TEXT_OUTPUT_TOKENS_USD", ge=0
    )
    realtime_model: str = Field(default="gpt-realtime-1.5", alias="REALTIME_MODEL", min_length=1)
    # Used when the business's voice is not one of OpenAI's ("female", "male" or a Telnyx voice).
    realtime_voice: str = Field(default="marin", alias="REALTIME_VOICE", min_length=1)
    realtime_transcription_model: str = Field(
        default="gpt-4o-mini-transcribe", alias="REALTIME_TRANSCRIPTION_MODEL", min_length=1
    )
    # Then the server has the agent say goodbye and hangs up (calls.hangup): a demo costs money per minute.
    realtime_max_session_seconds: int = Field(default=300, alias="REALTIME_MAX_SESSION_SECONDS", ge=2, le=7200)
    # Realtime minutes a day (UTC), counted in the database so every API replica shares them. A session
    # reserves its whole cap when it starts and gives back what it did not use when it ends.
    realtime_minutes_per_business_per_day: float = Field(
        default=60, alias="REALTIME_MINUTES_PER_BUSINESS_PER_DAY", ge=0
    )
    realtime_minutes_per_day: float = Field(default=300, alias="REALTIME_MINUTES_PER_DAY", ge=0)
    # Comma-separated origins (https://example.com) whose pages may ask for sessions besides the
    # API's own pages; "*" allows any.
    realtime_allowed_origins: str | None = Field(default=None, alias="REALTIME_ALLOWED_ORIGINS")
    realtime_sessions_per_client: int = Field(default=10, alias="REALTIME_SESSIONS_PER_CLIENT", ge=1)
    realtime_sessions_per_business: int = Field(default=60, alias="REALTIME_SESSIONS_PER_BUSINESS", ge=1)
    realtime_rate_window_seconds: float = Field(default=3600, alias="REALTIME_RATE_WINDOW_SECONDS", gt=0)

    # The web channel (/api/web-calls): anonymous visitors typing to the phone brain, on the LLM's bill.
    web_conversations_per_business_per_hour: int = Field(
        default=60, alias="WEB_CONVERSATIONS_PER_BUSINESS_PER_HOUR", ge=1
    )
    # A conversation ends politely at either cap.
    web_conversation_max_turns: int = Field(default=30, alias="WEB_CONVERSATION_MAX_TURNS", ge=1, le=1000)
    web_conversation_max_minutes: float = Field(default=15, alias="WEB_CONVERSATION_MAX_MINUTES", gt=0, le=24 * 60)
    # A booking made in a demo or test session (browser demo, web channel) is a sandbox that expires after this.
    demo_booking_hours: float = Field(default=24, alias="DEMO_BOOKING_HOURS", gt=0, le=24 * 30)

    # "Call me" (the browser demo's phone fallback): the business's line dials a visitor's number, so
    # only numbers of these country calling codes (comma-separated, e.g. "1,44"), and only so often.
    call_me_country_codes: str = Field(default="1", alias="CALL_ME_COUNTRY_CODES")
    call_me_per_number: int = Field(default=2, alias="CALL_ME_PER_NUMBER", ge=1)
    call_me_per_client: int = Field(default=5, alias="CALL_ME_PER_CLIENT", ge=1)
    call_me_per_business: int = Field(default=30, alias="CALL_ME_PER_BUSINESS", ge=1)
    call_me_window_seconds: float = Field(default=3600, alias="CALL_ME_WINDOW_SECONDS", gt=0)
    call_me_ring_seconds: int = Field(default=30, alias="CALL_ME_RING_SECONDS", ge=5, le=120)

    @field_validator("database_url")
    @classmethod
    def _psycopg3_driver(cls, url: str) -> str:
        # Plain postgres URLs would make SQLAlchemy look for psycopg2; this project ships psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
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
            raise ValueError(
                f"ADMIN_API_KEY must be at least 16 characters, not {len(raw)} (try: openssl rand -hex 24)"
            )
        return value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _strong_secret_key(cls, value: object) -> object:
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        advice = "generate one: openssl rand -hex 32"
        if len(raw) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(
                f"SECRET_KEY must be at least {SECRET_KEY_MIN_LENGTH} characters, not {len(raw)} ({advice})"
            )
        if word := next((w for w in PLACEHOLDER_WORDS if w in raw.lower()), None):
            raise ValueError(f"SECRET_KEY looks like a placeholder (it contains {word!r}); {advice}")
        if len(set(raw)) < 10:
            raise ValueError(f"SECRET_KEY repeats a few characters ({len(set(raw))} different ones); {advice}")
        return value

    @field_validator("openai_webhook_secret", mode="before")
    @classmethod
    def _real_webhook_secret(cls, value: object) -> object:
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        advice = "copy it from the webhook's page in the OpenAI project settings (whsec_...)"
        if not raw.startswith("whsec_") or len(raw) < 30:
            raise ValueError(f"OPENAI_WEBHOOK_SECRET must be the project's webhook secret; {advice}")
        if word := next((w for w in PLACEHOLDER_WORDS if w in raw[6:].lower()), None):
            raise ValueError(f"OPENAI_WEBHOOK_SECRET looks like a placeholder (it contains {word!r}); {advice}")
        return value

    @field_validator("openai_project_id", mode="before")
    @classmethod
    def _project_id(cls, value: object) -> object:
        if value is None or value == "":
            return None
        advice = "copy it from the OpenAI project's settings, General page (proj_ and letters or digits)"
        if not isinstance(value, str) or not OPENAI_PROJECT_ID.fullmatch(value):
            raise ValueError(f"OPENAI_PROJECT_ID must be a project id; {advice}")
        if word := next((w for w in PLACEHOLDER_WORDS if w in value[5:].lower()), None):
            raise ValueError(f"OPENAI_PROJECT_ID looks like a placeholder (it contains {word!r}); {advice}")
        return value

    @property
    def realtime_sip_uri(self) -> str | None:
        """Where the worker transfers a Realtime-mode line's calls; None without a project id."""
        return realtime_sip_uri(self.openai_project_id) if self.openai_project_id else None

    @model_validator(mode="after")
    def _secret_key_is_nobody_elses(self) -> Settings:
        # A provider's key is known to the provider and sent on every request to it; the admin key is
        # typed by people. A token signed with one of those is only as safe as the weakest place it is.
        if self.secret_key is None:
            return self
        secret = self.secret_key.get_secret_value()
        others = {
            "ADMIN_API_KEY": self.admin_api_key.get_secret_value() if self.admin_api_key else None,
            "TELNYX_API_KEY": self.telnyx_api_key,
            "OPENAI_API_KEY": self.openai_api_key,
        }
        if same := [name for name, value in others.items() if value == secret]:
            raise ValueError(f"SECRET_KEY must be a key of its own, not the value of {', '.join(same)}")
        return self

    @field_validator(
        "temporal_api_key",
        "temporal_tls",
        "temporal_tls_client_cert_path",
        "temporal_tls_client_key_path",
        "temporal_tls_server_ca_cert_path",
        "temporal_tls_server_name",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # As in .env.example: present but not filled in.
        return None if value == "" else value

    @field_validator(
        "temporal_tls_client_cert_path", "temporal_tls_client_key_path", "temporal_tls_server_ca_cert_path"
    )
    @classmethod
    def _readable_file(cls, path: Path | None) -> Path | None:
        if path is not None:
            _read_pem(path)
        return path

    @model_validator(mode="after")
    def _temporal_tls_files_that_work_together(self) -> Settings:
        cert, key, ca = (
            self.temporal_tls_client_cert_path,
            self.temporal_tls_client_key_path,
            self.temporal_tls_server_ca_cert_path,
        )
        if (cert is None) != (key is None):
            given, missing = ("CERT", "KEY") if key is None else ("KEY", "CERT")
            raise ValueError(
                f"TEMPORAL_TLS_CLIENT_{given}_PATH is set but TEMPORAL_TLS_CLIENT_{missing}_PATH is not: "
                "a client certificate (mTLS) needs both the certificate and its private key"
            )
        if self.temporal_tls is False:
            contradicting = [
                name
                for name, value in (
                    ("TEMPORAL_TLS_CLIENT_CERT_PATH", cert),
                    ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", ca),
                    ("TEMPORAL_TLS_SERVER_NAME", self.temporal_tls_server_name),
                )
                if value is not None
            ]
            if contradicting:
                raise ValueError(
                    f"TEMPORAL_TLS is false, but TLS settings are given too ({', '.join(contradicting)}): "
                    "unset one or the other"
                )
        if ca is not None:
            _check_certificates(ca, "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
        if cert is not None and key is not None:
            _check_client_certificate(cert, key)
        return self

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

    @field_validator("call_me_country_codes")
    @classmethod
    def _calling_codes(cls, value: str) -> str:
        import phonenumbers  # here, not at the top: every process reads settings, few check numbers

        for code in (c.strip().lstrip("+") for c in value.split(",")):
            if code and not (code.isdigit() and phonenumbers.region_codes_for_country_code(int(code))):
                raise ValueError(f"CALL_ME_COUNTRY_CODES: {code!r} is not a country calling code such as 1 or 44")
        return value

    @property
    def call_me_regions(self) -> list[str]:
        """The countries (ISO codes) of CALL_ME_COUNTRY_CODES, main country first: what "call me" dials."""
        import phonenumbers

        codes = [int(c.strip().lstrip("+")) for c in self.call_me_country_codes.split(",") if c.strip()]
        return [str(region) for code in codes for region in phonenumbers.region_codes_for_country_code(code)]

    @property
    def realtime_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in (self.realtime_allowed_origins or "").split(",") if o.strip())

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key)

    @property
    def temporal_uses_tls(self) -> bool:
        """TEMPORAL_TLS if given; otherwise on as soon as anything TLS-only is set (as in the Temporal CLI)."""
        if self.temporal_tls is not None:
            return self.temporal_tls
        return any(
            value is not None
            for value in (
                self.temporal_api_key,
                self.temporal_tls_client_cert_path,
                self.temporal_tls_server_ca_cert_path,
                self.temporal_tls_server_name,
            )
        )


# The settings that take the Temporal connection off plain gRPC (`cloudgreet dev` clears them for its dev server).
TEMPORAL_TLS_VARIABLES = tuple(
    field.alias
    for name, field in Settings.model_fields.items()
    if field.alias and (name == "temporal_api_key" or name.startswith("temporal_tls"))
)


def _read_pem(path: Path) -> str:
    """The file's text, or an error a person can act on (the SDK would only say "PEM lib" or worse)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory; give the path of the PEM file in it") from None
    except PermissionError:
        # The classic container mistake: a secret mounted readable by root only.
        raise ValueError(f"{path} cannot be read by this process (uid {os.getuid()}): permission denied") from None
    if "-----BEGIN " not in text:
        raise ValueError(f"{path} is not a PEM file (no '-----BEGIN' line); convert it with openssl first")
    return text


def _check_certificates(path: Path, variable: str) -> None:
    try:
        ssl.create_default_context(cadata=_read_pem(path))
    except ssl.SSLError as error:
        raise ValueError(f"{variable}: {path} holds no usable PEM certificate ({error.reason or error})") from None


def _check_client_certificate(cert: Path, key: Path) -> None:
    _check_certificates(cert, "TEMPORAL_TLS_CLIENT_CERT_PATH")
    key_text = _read_pem(key)
    if "ENCRYPTED" in key_text:
        raise ValueError(f"TEMPORAL_TLS_CLIENT_KEY_PATH: {key} is encrypted; give the key without a passphrase")
    if "PRIVATE KEY-----" not in key_text:
        raise ValueError(f"TEMPORAL_TLS_CLIENT_KEY_PATH: {key} holds no PEM private key (are cert and key swapped?)")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key)
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise ValueError(
                f"TEMPORAL_TLS_CLIENT_KEY_PATH: {key} is not the private key of the certificate {cert}"
            ) from None
        raise ValueError(
            f"TEMPORAL_TLS_CLIENT_KEY_PATH: {key} cannot be used with {cert} ({error.reason or error})"
        ) from None


@lru_cache
def get_settings() -> Settings:
    return Settings()

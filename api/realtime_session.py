"""`POST /api/ai/realtime-session`: a short-lived OpenAI Realtime session for a business, for the browser.

The API asks OpenAI (or whatever `OPENAI_BASE_URL` points at) for an ephemeral client secret
with the real `openai` SDK; the page then talks to the Realtime API by WebRTC, posting its SDP
offer to `sdp_url` with that secret. The session's instructions, voice, language and tools come
from the same business configuration, the same instruction builder and the same tool list as
the phone path, so the demo behaves like the phone agent. Tools are executed by the project
(`api/realtime_tools.py`), never by the browser: the answer carries a signed `tools_token` that
the page sends with every function call.

A session costs money per minute, so it is guarded: an allow-list of origins, sliding-window
rate limits per client address and per business, and a cap on its length (the secret expires
then and the page hangs up then).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import urlsplit

import openai
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.call_records import opening_words
from api.dependencies import SessionDep, SettingsDep
from business.config import BusinessConfig
from business.instructions import build_instructions
from business.opening_hours import is_open
from cloudgreet.settings import Settings
from database.models import Business
from receptionist.tools import realtime_tools

router = APIRouter(prefix="/api/ai", tags=["browser demo"])

# The built-in voices of OpenAI's Realtime API.
REALTIME_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
# The business configuration speaks of voices the phone way; these are their Realtime counterparts.
VOICE_FOR_GENDER = {"male": "cedar", "man": "cedar"}
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
# What OpenAI may take to create a secret: the page's whole connection attempt waits on it.
OPENAI_TIMEOUT_SECONDS = 15.0
TOOLS_TOKEN_SALT = "cloudgreet-realtime-tools"


# --- protection ----------------------------------------------------------------------------------


class SlidingWindowLimiter:
    """At most `limit` hits per key within the last `window` seconds; in memory, per API process.

    A deque of hit times per key: exact (no fixed-window burst at the boundary), and small enough
    here (a few dozen entries per key) that a library would add a dependency and little else.
    Keys whose hits have all aged out are dropped, so memory follows the active clients only.
    """

    def __init__(self, window_seconds: float, clock: Any = time.monotonic) -> None:
        self._window = window_seconds
        self._clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        return hits

    def try_hit(self, limits: list[tuple[tuple[str, str], int]]) -> float | None:
        """Counts one hit against every key if all have room; else the seconds until the fullest has room."""
        with self._lock:
            now = self._clock()
            self._sweep(now)
            wait = 0.0
            for key, limit in limits:
                hits = self._recent(key, now)
                if len(hits) >= limit:
                    wait = max(wait, hits[len(hits) - limit] + self._window - now)
            if wait > 0:
                return wait
            for key, _ in limits:
                self._hits.setdefault(key, deque()).append(now)
            return None

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self._window:
            return
        self._last_sweep = now
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self._window]:
            del self._hits[key]


def rate_limiter(request: Request) -> SlidingWindowLimiter:
    limiter = getattr(request.app.state, "realtime_limiter", None)
    if limiter is None:
        settings: Settings = request.app.state.settings
        limiter = request.app.state.realtime_limiter = SlidingWindowLimiter(settings.realtime_rate_window_seconds)
    return limiter


def client_address(request: Request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers / FORWARDED_ALLOW_IPS make this the visitor's address.
    return request.client.host if request.client else "unknown"


def origin_allowed(request: Request, settings: Settings) -> tuple[bool, str | None]:
    """(allowed, the origin to echo in CORS headers when it is another site we allow)."""
    origin = request.headers.get("origin")
    if origin is None:
        return False, None
    origin = origin.rstrip("/")
    if origin != "null" and urlsplit(origin).netloc == request.headers.get("host"):
        return True, None  # the API's own pages (/demo, /test-agent-simple)
    allowed = settings.realtime_origins
    if "*" in allowed or origin in allowed:
        return True, origin
    return False, None


def require_allowed_origin(request: Request, response: Response, settings: SettingsDep) -> None:
    """Only pages of allowed sites open sessions (a browser always sends Origin with a POST)."""
    allowed, echo = origin_allowed(request, settings)
    if not allowed:
        origin = request.headers.get("origin")
        detail = (
            "a browser demo session needs an Origin header (only web pages open sessions)"
            if origin is None
            else f"origin {origin} may not open demo sessions; add it to REALTIME_ALLOWED_ORIGINS"
        )
        raise HTTPException(403, detail)
    if echo:
        response.headers["Access-Control-Allow-Origin"] = echo
        response.headers["Vary"] = "Origin"


AllowedOrigin = Depends(require_allowed_origin)


def preflight(request: Request, settings: Settings) -> Response:
    """CORS preflight for pages of other allowed sites (their POST carries a JSON body)."""
    allowed, echo = origin_allowed(request, settings)
    if not allowed:
        return Response(status_code=403, content="origin not allowed")
    headers = {"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": "600"}
    if echo:
        headers |= {"Access-Control-Allow-Origin": echo, "Vary": "Origin"}
    return Response(status_code=204, headers=headers)


# --- the tools token -----------------------------------------------------------------------------


def _tools_signer(settings: Settings) -> URLSafeTimedSerializer:
    # Derived from the OpenAI key, which every API replica shares and without which no session
    # exists: any replica accepts the token, and a new key invalidates every token.
    assert settings.openai_api_key
    secret = hashlib.sha256(f"{TOOLS_TOKEN_SALT}:{settings.openai_api_key}".encode()).hexdigest()
    return URLSafeTimedSerializer(secret, salt=TOOLS_TOKEN_SALT)


class ToolsGrant(BaseModel):
    """What a signed tools token lets the page do: run tools for this business in this session."""

    business_id: int
    session_id: str
    # A draft configuration (/test-agent-simple) the session was built from; None: the stored one.
    config: dict[str, Any] | None = None


def issue_tools_token(settings: Settings, grant: ToolsGrant) -> str:
    return _tools_signer(settings).dumps(grant.model_dump(mode="json"))


def read_tools_token(settings: Settings, token: str) -> ToolsGrant:
    if not settings.openai_api_key:
        raise HTTPException(503, "Realtime sessions are off: OPENAI_API_KEY is not set")
    try:
        # A little longer than the session may last, for its last function call.
        data = _tools_signer(settings).loads(token, max_age=settings.realtime_max_session_seconds + 120)
    except SignatureExpired:
        raise HTTPException(403, "this demo session has expired; start a new one") from None
    except BadSignature:
        raise HTTPException(403, "session_token is not one this API issued") from None
    return ToolsGrant.model_validate(data)


# --- the session ---------------------------------------------------------------------------------


class RealtimeSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_id: int = Field(gt=0, description="The business whose receptionist the visitor talks to")
    voice: str | None = Field(default=None, description=f"One of OpenAI's voices: {', '.join(REALTIME_VOICES)}")
    language: str | None = Field(default=None, max_length=35, description="A language tag such as en-US or es-MX")
    config: BusinessConfig | None = Field(
        default=None,
        description="A draft configuration to try instead of the stored one (/test-agent-simple); "
        "bookings still go into the chosen business's calendar",
    )

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, value: str | None) -> str | None:
        if value is not None and value not in REALTIME_VOICES:
            raise ValueError(f"unknown voice {value!r}; choose one of {', '.join(REALTIME_VOICES)}")
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str | None) -> str | None:
        if value is not None and not LANGUAGE_TAG.match(value):
            raise ValueError(f"{value!r} is not a language tag such as en-US")
        return value


class RealtimeSessionResponse(BaseModel):
    client_secret: str = Field(description="The ephemeral key: the page's Bearer token for its SDP offer")
    expires_at: int = Field(description="When the client secret expires, seconds since the epoch")
    session_id: str
    model: str
    voice: str
    language: str
    sdp_url: str = Field(description="Where the page posts its SDP offer: OPENAI_BASE_URL + /realtime/calls")
    max_session_seconds: int = Field(description="The page hangs up after this long")
    business_id: int
    business_name: str
    greeting: str = Field(description="What the agent says first, as on the phone")
    instructions: str
    tools: list[str]
    tools_url: str
    tools_token: str = Field(description="Sent back with every function call to tools_url")


def realtime_voice(config: BusinessConfig, settings: Settings, requested: str | None) -> str:
    if requested:
        return requested
    configured = config.voice.strip().lower()
    if configured in REALTIME_VOICES:
        return configured
    return VOICE_FOR_GENDER.get(configured, settings.realtime_voice)


def session_config(config: BusinessConfig, settings: Settings, voice: str, now: datetime) -> dict[str, Any]:
    """The Realtime session (GA API) for a business: what `client_secrets.create` sends as `session`."""
    return {
        "type": "realtime",
        "model": settings.realtime_model,
        "instructions": build_instructions(config, now),
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "transcription": {
                    "model": settings.realtime_transcription_model,
                    "language": config.language.split("-")[0].lower(),
                },
            },
            "output": {"voice": voice},
        },
        "tools": realtime_tools(),
        "tool_choice": "auto",
    }


def _openai(request: Request, settings: Settings) -> openai.AsyncOpenAI:
    client = getattr(request.app.state, "realtime_openai", None)
    if client is None:
        client = request.app.state.realtime_openai = openai.AsyncOpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=OPENAI_TIMEOUT_SECONDS,
            max_retries=1,
        )
    return client


def _refusal_reason(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return error.response.text[:300] or error.response.reason_phrase


@router.options("/realtime-session", include_in_schema=False)
def session_preflight(request: Request, settings: SettingsDep) -> Response:
    return preflight(request, settings)


@router.post(
    "/realtime-session",
    response_model=RealtimeSessionResponse,
    status_code=201,
    dependencies=[AllowedOrigin],
    responses={
        403: {"description": "the page's origin is not allowed"},
        404: {"description": "no such business"},
        429: {"description": "too many sessions from this client or for this business"},
        502: {"description": "OpenAI refused or could not be reached"},
        503: {"description": "OPENAI_API_KEY is not set"},
    },
)
async def create_realtime_session(
    body: RealtimeSessionRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: Annotated[SlidingWindowLimiter, Depends(rate_limiter)],
) -> RealtimeSessionResponse:
    if not settings.openai_api_key:
        raise HTTPException(
            503,
            "Realtime demo sessions need OPENAI_API_KEY, which this server does not have; "
            "the page falls back to the phone assistant over the web",
        )
    business = session.get(Business, body.business_id)
    if business is None:
        raise HTTPException(404, f"business {body.business_id} does not exist")
    wait = limiter.try_hit(
        [
            (("client", client_address(request)), settings.realtime_sessions_per_client),
            (("business", str(business.id)), settings.realtime_sessions_per_business),
        ]
    )
    if wait is not None:
        seconds = max(1, round(wait))
        raise HTTPException(
            429, f"too many demo sessions; try again in {seconds} seconds", headers={"Retry-After": str(seconds)}
        )

    config = body.config or BusinessConfig.model_validate(business.config)
    if body.language:
        config = config.model_copy(update={"language": body.language})
    voice = realtime_voice(config, settings, body.voice)
    now = datetime.now(timezone.utc)
    wanted = session_config(config, settings, voice, now)
    try:
        secret = await _openai(request, settings).realtime.client_secrets.create(
            expires_after={"anchor": "created_at", "seconds": settings.realtime_max_session_seconds},
            session=wanted,  # type: ignore[arg-type]
        )
    except openai.APIStatusError as error:
        raise HTTPException(
            502, f"OpenAI refused the Realtime session (HTTP {error.status_code}): {_refusal_reason(error)}"
        ) from None
    except openai.APIConnectionError as error:
        raise HTTPException(502, f"OpenAI could not be reached at {settings.openai_base_url}: {error}") from None

    granted = secret.session
    session_id = getattr(granted, "id", None) or f"sess_{uuid.uuid4().hex}"
    granted_voice = voice
    audio = getattr(granted, "audio", None)
    if audio is not None and audio.output is not None and isinstance(audio.output.voice, str):
        granted_voice = audio.output.voice
    grant = ToolsGrant(
        business_id=business.id, session_id=session_id, config=body.config.model_dump(mode="json") if body.config else None
    )
    return RealtimeSessionResponse(
        client_secret=secret.value,
        expires_at=secret.expires_at,
        session_id=session_id,
        model=getattr(granted, "model", None) or settings.realtime_model,
        voice=granted_voice,
        language=config.language,
        sdp_url=f"{settings.openai_base_url}/realtime/calls",
        max_session_seconds=settings.realtime_max_session_seconds,
        business_id=business.id,
        business_name=config.name,
        greeting=opening_words(config, now, is_open(config, now)),
        instructions=wanted["instructions"],
        tools=[tool["name"] for tool in wanted["tools"]],
        tools_url=f"/api/ai/realtime-tools/{business.id}",
        tools_token=issue_tools_token(settings, grant),
    )

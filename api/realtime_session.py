"""`POST /api/ai/realtime-session`: a short-lived OpenAI Realtime session for a business, for the browser.

The API asks OpenAI (or whatever `OPENAI_BASE_URL` points at) for an ephemeral client secret
with the real `openai` SDK; the page then talks to the Realtime API by WebRTC, posting its SDP
offer to `sdp_url` with that secret. The session's instructions, voice, language and tools come
from the same business configuration, the same instruction builder and the same tool list as
the phone path, so the demo behaves like the phone agent. Tools are executed by the project
(`api/realtime_tools.py`), never by the browser: the answer carries a signed `tools_token` that
the page sends with every function call.

A session costs money per minute, so it is guarded: an allow-list of origins, sliding-window
rate limits per client address and per business that every API replica shares (counted in the
database), and a cap on its length (the secret expires then and the page hangs up then).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import openai
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.dependencies import SessionDep, SettingsDep
from api.input_bounds import RowId
from api.shared_limits import within_limits
from api.upstream_errors import TRY_AGAIN_LATER, upstream_failure
from business.config import BusinessConfig
from business.instructions import build_instructions
from business.languages import primary
from business.opening_hours import is_open
from database.models import Business
from database.rate_limits import Allowance
from receptionist.opening_words import opening_words
from receptionist.tools import realtime_tools
from runtime.settings import Settings
from runtime.signing import SigningPurpose, token_signer

router = APIRouter(prefix="/api/ai", tags=["browser demo"])

# The built-in voices of OpenAI's Realtime API.
REALTIME_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
# The business configuration speaks of voices the phone way; these are their Realtime counterparts.
VOICE_FOR_GENDER = {"male": "cedar", "man": "cedar"}
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
# What OpenAI may take to create a secret: the page's whole connection attempt waits on it.
OPENAI_TIMEOUT_SECONDS = 15.0
SECRET_KEY_MISSING = "Realtime sessions are off: SECRET_KEY, which signs their tools token, is not set"


# --- protection ----------------------------------------------------------------------------------


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
    headers = {
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Max-Age": "600",
    }
    if echo:
        headers |= {"Access-Control-Allow-Origin": echo, "Vary": "Origin"}
    return Response(status_code=204, headers=headers)


# --- the tools token -----------------------------------------------------------------------------


def _tools_signer(settings: Settings) -> URLSafeTimedSerializer:
    # SECRET_KEY, which every API replica shares: any replica accepts the token, a new SECRET_KEY
    # invalidates every token, and rotating the OpenAI key does not.
    return token_signer(settings.secret_key, SigningPurpose.REALTIME_TOOLS)


class ToolsGrant(BaseModel):
    """What a signed tools token lets the page do: run tools for this business in this session."""

    business_id: int
    session_id: str
    # A draft configuration (/test-agent-simple) the session was built from; None: the stored one.
    config: dict[str, Any] | None = None


def issue_tools_token(settings: Settings, grant: ToolsGrant) -> str:
    return _tools_signer(settings).dumps(grant.model_dump(mode="json"))


def read_tools_token(settings: Settings, token: str) -> ToolsGrant:
    if settings.secret_key is None:
        raise HTTPException(503, SECRET_KEY_MISSING)
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

    business_id: RowId = Field(strict=True, description="The business whose receptionist the visitor talks to")
    voice: str | None = Field(
        default=None, max_length=20, description=f"One of OpenAI's voices: {', '.join(REALTIME_VOICES)}"
    )
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


def session_config(
    config: BusinessConfig, settings: Settings, voice: str, now: datetime, language: str | None = None
) -> dict[str, Any]:
    """The Realtime session (GA API) for a business: what `client_secrets.create` sends as `session`, in
    the visitor's chosen language, else the business's first."""
    language = language or config.language
    return {
        "type": "realtime",
        "model": settings.realtime_model,
        "instructions": build_instructions(config, now, language),
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "transcription": {
                    "model": settings.realtime_transcription_model,
                    "language": primary(language),
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
        502: {"description": "OpenAI refused or could not be reached; why is in the log, under the answer's reference"},
        503: {"description": "OPENAI_API_KEY is not set"},
    },
)
async def create_realtime_session(
    body: RealtimeSessionRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> RealtimeSessionResponse:
    if not settings.openai_api_key:
        raise HTTPException(
            503,
            "Realtime demo sessions need OPENAI_API_KEY, which this server does not have; "
            "the page falls back to the phone assistant over the web",
        )
    if settings.secret_key is None:
        raise HTTPException(503, SECRET_KEY_MISSING)
    # Off the event loop: the session is synchronous (issue 10).
    business = await run_in_threadpool(session.get, Business, body.business_id)
    if business is None:
        raise HTTPException(404, f"business {body.business_id} does not exist")
    window = settings.realtime_rate_window_seconds
    await within_limits(
        settings,
        [
            Allowance(f"realtime-client:{client_address(request)}", settings.realtime_sessions_per_client, window),
            Allowance(f"realtime-business:{business.id}", settings.realtime_sessions_per_business, window),
        ],
        "demo sessions",
    )

    config = body.config or BusinessConfig.model_validate(business.config)
    language = body.language or config.language
    voice = realtime_voice(config, settings, body.voice)
    now = datetime.now(UTC)
    wanted = session_config(config, settings, voice, now, language)
    try:
        secret = await _openai(request, settings).realtime.client_secrets.create(
            expires_after={"anchor": "created_at", "seconds": settings.realtime_max_session_seconds},
            session=wanted,  # type: ignore[arg-type]
        )
    except openai.APIStatusError as error:
        raise upstream_failure(
            502,
            f"OpenAI did not open a Realtime session; {TRY_AGAIN_LATER}",
            "openai",
            error,
            business_id=business.id,
            status=error.status_code,
            reason=_refusal_reason(error),
        ) from None
    except openai.APIConnectionError as error:
        raise upstream_failure(
            502,
            f"OpenAI could not be reached; {TRY_AGAIN_LATER}",
            "openai",
            error,
            business_id=business.id,
            base_url=settings.openai_base_url,
        ) from None

    granted = secret.session
    session_id = getattr(granted, "id", None) or f"sess_{uuid.uuid4().hex}"
    granted_voice = voice
    audio = getattr(granted, "audio", None)
    if audio is not None and audio.output is not None and isinstance(audio.output.voice, str):
        granted_voice = audio.output.voice
    grant = ToolsGrant(
        business_id=business.id,
        session_id=session_id,
        config=body.config.model_dump(mode="json") if body.config else None,
    )
    return RealtimeSessionResponse(
        client_secret=secret.value,
        expires_at=secret.expires_at,
        session_id=session_id,
        model=getattr(granted, "model", None) or settings.realtime_model,
        voice=granted_voice,
        language=language,
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

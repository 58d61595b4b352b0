"""`POST /api/ai/realtime-session`: a Realtime voice call for a business, created by the server for the browser.

The page sends its WebRTC SDP offer here. The API creates the call itself with its own key and the
real `openai` SDK (`client.realtime.calls.create(sdp=..., session=...)`, the GA "unified
interface"), answers the page with the SDP answer, learns the call id from the answer's
`Location` header, and joins the call's control channel (`api/browser_calls.py`): the server runs
every function call there, and hangs up at the session cap after a goodbye. No client secret and
no tool token ever reaches a browser. The session's instructions, voice, language and tools come
from the same business configuration, the same instruction builder and the same tool list as the
phone path, so the demo behaves like the phone agent.

A call costs money per minute, so it is guarded: an allow-list of origins; a stranger may talk
only to a business that opted in to the public demo (`Business.demo_enabled`), with its stored
configuration; a draft configuration or another business needs a logged-in admin; sliding-window
rate limits per client address and per business, and daily Realtime minutes per business and for
the whole installation, all counted in the database so every API replica shares them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import openai
from fastapi import APIRouter, Depends, HTTPException, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from itsdangerous import BadSignature
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.admin_auth import AdminKey, admin_key, bearer, client_address, require_admin_api, session_cookie
from api.browser_calls import BrowserCalls, reserve_minutes
from api.dependencies import SessionDep, SettingsDep
from api.input_bounds import RowId
from api.realtime_tools import demo_tool_runner
from api.shared_limits import within_limits
from api.upstream_errors import TRY_AGAIN_LATER, upstream_failure
from business.config import BusinessConfig
from business.opening_hours import is_open
from business.private_numbers import without_private_numbers
from database.models import Business
from database.rate_limits import Allowance
from receptionist.opening_words import opening_words
from receptionist.realtime_sessions import REALTIME_VOICES, realtime_session
from receptionist.realtime_sessions import realtime_voice as business_realtime_voice
from receptionist.unasked_words import DEMO_TIME_UP, words_in
from runtime.settings import Settings
from runtime.signing import SecretKeyMissing, SigningPurpose, token_signer

router = APIRouter(prefix="/api/ai", tags=["browser demo"])

LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
# What OpenAI may take to create the call: the page's whole connection attempt waits on it.
OPENAI_TIMEOUT_SECONDS = 15.0
SDP_OFFER = re.compile(r"^v=0\r?\n")


# --- protection ----------------------------------------------------------------------------------


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


# --- the session ---------------------------------------------------------------------------------


class RealtimeSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_id: RowId = Field(strict=True, description="The business whose receptionist the visitor talks to")
    sdp: str = Field(min_length=10, max_length=30_000, description="The page's WebRTC SDP offer")
    voice: str | None = Field(
        default=None, max_length=20, description=f"One of OpenAI's voices: {', '.join(REALTIME_VOICES)}"
    )
    language: str | None = Field(default=None, max_length=35, description="A language tag such as en-US or es-MX")
    config: BusinessConfig | None = Field(
        default=None,
        description="A draft configuration to try instead of the stored one (/test-agent-simple, a logged-in "
        "admin only); its bookings are demo bookings of the chosen business",
    )

    @field_validator("sdp")
    @classmethod
    def _an_offer(cls, value: str) -> str:
        if not SDP_OFFER.match(value):
            raise ValueError("not an SDP offer (it starts with v=0)")
        return value

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
    sdp: str = Field(description="The SDP answer: the page's remote description")
    call_id: str = Field(description="The Realtime call, which the server controls")
    model: str
    voice: str
    language: str
    max_session_seconds: int = Field(description="The server says goodbye and hangs up after this long")
    business_id: int
    business_name: str
    greeting: str = Field(description="What the agent says first, as on the phone (the page asks for it)")
    tools: list[str]
    call_token: str = Field(description="Proves to `.../{call_id}/hangup` that this page started the call")


def realtime_voice(config: BusinessConfig, settings: Settings, requested: str | None) -> str:
    return requested or business_realtime_voice(config, settings.realtime_voice)


def session_config(
    config: BusinessConfig, settings: Settings, voice: str, now: datetime, language: str | None = None
) -> dict[str, Any]:
    """The Realtime session (GA API) for a business: what `calls.create` sends as `session`, in
    the visitor's chosen language, else the business's first (the one builder, as a SIP call's)."""
    return realtime_session(
        config,
        model=settings.realtime_model,
        transcription_model=settings.realtime_transcription_model,
        voice=voice,
        now=now,
        language=language,
    )


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


def goodbye_words(config: BusinessConfig, language: str | None) -> str:
    return words_in(DEMO_TIME_UP, language, business=config.name)


def browser_calls(request: Request) -> BrowserCalls:
    calls: BrowserCalls = request.app.state.browser_calls
    return calls


@router.post(
    "/realtime-session",
    response_model=RealtimeSessionResponse,
    status_code=201,
    dependencies=[AllowedOrigin],
    responses={
        401: {"description": "a draft configuration, or a business not on the public demo, needs an admin login"},
        403: {"description": "the page's origin is not allowed"},
        404: {"description": "no such business"},
        429: {"description": "too many sessions from this client or for this business, or its minutes for today"},
        502: {"description": "OpenAI refused or could not be reached; why is in the log, under the answer's reference"},
        503: {
            "description": "OPENAI_API_KEY or SECRET_KEY is not set, or the installation's Realtime minutes for today "
            "are used"
        },
    },
)
async def create_realtime_session(
    body: RealtimeSessionRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    key: Annotated[AdminKey, Depends(admin_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> RealtimeSessionResponse:
    if not settings.openai_api_key:
        raise HTTPException(
            503,
            "Realtime demo sessions need OPENAI_API_KEY, which this server does not have; "
            "the page falls back to the phone assistant over the web",
        )
    if settings.secret_key is None:
        raise HTTPException(
            503, "Realtime demo sessions need SECRET_KEY, which signs the page's proof of its call; it is not set"
        )
    # Off the event loop: the session is synchronous (issue 10).
    business = await run_in_threadpool(session.get, Business, body.business_id)
    if business is None:
        raise HTTPException(404, f"business {body.business_id} does not exist")
    if body.config is not None or not business.demo_enabled:
        # Instructions a visitor wrote, or a business that did not opt in to the public demo: an admin's.
        await run_in_threadpool(require_admin_api, request, session, key, credentials, cookie)
    assert business.id is not None
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
    # The request's database connection goes back to the pool now, not after OpenAI has answered (up to ~30 s).
    await run_in_threadpool(session.close)
    language = body.language or config.language
    voice = realtime_voice(config, settings, body.voice)
    now = datetime.now(UTC)
    wanted = session_config(config, settings, voice, now, language)
    # A visitor is a stranger: the owner's instructions may name private numbers, which the agent must not say.
    wanted["instructions"] = without_private_numbers(wanted["instructions"], config)
    minutes = await reserve_minutes(settings, business.id, config.name)
    client = _openai(request, settings)
    try:
        created = await client.realtime.calls.with_raw_response.create(
            sdp=body.sdp,
            session=wanted,  # type: ignore[arg-type]
        )
    except openai.APIStatusError as error:
        await minutes.settle(0)
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
        await minutes.settle(0)
        raise upstream_failure(
            502,
            f"OpenAI could not be reached; {TRY_AGAIN_LATER}",
            "openai",
            error,
            business_id=business.id,
            base_url=settings.openai_base_url,
        ) from None
    call_id = created.headers.get("location", "").rstrip("/").rsplit("/", 1)[-1]
    answer = created.text
    if not call_id:
        await minutes.settle(0)
        raise HTTPException(502, f"OpenAI answered without the call's Location; {TRY_AGAIN_LATER}")
    greeting = opening_words(config, now, is_open(config, now))
    browser_calls(request).start(
        client,
        call_id,
        demo_tool_runner(settings, business.id, config, call_id),
        max_seconds=settings.realtime_max_session_seconds,
        goodbye=goodbye_words(config, language),
        # The page asks for the greeting when its data channel opens: only then does it hear it.
        first_words=None,
        # The page's data channel could send session.update: what the agent is told stays the server's.
        keep_session={key: wanted[key] for key in ("instructions", "tools", "tool_choice")},
        minutes=minutes,
    )
    return RealtimeSessionResponse(
        sdp=answer,
        call_id=call_id,
        model=settings.realtime_model,
        voice=voice,
        language=language,
        max_session_seconds=settings.realtime_max_session_seconds,
        business_id=business.id,
        business_name=config.name,
        greeting=greeting,
        tools=[tool["name"] for tool in wanted["tools"]],
        call_token=token_signer(settings.secret_key, SigningPurpose.BROWSER_CALL).dumps(call_id),
    )


CALL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class BrowserCallProof(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_token: str = Field(min_length=1, max_length=512, description="The session answer's call_token")


def _started_here(settings: Settings, call_id: str, token: str) -> bool:
    # A token outlives its call by a margin only: the page hangs up within the session's cap.
    max_age = settings.realtime_max_session_seconds + 600
    try:
        signed = token_signer(settings.secret_key, SigningPurpose.BROWSER_CALL).loads(token, max_age=max_age)
    except (BadSignature, SecretKeyMissing):
        return False
    return bool(signed == call_id)


@router.post(
    "/realtime-session/{call_id}/hangup",
    status_code=204,
    dependencies=[AllowedOrigin],
    responses={204: {"description": "the call is over (or was already)"}, 404: {"description": "not a call id"}},
)
async def hang_up_realtime_session(
    call_id: str, proof: BrowserCallProof, request: Request, settings: SettingsDep
) -> Response:
    """The page's Hang up: the server ends the call at once, and the unused minutes go back to today's budgets.

    Only with the `call_token` the session's answer gave the page that started the call: a call id seen
    elsewhere (a log, a SIP phone call's id) ends nothing. Every other call id is 404."""
    if not CALL_ID.match(call_id) or not _started_here(settings, call_id, proof.call_token):
        raise HTTPException(404, "no browser call of yours has this id")
    if not await browser_calls(request).hang_up(call_id) and settings.openai_api_key:
        # Another replica controls it: end the call itself; that replica's channel then closes and settles.
        try:
            await _openai(request, settings).realtime.calls.hangup(call_id)
        except openai.NotFoundError:
            pass
        except openai.APIError:
            raise HTTPException(502, f"OpenAI could not hang up the call; {TRY_AGAIN_LATER}") from None
    return Response(status_code=204)

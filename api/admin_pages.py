"""The admin pages under /admin: login, dashboard, calls, a call, the configuration panel.

Plain HTML from Jinja2 templates, a little JavaScript, Chart.js served from api/static
(nothing from a CDN). The pages read through the same functions as the JSON API, and the
configuration form saves through the JSON API, so what a person sees is what a program gets.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Security
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.admin_api import call_filters, date_range, get_business, inspect_call, list_config_changes
from api.admin_auth import (
    SESSION_COOKIE,
    AdminKey,
    AdminPage,
    admin_key,
    count_failure,
    end_session,
    now,
    safe_next,
    session_cookie,
    start_session,
    throttle_wait_seconds,
    too_many_attempts,
)
from api.dependencies import SessionDep
from api.input_bounds import MAX_ROW_ID, CallId, Day, RowId
from business.config import WEEKDAYS, BusinessConfig
from business.instructions import build_instructions
from business.languages import language_name
from database.admin_sessions import revoke_every_admin_session
from database.business_queries import list_businesses
from database.calendar_store import link_status
from database.call_queries import find_call, list_calls
from database.caller_memories import forget_caller
from database.dashboard_queries import build_dashboard
from domain.vocabulary import CallOutcome, CallStatus, PhoneMode
from receptionist.caller_language import menu_key

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

public = APIRouter(prefix="/admin", include_in_schema=False)
pages = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[AdminPage])

PAGE_SIZE = 50
CHANGES_SHOWN = 20  # on the configuration page; the JSON API gives more
PHONE_MODE_LABELS = [
    (PhoneMode.TELNYX_SPEECH.value, "Telnyx speech, the receptionist's brain"),
    (PhoneMode.REALTIME_SIP.value, "Realtime voice over SIP (OpenAI)"),
]
Word = TypeVar("Word", bound=StrEnum)
# A return address after logging in, and a pasted key: far longer than either ever is.
NextPath = Annotated[str, Query(max_length=2000)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def optional_id(value: str | None, name: str) -> int | None:
    """Page filters come from HTML forms, where "all" is an empty string."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(422, f"{name} must be a number, not {value!r}") from None
    if not 0 < number <= MAX_ROW_ID:
        raise HTTPException(422, f"{name} must be a number from 1 to {MAX_ROW_ID}")
    return number


def optional_word(value: str, vocabulary: type[Word], name: str) -> Word | None:
    """A filter offers exactly the words of the call's vocabulary; "" is "any", anything else is refused by name."""
    if value == "":
        return None
    try:
        return vocabulary(value)
    except ValueError:
        known = ", ".join(vocabulary)
        raise HTTPException(422, f"{name} must be one of {known}; not {value!r}") from None


# --- login ---------------------------------------------------------------------------------------


def login_page(
    request: Request, key: AdminKey, next: str, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        status_code,
        next=safe_next(next),
        configured=key.configured,
        off=key.missing,
        error=error,
    )


@public.get("/login")
def login_form(request: Request, key: Annotated[AdminKey, Depends(admin_key)], next: NextPath = "") -> HTMLResponse:
    return login_page(request, key, next)


@public.post("/login")
def log_in(
    request: Request,
    db: SessionDep,
    key: Annotated[AdminKey, Depends(admin_key)],
    api_key: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if not key.configured:
        return login_page(request, key, next, 503)
    if (wait := throttle_wait_seconds(request)) is not None:
        page = login_page(request, key, next, 429, error=too_many_attempts(wait))
        page.headers["Retry-After"] = str(wait)
        return page
    if not key.matches(api_key.strip()):
        count_failure(request)
        return login_page(request, key, next, 401, error="That is not the admin key.")
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, response, db, key)
    return response


@public.post("/logout")
def log_out(
    db: SessionDep,
    key: Annotated[AdminKey, Depends(admin_key)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    end_session(response, db, key, cookie)
    return response


@pages.post("/logout-everywhere")
def log_out_everywhere(db: SessionDep) -> Response:
    """Ends every admin session, on every browser: after a lost laptop, or when someone leaves."""
    revoke_every_admin_session(db, now=now())
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- dashboard -----------------------------------------------------------------------------------


@pages.get("")
def home() -> Response:
    return RedirectResponse("/admin/dashboard", status_code=303)


@pages.get("/dashboard")
def dashboard_page(
    request: Request,
    session: SessionDep,
    business_id: Annotated[str, Query(max_length=10)] = "",
    since: Day | None = None,
    until: Day | None = None,
) -> HTMLResponse:
    businesses = list_businesses(session)
    try:
        chosen = optional_id(business_id, "business")
        if chosen is not None:
            get_business(session, chosen)
        days = date_range(since, until)
    except HTTPException as problem:
        return render(request, "dashboard.html", 422, businesses=businesses, problem=problem.detail, dashboard=None,
                      business_id=business_id, recent=[], since=since, until=until)  # fmt: skip
    dashboard = build_dashboard(session, chosen, days.since, days.until)
    recent = list_calls(session, call_filters(chosen, None, None, days.since, days.until, None), limit=10).calls
    return render(
        request,
        "dashboard.html",
        businesses=businesses,
        problem=None,
        dashboard=dashboard,
        data=dashboard.model_dump(mode="json"),
        business_id=chosen,
        recent=recent,
        since=days.since,
        until=days.until,
    )


# --- calls ---------------------------------------------------------------------------------------


@pages.get("/calls")
def calls_page(
    request: Request,
    session: SessionDep,
    business_id: Annotated[str, Query(max_length=10)] = "",
    status: Annotated[str, Query(max_length=40)] = "",
    outcome: Annotated[str, Query(max_length=40)] = "",
    since: Day | None = None,
    until: Day | None = None,
    caller: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_ROW_ID // PAGE_SIZE)] = 1,
) -> HTMLResponse:
    filters = dict(
        business_id=business_id, status=status, outcome=outcome, since=since or "", until=until or "", caller=caller
    )
    query = urlencode({name: value for name, value in filters.items() if value})  # the pager keeps the filters
    context = dict(businesses=list_businesses(session), statuses=list(CallStatus), outcomes=list(CallOutcome),
                   filters=filters, page=page, query=query)  # fmt: skip
    try:
        wanted = call_filters(
            optional_id(business_id, "business"),
            optional_word(status, CallStatus, "status"),
            optional_word(outcome, CallOutcome, "outcome"),
            since,
            until,
            caller,
        )
    except HTTPException as problem:
        return render(request, "calls.html", 422, problem=problem.detail, result=None, **context)
    result = list_calls(session, wanted, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(request, "calls.html", problem=None, result=result, **context)


@pages.get("/calls/{call_id}")
async def call_page(call_id: CallId, request: Request, session: SessionDep) -> HTMLResponse:
    try:
        call = await inspect_call(request, session, call_id)
    except HTTPException as problem:
        return render(request, "call.html", problem.status_code, call=None, problem=problem.detail)
    return render(request, "call.html", call=call, problem=None, forgotten=request.query_params.get("forgotten"))


@pages.post("/calls/{call_id}/forget-caller")
def forget_caller_from_page(call_id: CallId, session: SessionDep) -> Response:
    """The caller asked to be forgotten: this business's summaries of their calls go (the records stay)."""
    call = find_call(session, call_id)
    if call is None or not call.caller_number:
        raise HTTPException(404, f"no call {call_id} with a caller's number")
    count = forget_caller(session, call.caller_number, call.business_id)
    return RedirectResponse(f"/admin/calls/{call_id}?forgotten={count}", status_code=303)


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """How one BusinessConfig field appears in the form; made from the model, so new fields show up."""

    name: str
    label: str
    kind: str  # text, textarea, number, lines, checkbox, json, or a special field's own name
    nullable: bool
    required: bool
    hint: str | None


LABELS = {
    "name": "Business name",
    "business_type": "Type of business",
    "phone_number": "Phone number callers dial",
    "timezone": "Timezone",
    "closures": "Closed on (one date per line, YYYY-MM-DD)",
    "voice": "Voice",
    "languages": "Languages (one BCP-47 tag per line; the first is the default)",
    "voices": "Voices by language",
    "greeting": "Greeting",
    "custom_instructions": "Instructions from the owner",
    "on_call_numbers": "On-call numbers for emergencies (one per line, in order)",
    "services": "Services",
    "hours": "Opening hours",
    "after_hours_message": "After-hours greeting",
    "emergency_phrases": "Emergency phrases (one per line)",
    "booking_slot_minutes": "Appointments start every (minutes)",
    "sms_from_number": "Text booking confirmations from",
    "owner_number": "Owner's mobile, texted about urgent call-backs",
    "record_calls": "Record calls (the greeting says so)",
    "recording_retention_days": "Keep recordings for (days)",
    "recording_consent_regions": "Ask callers from these regions before recording (one per line)",
}
HINTS = {
    "business_type": "e.g. dental office, plumber, hair salon",
    "phone_number": "E.164, e.g. +15555550100",
    "voice": "The first language's Telnyx voice: female, male, AWS.Polly.Joanna-Neural, Azure.en-US-AvaNeural, …",
    "languages": "e.g. en-US, then es-US: callers who speak Spanish are answered in it, and the greeting "
    "offers it (“Para español, oprima 8”)",
    "voices": 'e.g. {"es-US": {"voice": "AWS.Polly.Lupe-Neural"}}; ElevenLabs voices take "api_key_ref", the '
    "Telnyx integration secret of your ElevenLabs key",
    "greeting": "Empty: “Thank you for calling <name>. How can I help you today?”",
    "emergency_phrases": "Words that always put the caller through to a person. Empty: the defaults for this type of business.",
    "sms_from_number": "An E.164 number of yours that can send SMS; empty: no texts",
    "recording_consent_regions": "Where every party must agree: ISO codes such as US-CA, US-FL, DE. Callers "
    "from there hear “This call may be recorded. Is that all right?” and only a yes records.",
}
LONG_TEXT = {"greeting", "custom_instructions", "after_hours_message"}
# Fields with a widget of their own in the template; their kind is their name.
SPECIAL_FIELDS = {"services", "hours"}


def _bare(annotation: Any) -> Any:
    """str for Annotated[str, Field(max_length=...)]: the form shows the type; the model checks the bounds."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _kind(name: str, annotation: Any) -> tuple[str, bool]:
    args = typing.get_args(annotation)
    nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args
    inner = next((a for a in args if a is not type(None)), annotation) if nullable else annotation
    if inner is str:
        return ("textarea" if name in LONG_TEXT else "text"), nullable
    if inner in (int, float):
        return "number", nullable
    if inner is bool:
        return "checkbox", nullable
    if typing.get_origin(inner) is list and [_bare(item) for item in typing.get_args(inner)] == [str]:
        return "lines", nullable
    return "json", nullable


def form_fields() -> list[FormField]:
    fields = []
    for name, info in BusinessConfig.model_fields.items():
        if info.exclude:
            continue  # read from old configurations, never written (`language`, now `languages`)
        kind, nullable = (name, False) if name in SPECIAL_FIELDS else _kind(name, info.annotation)
        fields.append(
            FormField(
                name=name,
                label=LABELS.get(name, name.replace("_", " ").capitalize()),
                kind=kind,
                nullable=nullable,
                required=info.is_required(),
                hint=HINTS.get(name) or info.description,
            )
        )
    return fields


@pages.get("/config")
def config_home(session: SessionDep) -> Response:
    businesses = list_businesses(session)
    if not businesses:
        raise HTTPException(404, "no business is configured; run `cloudgreet migrate`")
    return RedirectResponse(f"/admin/businesses/{businesses[0].id}/config", status_code=303)


@pages.get("/businesses/{business_id}/config")
def config_page(business_id: RowId, request: Request, session: SessionDep) -> HTMLResponse:
    business = get_business(session, business_id)
    config = BusinessConfig.model_validate(business.config)
    return render(
        request,
        "config.html",
        business=business,
        businesses=list_businesses(session),
        config=config.model_dump(mode="json"),
        fields=form_fields(),
        weekdays=WEEKDAYS,
        timezones=sorted(available_timezones()),
        greeting=config.greeting_text(),
        instructions=build_instructions(config),
        spoken_languages=[
            (tag, language_name(tag), config.voice_for(tag).voice, menu_key(config, tag)) for tag in config.languages
        ],
        changes=list_config_changes(session, business_id, limit=CHANGES_SHOWN),
        calendar=link_status(session, business_id),
        phone_modes=PHONE_MODE_LABELS,
    )

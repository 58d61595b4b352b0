"""The admin pages under /admin: login, dashboard, calls, a call, the configuration panel.

Plain HTML from Jinja2 templates, a little JavaScript, Chart.js served from api/static
(nothing from a CDN). The pages read through the same functions as the JSON API, and the
configuration form saves through the JSON API, so what a person sees is what a program gets.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.admin_api import call_filters, date_range, get_business, inspect_call, list_businesses
from api.admin_auth import AdminKey, AdminPage, admin_key, end_session, safe_next, start_session
from api.call_queries import list_calls
from api.dashboard import build_dashboard
from api.dependencies import SessionDep
from business.config import WEEKDAYS, BusinessConfig
from business.instructions import build_instructions

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

public = APIRouter(prefix="/admin", include_in_schema=False)
pages = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[AdminPage])

CALL_STATUSES = ("answering", "in_progress", "ended", "missed", "failed")
CALL_OUTCOMES = ("booked", "escalated", "message", "abandoned", "completed")
PAGE_SIZE = 50


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def optional_id(value: str | None, name: str) -> int | None:
    """Page filters come from HTML forms, where "all" is an empty string."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise HTTPException(422, f"{name} must be a number, not {value!r}") from None


# --- login ---------------------------------------------------------------------------------------


@public.get("/login")
def login_form(request: Request, key: Annotated[AdminKey, Depends(admin_key)], next: str = "") -> HTMLResponse:  # noqa: A002
    return render(request, "login.html", next=safe_next(next), configured=key.configured, error=None)


@public.post("/login")
def log_in(
    request: Request,
    key: Annotated[AdminKey, Depends(admin_key)],
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> Response:
    if not key.configured:
        return render(request, "login.html", 503, next=safe_next(next), configured=False, error=None)
    if not key.matches(api_key.strip()):
        return render(request, "login.html", 401, next=safe_next(next), configured=True, error="That is not the admin key.")
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, response, key)
    return response


@public.post("/logout")
def log_out() -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    end_session(response)
    return response


# --- dashboard -----------------------------------------------------------------------------------


@pages.get("")
def home() -> Response:
    return RedirectResponse("/admin/dashboard", status_code=303)


@pages.get("/dashboard")
def dashboard_page(
    request: Request, session: SessionDep, business_id: str = "", since: date | None = None, until: date | None = None
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
    business_id: str = "",
    status: str = "",
    outcome: str = "",
    since: date | None = None,
    until: date | None = None,
    caller: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    filters = dict(business_id=business_id, status=status, outcome=outcome, since=since or "", until=until or "", caller=caller)
    query = urlencode({name: value for name, value in filters.items() if value})  # the pager keeps the filters
    context = dict(businesses=list_businesses(session), statuses=CALL_STATUSES, outcomes=CALL_OUTCOMES, filters=filters,
                   page=page, query=query)  # fmt: skip
    try:
        wanted = call_filters(optional_id(business_id, "business"), status, outcome, since, until, caller)
    except HTTPException as problem:
        return render(request, "calls.html", 422, problem=problem.detail, result=None, **context)
    result = list_calls(session, wanted, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(request, "calls.html", problem=None, result=result, **context)


@pages.get("/calls/{call_id}")
async def call_page(call_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    try:
        call = await inspect_call(request, session, call_id)
    except HTTPException as problem:
        return render(request, "call.html", problem.status_code, call=None, problem=problem.detail)
    return render(request, "call.html", call=call, problem=None)


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
    "language": "Language",
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
}
HINTS = {
    "business_type": "e.g. dental office, plumber, hair salon",
    "phone_number": "E.164, e.g. +15555550100",
    "voice": "A Telnyx voice: female, male, or e.g. Polly.Joanna",
    "language": "e.g. en-US, es-ES",
    "greeting": "Empty: “Thank you for calling <name>. How can I help you today?”",
    "emergency_phrases": "Words that always put the caller through to a person. Empty: the defaults for this type of business.",
    "sms_from_number": "An E.164 number of yours that can send SMS; empty: no texts",
}
LONG_TEXT = {"greeting", "custom_instructions", "after_hours_message"}
# Fields with a widget of their own in the template; their kind is their name.
SPECIAL_FIELDS = {"services", "hours"}


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
    if typing.get_origin(inner) is list and typing.get_args(inner) == (str,):
        return "lines", nullable
    return "json", nullable


def form_fields() -> list[FormField]:
    fields = []
    for name, info in BusinessConfig.model_fields.items():
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
def config_page(business_id: int, request: Request, session: SessionDep) -> HTMLResponse:
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
    )

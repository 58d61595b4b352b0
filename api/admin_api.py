"""The admin JSON API under /api/admin: businesses and their configuration (and its audit log),
the dashboard, calls, and the health of every dependency in detail.

Every route needs the admin key (bearer) or an admin session (cookie); the admin pages use
the same routes from the browser. All of it is in the OpenAPI schema at /docs.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.admin_auth import AdminApi, AdminApiCaller, AdminCaller
from api.dependencies import SessionDep
from api.health import EVERY_DEPENDENCY, DependencyChecks, Health, health_report
from api.input_bounds import INVALID_INPUT, MAX_ROW_ID, CallerNumber, CallId, Day, RowId
from business.config import BusinessConfig
from business.instructions import build_instructions
from business.telnyx_catalog import telnyx_refusals
from database.admin_models import AdminCredential
from database.business_queries import BusinessSummary, NumberTaken, add_business, list_businesses
from database.call_queries import (
    CallbackListItem,
    CallDetail,
    CallFilters,
    CallPage,
    call_detail,
    list_callbacks,
    list_calls,
)
from database.caller_memories import forget_caller
from database.config_audit import add_config_change, changed_fields, config_changes
from database.dashboard_queries import Dashboard, build_dashboard
from database.models import Business
from database.recording_store import RecordingInfo, recording_info
from database.satisfaction import SurveyInfo, survey_info
from database.utc import utcnow
from domain.vocabulary import CallbackStatus, CallOutcome, CallStatus
from runtime.live_call import LiveState, read_live_state, temporal_ui_link

# What the guard (api/admin_auth.py) may answer on every route, so the schema says so too.
ADMIN_GUARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No admin key or session, a wrong key, or a session cookie sent by another site's page"},
    429: {"description": "Too many wrong keys from this address; Retry-After says when to try again"},
    503: {"description": "The admin side is off (no ADMIN_API_KEY or SECRET_KEY), or the database does not answer"},
}
router = APIRouter(
    prefix="/api/admin", tags=["admin"], dependencies=[AdminApi], responses=ADMIN_GUARD_RESPONSES | INVALID_INPUT
)

MAX_DASHBOARD_DAYS = 366


class InstructionsPreview(BaseModel):
    greeting: str = Field(description="What the receptionist says when it answers")
    instructions: str = Field(description="The instructions both voice paths give the model")


class CallInspection(CallDetail):
    temporal_ui_url: str = Field(description="The call's workflow in the Temporal UI")
    live: LiveState | None = Field(default=None, description="Only for a call that has not finished")
    recording: RecordingInfo | None = Field(default=None, description="Only for a call Telnyx recorded")
    satisfaction: SurveyInfo | None = Field(default=None, description="Only for a call whose caller was asked")


class NewBusiness(BusinessConfig):
    """A business's configuration, with the number its callers dial, which a new business needs."""

    phone_number: str = Field(max_length=16, description="The number callers dial (E.164), a Telnyx number of yours")


class FieldChange(BaseModel):
    field: str
    before: Any = Field(description="The field's value before the change (null: it had none)")
    after: Any


class ConfigChangeEntry(BaseModel):
    changed_at: datetime
    credential: AdminCredential = Field(description="session: a person logged in; bearer: a program with the key")
    session: str | None = Field(description="The first characters of the admin session's id, for a person")
    client_address: str
    changes: list[FieldChange]


class DateRange(BaseModel):
    since: date
    until: date


def date_range(
    since: Annotated[Day | None, Query(description="First day (default: six days before `until`)")] = None,
    until: Annotated[Day | None, Query(description="Last day, included (default: today, UTC)")] = None,
) -> DateRange:
    until = until or datetime.now(UTC).date()
    since = since or until - timedelta(days=6)
    if since > until:
        raise HTTPException(422, f"the range starts ({since}) after it ends ({until})")
    if (until - since).days >= MAX_DASHBOARD_DAYS:
        raise HTTPException(
            422, f"the range is {(until - since).days + 1} days; at most {MAX_DASHBOARD_DAYS} fit a dashboard"
        )
    return DateRange(since=since, until=until)


def get_business(session: Session, business_id: int) -> Business:
    business = session.get(Business, business_id)
    if business is None:
        raise HTTPException(404, f"no business with id {business_id}")
    return business


def save_business_config(
    session: Session, business_id: int, config: BusinessConfig, caller: AdminCaller
) -> BusinessConfig:
    """Saves the whole configuration; the next call of this business (on either voice path) reads it.
    What changed goes into the audit log in the same transaction."""
    business = get_business(session, business_id)
    # Both sides in today's shape, so a field added to BusinessConfig since the last save is no "change".
    before = BusinessConfig.model_validate(business.config).model_dump(mode="json")
    business.config = config.model_dump(mode="json")
    business.name = config.name
    business.phone_number = config.phone_number
    business.updated_at = utcnow()
    session.add(business)
    if changes := changed_fields(before, business.config):
        add_config_change(
            session,
            business_id,
            changes,
            credential=caller.credential,
            session_id=caller.session_id,
            client_address=caller.client_address,
            now=business.updated_at,
        )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        owner = session.exec(select(Business).where(Business.phone_number == config.phone_number)).first()
        raise HTTPException(
            409, f"{config.phone_number} is already the number of {owner.name if owner else 'another business'}"
        ) from None
    return config


@router.get("/businesses", response_model=list[BusinessSummary])
def businesses(session: SessionDep) -> list[BusinessSummary]:
    """Every business this installation answers for."""
    return list_businesses(session)


@router.post(
    "/businesses",
    status_code=201,
    response_model=BusinessSummary,
    responses={409: {"description": "The phone number belongs to another business"}},
)
def add_new_business(new: NewBusiness, session: SessionDep, caller: AdminApiCaller) -> BusinessSummary:
    """Adds a business, which answers calls to its number from the next call on (point the Telnyx number's
    Call Control application at this installation). Only `name` and `phone_number` are needed; the rest
    has the same defaults and rules as `PUT .../config`. The creation is the first entry of its audit log."""
    config = BusinessConfig.model_validate(new.model_dump())
    try:
        business = add_business(session, config)
    except NumberTaken as taken:
        raise HTTPException(409, str(taken)) from None
    assert business.id is not None  # flushed: the database gave it its id
    add_config_change(
        session,
        business.id,
        changed_fields({}, business.config),
        credential=caller.credential,
        session_id=caller.session_id,
        client_address=caller.client_address,
        now=business.updated_at,
    )
    session.commit()
    return BusinessSummary.model_validate(business, from_attributes=True)


@router.get(
    "/businesses/{business_id}/config",
    response_model=BusinessConfig,
    responses={404: {"description": "No such business"}},
)
def business_config(business_id: RowId, session: SessionDep) -> BusinessConfig:
    """A business's whole configuration, as both voice paths read it."""
    return BusinessConfig.model_validate(get_business(session, business_id).config)


@router.put(
    "/businesses/{business_id}/config",
    response_model=BusinessConfig,
    responses={
        404: {"description": "No such business"},
        409: {"description": "The phone number belongs to another business"},
    },
)
def update_business_config(
    business_id: RowId, config: BusinessConfig, session: SessionDep, caller: AdminApiCaller
) -> BusinessConfig:
    """Replaces a business's configuration. Invalid values get 422 naming each field; nothing is saved then.
    Each save that changes something is in the audit log (`.../config/changes`)."""
    refuse_what_telnyx_would(config)
    return save_business_config(session, business_id, config, caller)


class DemoListing(BaseModel):
    enabled: bool = Field(description="Listed on the public /demo page, where any visitor may talk to it")


@router.put(
    "/businesses/{business_id}/demo",
    response_model=DemoListing,
    responses={404: {"description": "No such business"}},
)
def set_demo_listing(business_id: RowId, listing: DemoListing, session: SessionDep) -> DemoListing:
    """Opts a business in to (or out of) the public /demo page. Off by default: a visitor's voice
    session costs Realtime minutes, and its receptionist talks to anyone there."""
    business = get_business(session, business_id)
    business.demo_enabled = listing.enabled
    session.add(business)
    session.commit()
    return listing


def refuse_what_telnyx_would(config: BusinessConfig) -> None:
    """A language Telnyx cannot speak or transcribe, or a voice it does not have, is a 422 like any
    invalid field: saved, it would make every call of the business fail at its first words."""
    refusals = telnyx_refusals(config)
    if refusals:
        raise RequestValidationError(
            [{"loc": ("body", *where), "msg": message, "type": "value_error"} for where, message in refusals]
        )


def list_config_changes(session: Session, business_id: int, *, limit: int) -> list[ConfigChangeEntry]:
    return [
        ConfigChangeEntry(
            changed_at=row.changed_at,
            credential=row.credential,
            session=row.session_id[:8] if row.session_id else None,
            client_address=row.client_address,
            changes=[FieldChange.model_validate(change) for change in row.changes],
        )
        for row in config_changes(session, business_id, limit=limit)
    ]


@router.get(
    "/businesses/{business_id}/config/changes",
    response_model=list[ConfigChangeEntry],
    responses={404: {"description": "No such business"}},
)
def business_config_changes(
    business_id: RowId, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ConfigChangeEntry]:
    """The audit log of a business's configuration, newest first: who saved, when, each field before and after."""
    get_business(session, business_id)
    return list_config_changes(session, business_id, limit=limit)


@router.post("/instructions-preview", response_model=InstructionsPreview)
def instructions_preview(config: BusinessConfig) -> InstructionsPreview:
    """What the agent would be told with this configuration, without saving it."""
    return InstructionsPreview(greeting=config.greeting_text(), instructions=build_instructions(config))


@router.get("/dashboard", response_model=Dashboard, responses={404: {"description": "No such business"}})
def dashboard(
    session: SessionDep,
    days: Annotated[DateRange, Depends(date_range)],
    business_id: Annotated[RowId | None, Query(description="One business; all when omitted")] = None,
) -> Dashboard:
    """The key metrics against their targets, calls per day, latency, outcomes, fallbacks and cost."""
    if business_id is not None:
        get_business(session, business_id)
    return build_dashboard(session, business_id, days.since, days.until)


@router.get("/calls", response_model=CallPage)
def calls(
    session: SessionDep,
    business_id: RowId | None = None,
    status: Annotated[CallStatus | None, Query(description="Where the call is now")] = None,
    outcome: Annotated[CallOutcome | None, Query(description="What the call achieved")] = None,
    since: Annotated[Day | None, Query(description="Calls that started on or after this day (UTC)")] = None,
    until: Annotated[Day | None, Query(description="Calls that started on or before this day (UTC)")] = None,
    caller: Annotated[str | None, Query(max_length=20, description="The caller's number or its last digits")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> CallPage:
    """Calls, newest first, with their outcome and per-call metrics. An unknown status or outcome gets 422 naming the
    known ones."""
    return list_calls(
        session, call_filters(business_id, status, outcome, since, until, caller), limit=limit, offset=offset
    )


def call_filters(
    business_id: int | None,
    status: CallStatus | None,
    outcome: CallOutcome | None,
    since: date | None,
    until: date | None,
    caller: str | None,
) -> CallFilters:
    if since and until and since > until:
        raise HTTPException(422, f"`since` ({since}) is after `until` ({until})")
    midnight = datetime.min.time()
    return CallFilters(
        business_id=business_id,
        status=status,
        outcome=outcome,
        since=datetime.combine(since, midnight, UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), midnight, UTC) if until else None,
        caller=caller or None,
    )


async def inspect_call(request: Request, session: Session, call_id: str) -> CallInspection:
    detail = await asyncio.to_thread(call_detail, session, call_id)
    if detail is None:
        raise HTTPException(404, f"no call {call_id!r}")
    settings = request.app.state.settings
    live = None
    if not detail.finished:
        try:
            client = await request.app.state.temporal.client()
        except Exception as error:  # noqa: BLE001  (the page still shows the records)
            live = LiveState(problem=f"Temporal is unreachable: {error}")
        else:
            live = await read_live_state(client, detail.workflow_id)
    return CallInspection(
        **detail.model_dump(),
        temporal_ui_url=temporal_ui_link(settings.temporal_ui_url, settings.temporal_namespace, detail.workflow_id),
        live=live,
        recording=await asyncio.to_thread(recording_info, session, call_id),
        satisfaction=await asyncio.to_thread(survey_info, session, call_id),
    )


@router.get("/calls/{call_id}", response_model=CallInspection, responses={404: {"description": "No such call"}})
async def call(call_id: CallId, request: Request, session: SessionDep) -> CallInspection:
    """One call: transcript, timings, errors (fallback steps), bookings, call-backs, escalations, live state."""
    return await inspect_call(request, session, call_id)


class Forgotten(BaseModel):
    caller_number: str
    business_id: int | None
    forgotten_calls: int = Field(description="How many call summaries were deleted")


@router.delete("/callers/{caller_number}/memory", response_model=Forgotten)
def forget_a_caller(
    caller_number: CallerNumber,
    session: SessionDep,
    business_id: Annotated[
        RowId | None, Query(description="Only this business's memory (default: every business)")
    ] = None,
) -> Forgotten:
    """Deletes what the receptionist remembers of a caller's calls (their summaries), on the caller's request.
    The calls' own records stay, as the business's books; the next call from the number is a stranger's."""
    return Forgotten(
        caller_number=caller_number,
        business_id=business_id,
        forgotten_calls=forget_caller(session, caller_number, business_id),
    )


@router.get("/callbacks", response_model=list[CallbackListItem])
def callbacks(
    session: SessionDep,
    business_id: RowId | None = None,
    status: Annotated[CallbackStatus | None, Query(description="How the call-back stands")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CallbackListItem]:
    """Call-backs promised to callers, the soonest due first."""
    return list_callbacks(session, business_id=business_id, status=status, limit=limit)


@router.get("/health", response_model=Health)
async def health_details(request: Request) -> Health:
    """Every dependency checked now, with its latency and, when down, why (the public /api/health
    only says up or down, from a cached result). Always 200: the status is in the body."""
    return health_report(await DependencyChecks.of(request.app).run(EVERY_DEPENDENCY))

"""The admin JSON API under /api/admin: businesses and their configuration, the dashboard, calls.

Every route needs the admin key (bearer) or an admin session (cookie); the admin pages use
the same routes from the browser. All of it is in the OpenAPI schema at /docs.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.admin_auth import AdminApi
from api.call_queries import (
    CallbackListItem,
    CallDetail,
    CallFilters,
    CallPage,
    LiveState,
    call_detail,
    list_callbacks,
    list_calls,
    read_live_state,
    temporal_ui_link,
)
from api.dashboard import Dashboard, build_dashboard
from api.dependencies import SessionDep
from business.config import BusinessConfig
from business.instructions import build_instructions
from database.models import Business, utcnow

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminApi])

MAX_DASHBOARD_DAYS = 366


class BusinessSummary(BaseModel):
    id: int
    name: str
    phone_number: str | None
    updated_at: datetime


class InstructionsPreview(BaseModel):
    greeting: str = Field(description="What the receptionist says when it answers")
    instructions: str = Field(description="The instructions both voice paths give the model")


class CallInspection(CallDetail):
    temporal_ui_url: str = Field(description="The call's workflow in the Temporal UI")
    live: LiveState | None = Field(default=None, description="Only for a call that has not finished")


class DateRange(BaseModel):
    since: date
    until: date


def date_range(
    since: Annotated[date | None, Query(description="First day (default: six days before `until`)")] = None,
    until: Annotated[date | None, Query(description="Last day, included (default: today, UTC)")] = None,
) -> DateRange:
    until = until or datetime.now(timezone.utc).date()
    since = since or until - timedelta(days=6)
    if since > until:
        raise HTTPException(422, f"the range starts ({since}) after it ends ({until})")
    if (until - since).days >= MAX_DASHBOARD_DAYS:
        raise HTTPException(422, f"the range is {(until - since).days + 1} days; at most {MAX_DASHBOARD_DAYS} fit a dashboard")
    return DateRange(since=since, until=until)


def get_business(session: Session, business_id: int) -> Business:
    business = session.get(Business, business_id)
    if business is None:
        raise HTTPException(404, f"no business with id {business_id}")
    return business


def list_businesses(session: Session) -> list[BusinessSummary]:
    rows = session.exec(select(Business).order_by(col(Business.id))).all()
    return [BusinessSummary.model_validate(b, from_attributes=True) for b in rows]


def save_business_config(session: Session, business_id: int, config: BusinessConfig) -> BusinessConfig:
    """Saves the whole configuration; the next call of this business (on either voice path) reads it."""
    business = get_business(session, business_id)
    business.config = config.model_dump(mode="json")
    business.name = config.name
    business.phone_number = config.phone_number
    business.updated_at = utcnow()
    session.add(business)
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


@router.get("/businesses/{business_id}/config", response_model=BusinessConfig)
def business_config(business_id: int, session: SessionDep) -> BusinessConfig:
    """A business's whole configuration, as both voice paths read it."""
    return BusinessConfig.model_validate(get_business(session, business_id).config)


@router.put(
    "/businesses/{business_id}/config",
    response_model=BusinessConfig,
    responses={404: {"description": "No such business"}, 409: {"description": "The phone number belongs to another business"}},
)
def update_business_config(business_id: int, config: BusinessConfig, session: SessionDep) -> BusinessConfig:
    """Replaces a business's configuration. Invalid values get 422 naming each field; nothing is saved then."""
    return save_business_config(session, business_id, config)


@router.post("/instructions-preview", response_model=InstructionsPreview)
def instructions_preview(config: BusinessConfig) -> InstructionsPreview:
    """What the agent would be told with this configuration, without saving it."""
    return InstructionsPreview(greeting=config.greeting_text(), instructions=build_instructions(config))


@router.get("/dashboard", response_model=Dashboard)
def dashboard(
    session: SessionDep,
    days: Annotated[DateRange, Depends(date_range)],
    business_id: Annotated[int | None, Query(description="One business; all when omitted")] = None,
) -> Dashboard:
    """The key metrics against their targets, calls per day, latency, outcomes, fallbacks and cost."""
    if business_id is not None:
        get_business(session, business_id)
    return build_dashboard(session, business_id, days.since, days.until)


@router.get("/calls", response_model=CallPage)
def calls(
    session: SessionDep,
    business_id: int | None = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    outcome: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[date | None, Query(description="Calls that started on or after this day (UTC)")] = None,
    until: Annotated[date | None, Query(description="Calls that started on or before this day (UTC)")] = None,
    caller: Annotated[str | None, Query(max_length=20, description="The caller's number or its last digits")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CallPage:
    """Calls, newest first, with their outcome and per-call metrics."""
    return list_calls(session, call_filters(business_id, status, outcome, since, until, caller), limit=limit, offset=offset)


def call_filters(
    business_id: int | None, status: str | None, outcome: str | None, since: date | None, until: date | None, caller: str | None
) -> CallFilters:
    if since and until and since > until:
        raise HTTPException(422, f"`since` ({since}) is after `until` ({until})")
    midnight = datetime.min.time()
    return CallFilters(
        business_id=business_id,
        status=status or None,
        outcome=outcome or None,
        since=datetime.combine(since, midnight, timezone.utc) if since else None,
        until=datetime.combine(until + timedelta(days=1), midnight, timezone.utc) if until else None,
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
    )


@router.get("/calls/{call_id}", response_model=CallInspection, responses={404: {"description": "No such call"}})
async def call(call_id: str, request: Request, session: SessionDep) -> CallInspection:
    """One call: transcript, timings, errors (fallback steps), bookings, call-backs, escalations, live state."""
    return await inspect_call(request, session, call_id)


CALLBACK_STATUSES = ("pending", "dialing", "done", "voicemail", "fulfilled", "failed")


@router.get("/callbacks", response_model=list[CallbackListItem])
def callbacks(
    session: SessionDep,
    business_id: Annotated[int | None, Query(gt=0)] = None,
    status: Annotated[str | None, Query(description=f"One of {', '.join(CALLBACK_STATUSES)}")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CallbackListItem]:
    """Call-backs promised to callers, the soonest due first."""
    if status is not None and status not in CALLBACK_STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(CALLBACK_STATUSES)}")
    return list_callbacks(session, business_id=business_id, status=status, limit=limit)

"""`POST /api/ai/call-me`: the browser demo's phone fallback. When WebRTC cannot connect, the
visitor gives a number and consents, and the business's line calls them once, now.

The call is a call-back due now (`database/call_me.py`), kept by the same `CallbackWorkflow`:
it dials with Telnyx from the business's number, tagged with a signed `client_state`, and the
dialled call's webhooks start its `CallWorkflow` like any call-back's, keyed by the call's id,
so a redelivered `call.answered` never starts a second one. A busy line, no answer or a machine
ends it quietly, on record as the call-back's status.

It makes the business's line ring a stranger's phone, so it is guarded: the page's origin (as
for Realtime sessions), the visitor's consent, numbers of the installation's country calling
codes only (CALL_ME_COUNTRY_CODES; no premium-rate, shared-cost or short numbers), and limits
per number, per client address and per business that every API replica shares. Only a saved
business is ever dialled for, never a draft configuration.

A number is called once at a time per business: its `CallbackWorkflow` has an id made of the two,
so a request sent again (a double click, a network retry, a second replica) while that call-back
runs gets the first request's answer, dials nobody and counts against no limit.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.admin_auth import client_address
from api.dependencies import SessionDep, SettingsDep
from api.input_bounds import RowId
from api.realtime_session import AllowedOrigin, preflight
from api.shared_limits import within_limits
from api.upstream_errors import TRY_AGAIN_LATER, upstream_failure
from business.callback_numbers import DialableNumber, check_number, refusal_in_words
from database.call_me import call_me_not_started, forget_call_me, record_call_me
from database.engine import get_engine
from database.models import Business
from database.rate_limits import Allowance
from runtime.settings import Settings
from workflows.callback import CallbackPlan, CallbackWorkflow

router = APIRouter(prefix="/api/ai", tags=["browser demo"])

CONSENT = "CloudGreet may call this number once now"
NO_CONSENT = f"Tick the box \u201c{CONSENT}\u201d: without your consent we do not call."


class CallMeAvailability(BaseModel):
    available: bool
    reason: str | None = Field(default=None, description="Why not, when it is not")
    consent: str = Field(default=CONSENT, description="What the visitor ticks")
    country_codes: list[str] = Field(description="The numbers called: these country calling codes, such as +1")


class CallMeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # no draft configuration: only a saved business is dialled for

    business_id: RowId = Field(strict=True)
    phone_number: str = Field(max_length=40, description="The visitor's number, best with its country code")
    consent: bool = Field(default=False, description=f"The visitor ticked \u201c{CONSENT}\u201d")


class CallMeStarted(BaseModel):
    number: str = Field(description="The number being dialled, E.164")
    business_name: str
    message: str


def _country_codes(settings: Settings) -> list[str]:
    return [f"+{c.strip().lstrip('+')}" for c in settings.call_me_country_codes.split(",") if c.strip()]


def why_unavailable(business: Business, settings: Settings) -> tuple[int, str] | None:
    """(status, reason) when this business's line cannot call anyone; None when it can."""
    if not business.phone_number:
        return 409, f"\u201cCall me\u201d is unavailable: {business.name} has no phone number to call from."
    if not (settings.telnyx_api_key and settings.telnyx_connection_id):
        return 503, "\u201cCall me\u201d is unavailable: this server has no Telnyx account to make calls with."
    if settings.secret_key is None:
        return 503, "\u201cCall me\u201d is unavailable: SECRET_KEY, which signs the call's tag, is not set."
    return None


async def _business(session: SessionDep, business_id: int) -> Business:
    business = await run_in_threadpool(session.get, Business, business_id)
    # Only a business on the public demo rings strangers' phones: any other is none of a visitor's business.
    if business is None or business.id is None or not business.demo_enabled:
        raise HTTPException(404, f"business {business_id} is not on the demo")
    return business


@router.get("/call-me/{business_id}", response_model=CallMeAvailability, responses={404: {}})
async def call_me_availability(business_id: RowId, session: SessionDep, settings: SettingsDep) -> CallMeAvailability:
    """Whether the page may offer "call me" for this business (it asks before it shows the form)."""
    business = await _business(session, business_id)
    unavailable = why_unavailable(business, settings)
    return CallMeAvailability(
        available=unavailable is None,
        reason=unavailable[1] if unavailable else None,
        country_codes=_country_codes(settings),
    )


@router.options("/call-me", include_in_schema=False)
def call_me_preflight(request: Request, settings: SettingsDep) -> Response:
    return preflight(request, settings)


@router.post(
    "/call-me",
    response_model=CallMeStarted,
    status_code=202,
    dependencies=[AllowedOrigin],
    responses={
        403: {"description": "the page's origin is not allowed"},
        404: {"description": "no such business"},
        409: {"description": "the business has no phone number to call from"},
        422: {"description": "no consent, or a number that is not called (the reason in words)"},
        429: {"description": "too many calls to this number, from this client or for this business"},
        503: {"description": "no Telnyx account or SECRET_KEY, or Temporal is down"},
    },
)
async def call_me(body: CallMeRequest, request: Request, session: SessionDep, settings: SettingsDep) -> CallMeStarted:
    if not body.consent:
        raise HTTPException(422, NO_CONSENT)
    business = await _business(session, body.business_id)
    if unavailable := why_unavailable(business, settings):
        raise HTTPException(*unavailable)
    countries = settings.call_me_regions
    number = check_number(body.phone_number, countries)
    if not isinstance(number, DialableNumber):
        raise HTTPException(422, refusal_in_words(body.phone_number.strip(), countries))
    started = CallMeStarted(
        number=number.e164,
        business_name=business.name,
        message=f"Calling {number.e164} now from {business.phone_number}: answer and talk to {business.name}.",
    )
    workflow_id = call_me_workflow_id(business.id, number.e164)
    try:
        client = await request.app.state.temporal.client()
        if await _calling_already(client, workflow_id):
            return started
    except RPCError as error:
        raise _cannot_call(error, business.id) from None
    window = settings.call_me_window_seconds
    await within_limits(
        settings,
        [
            Allowance(f"call-me-number:{number.e164}", settings.call_me_per_number, window),
            Allowance(f"call-me-client:{client_address(request)}", settings.call_me_per_client, window),
            Allowance(f"call-me-business:{business.id}", settings.call_me_per_business, window),
        ],
        "calls requested",
    )
    engine = get_engine(settings.database_url)
    callback_id = await asyncio.to_thread(
        record_call_me, engine, business_id=business.id, number=number.e164, workflow_id=workflow_id
    )
    try:
        await client.start_workflow(
            CallbackWorkflow.run,
            CallbackPlan(
                callback_id=callback_id,
                caller_number=number.e164,
                from_number=business.phone_number,
                due_at=datetime.now(UTC),
                max_attempts=1,  # asked for now: a missed call is not tried again later
                ring_seconds=settings.call_me_ring_seconds,
                callback_countries=countries,
                asked_online=True,
            ),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            # Once the last call-back to this number has ended, the visitor may ask again.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        # The same request on another replica got there between our look and our start: its call stands.
        await asyncio.to_thread(forget_call_me, engine, callback_id)
        return started
    except RPCError as error:
        await asyncio.to_thread(call_me_not_started, engine, callback_id)
        raise _cannot_call(error, business.id) from None
    return started


def call_me_workflow_id(business_id: int, number: str) -> str:
    """One running call-back per business and number. The number is hashed: workflow ids reach logs
    and Temporal's UI, where a visitor's number has no business."""
    return f"call-me-{business_id}-{hashlib.sha256(number.encode()).hexdigest()[:20]}"


async def _calling_already(client: Client, workflow_id: str) -> bool:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


def _cannot_call(error: RPCError, business_id: int) -> HTTPException:
    return upstream_failure(
        503, f"We cannot call you right now; {TRY_AGAIN_LATER}", "temporal", error, business_id=business_id
    )

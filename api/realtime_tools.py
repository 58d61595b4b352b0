"""`POST /api/ai/realtime-tools/{business_id}`: the project runs a Realtime session's function calls.

The page forwards each function call the Realtime model makes (name, arguments JSON, call_id)
with the session's signed `tools_token`; this runs it through the phone path's tool dispatcher
(`receptionist.tool_dispatch`) against the same appointment book, with an idempotency key from
the session and the call_id, so a forwarded call sent twice books once, and answers the text the
page returns to the session as `function_call_output`. A browser demo has no phone line, so
escalation, messages and hanging up get answers that say what a phone call would do.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import SessionDep, SettingsDep
from api.input_bounds import INVALID_INPUT, RowId
from api.realtime_session import AllowedOrigin, preflight, read_tools_token
from business.config import BusinessConfig
from business.opening_hours import next_opening, spoken_moment
from database.appointment_book import AppointmentBook
from database.models import Business
from receptionist.appointment_requests import (
    BookingRequest,
    CancelRequest,
    CodeRequest,
    FreeTimesRequest,
    LookUpRequest,
    MoveRequest,
    ToolOutcome,
)
from receptionist.booking_proof import NO_NUMBER
from receptionist.tool_dispatch import TakenMessage, ToolContext, dispatch_tool_call
from receptionist.tools import ToolCall

router = APIRouter(prefix="/api/ai", tags=["browser demo"])


class RealtimeToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The token carries a draft configuration: one at every limit of BusinessConfig signs to under 60,000 characters.
    session_token: str = Field(min_length=1, max_length=100_000, description="tools_token of the session")
    call_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$", description="The Realtime call_id"
    )
    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(default="{}", max_length=4000, description="The arguments JSON, as the model sent it")


class RealtimeToolResult(BaseModel):
    output: str = Field(description="Send back as the function_call_output of call_id")
    ok: bool
    end_session: bool = Field(default=False, description="Hang up once the agent has said goodbye")
    appointment_id: int | None = None


class BrowserDemoEffects:
    """The tools' effects in a browser demo: the appointment book itself, and words instead of a phone line.

    A visitor has no phone number, so the book lets them move or cancel only what their own session
    booked, as it does for a web conversation.
    """

    def __init__(self, book: AppointmentBook, config: BusinessConfig, now: datetime) -> None:
        self._book = book
        self._config = config
        self._now = now

    async def find_free_times(self, request: FreeTimesRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book.find_free_times, request)

    async def book(self, request: BookingRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book.book, request)

    async def look_up(self, request: LookUpRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book.look_up, request)

    async def move(self, request: MoveRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book.move, request)

    async def cancel(self, request: CancelRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book.cancel, request)

    async def text_code(self, request: CodeRequest) -> ToolOutcome:
        return ToolOutcome(ok=False, message=NO_NUMBER)  # a visitor has no phone to text

    async def escalate(self, reason: str, *, emergency: bool) -> str:
        as_emergency = " as an emergency" if emergency else ""
        return (
            f"This is a browser demo with no phone line, so nobody is put through. Tell the visitor that on a "
            f"phone call you would now transfer them{as_emergency} to a person at {self._config.name}."
        )

    async def take_message(self, message: TakenMessage) -> str:
        reopening = next_opening(self._config, self._now)
        when = spoken_moment(self._config, reopening, self._now) if reopening else "as soon as they can"
        return (
            f"This is a browser demo, so the message is not stored. Tell the visitor that on a phone call the "
            f"message would be recorded and {self._config.name} would call back {when}."
        )

    async def end_call(self) -> str:
        return "Say a short goodbye now; the page hangs up after it."


@router.options("/realtime-tools/{business_id}", include_in_schema=False)
def tools_preflight(business_id: RowId, request: Request, settings: SettingsDep) -> Response:
    return preflight(request, settings)


@router.post(
    "/realtime-tools/{business_id}",
    response_model=RealtimeToolResult,
    dependencies=[AllowedOrigin],
    responses={
        403: {"description": "bad or expired session token, or origin not allowed"},
        404: {"description": "no such business"},
    }
    | INVALID_INPUT,
)
async def run_realtime_tool(
    business_id: RowId, body: RealtimeToolCall, session: SessionDep, settings: SettingsDep
) -> RealtimeToolResult:
    grant = read_tools_token(settings, body.session_token)
    if grant.business_id != business_id:
        raise HTTPException(403, f"this session belongs to business {grant.business_id}, not {business_id}")
    business = await run_in_threadpool(session.get, Business, business_id)
    if business is None:
        raise HTTPException(404, f"business {business_id} does not exist")
    config = BusinessConfig.model_validate(grant.config if grant.config is not None else business.config)
    now = datetime.now(UTC)
    context = ToolContext(
        business_id=business_id,
        business=config,
        # One demo session is one "call": its bookings are grouped (and capped) as a call's are.
        call_id=f"realtime-{grant.session_id}",
        caller_number=None,
        now=now,
        idempotency_key=f"realtime/{grant.session_id}/{body.call_id}",
        demo=True,  # the /demo page or a draft: no real caller, so what it books is a sandbox
    )
    book = AppointmentBook(settings.database_url, timedelta(hours=settings.demo_booking_hours))
    effects = BrowserDemoEffects(book, config, now)
    # Each function call is forwarded on its own: the per-round cap of a phone reply has no round here.
    answer = await dispatch_tool_call(
        ToolCall(id=body.call_id, name=body.name, arguments=body.arguments), context, effects
    )
    if answer.unfit:
        raise HTTPException(422, answer.text)
    return RealtimeToolResult(
        output=answer.text, ok=answer.ok, end_session=answer.ends_call, appointment_id=answer.appointment_id
    )

"""The tools of a browser demo call, run by the server over the call's control channel.

The Realtime model's function calls reach the API on the control channel
(`activities/realtime_control.py`, owned by `api/browser_calls.py`); each runs through the phone
path's tool dispatcher (`receptionist.tool_dispatch`) against the same appointment book, with an
idempotency key from the call and the function call's call_id, so a repeated call books once. A
browser demo has no phone line, so escalation, messages and hanging up get answers that say what
a phone call would do, and what it books is a sandbox demo booking.

`POST /api/ai/realtime-tools/{business_id}`, where the page used to forward function calls with a
token, answers 410: no page runs a tool any more.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException

from activities.realtime_control import FunctionCall, RunTool, ToolReply
from business.config import BusinessConfig
from business.opening_hours import next_opening, spoken_moment
from database.appointment_book import AppointmentBook
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
from runtime.settings import Settings

router = APIRouter(prefix="/api/ai", tags=["browser demo"])


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
        return "Say a short goodbye now; the call ends after it."


def demo_tool_runner(settings: Settings, business_id: int, config: BusinessConfig, call_id: str) -> RunTool:
    """How the control channel of the browser demo call `call_id` runs a function call."""
    book = AppointmentBook(settings.database_url, timedelta(hours=settings.demo_booking_hours))

    async def run_tool(call: FunctionCall) -> ToolReply:
        now = datetime.now(UTC)
        context = ToolContext(
            business_id=business_id,
            business=config,
            # One demo session is one "call": its bookings are grouped (and capped) as a call's are.
            call_id=f"realtime-{call_id}",
            caller_number=None,
            now=now,
            idempotency_key=f"realtime/{call_id}/{call.call_id}",
            demo=True,  # the /demo page or a draft: no real caller, so what it books is a sandbox
        )
        # Each function call runs on its own: the per-round cap of a phone reply has no round here.
        answer = await dispatch_tool_call(
            ToolCall(id=call.call_id, name=call.name, arguments=call.arguments),
            context,
            BrowserDemoEffects(book, config, now),
        )
        # An unfit call (bad arguments) is answered with what is wrong: the model tries again.
        return ToolReply(output=answer.text, end_call=answer.ends_call)

    return run_tool


@router.post(
    "/realtime-tools/{business_id}",
    status_code=410,
    responses={410: {"description": "gone: the server runs a session's tools itself"}},
)
async def run_realtime_tool(business_id: int) -> None:
    raise HTTPException(
        410,
        "gone: the server runs a Realtime session's function calls itself over the call's control channel; "
        "pages no longer forward them",
    )

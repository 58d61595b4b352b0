"""`POST /api/ai/realtime-tools/{business_id}`: the project runs a Realtime session's function calls.

The page forwards each function call the Realtime model makes (name, arguments JSON, call_id)
with the session's signed `tools_token`; this runs the same validated booking code as the
phone path (`AppointmentBook`, with an idempotency key from the session and the call_id, so a
forwarded call sent twice books once) and answers the text the page returns to the session as
`function_call_output`. A browser demo has no phone line, so escalation, messages and hanging
up get answers that say what a phone call would do.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from activities.appointments import (
    AppointmentBook,
    BookingRequest,
    CancelRequest,
    FreeTimesRequest,
    MoveRequest,
    ToolOutcome,
    _utc,
)
from api.dependencies import SessionDep, SettingsDep
from api.realtime_session import AllowedOrigin, preflight, read_tools_token
from business.config import BusinessConfig
from business.opening_hours import local_time, next_opening, spoken_moment
from database.engine import get_engine
from database.models import Appointment, Business
from receptionist.tools import TOOL_SCHEMAS

router = APIRouter(prefix="/api/ai", tags=["browser demo"])

JSON_TYPES = {"string": str, "boolean": bool}


class RealtimeToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_token: str = Field(min_length=1, max_length=32_000, description="tools_token of the session")
    call_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$", description="The Realtime call_id")
    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(default="{}", max_length=4000, description="The arguments JSON, as the model sent it")


class RealtimeToolResult(BaseModel):
    output: str = Field(description="Send back as the function_call_output of call_id")
    ok: bool
    end_session: bool = Field(default=False, description="Hang up once the agent has said goodbye")
    appointment_id: int | None = None


def check_arguments(name: str, raw: str) -> dict[str, Any]:
    """The arguments as an object that fits the tool's schema; 422 saying what is wrong otherwise."""
    schema = TOOL_SCHEMAS.get(name)
    if schema is None:
        raise HTTPException(422, f"unknown tool {name!r}; the tools are {', '.join(TOOL_SCHEMAS)}")
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError as error:
        raise HTTPException(422, f"arguments of {name} are not JSON: {error.msg}") from None
    if not isinstance(arguments, dict):
        raise HTTPException(422, f"arguments of {name} must be a JSON object")
    parameters = schema["parameters"]
    missing = [field for field in parameters.get("required", []) if arguments.get(field) in (None, "")]
    if missing:
        raise HTTPException(422, f"{name} needs {', '.join(missing)}")
    for field, spec in parameters.get("properties", {}).items():
        wanted = JSON_TYPES.get(spec.get("type"))
        if field in arguments and arguments[field] is not None and wanted and not isinstance(arguments[field], wanted):
            raise HTTPException(422, f"{name}: {field} must be a {spec['type']}")
    return arguments


def _local_start(config: BusinessConfig, moment: datetime) -> str:
    return f"{local_time(config, _utc(moment)):%Y-%m-%dT%H:%M}"


def _session_appointment(database_url: str, business_id: int, call_id: str) -> list[Appointment]:
    with Session(get_engine(database_url)) as session:
        return list(
            session.exec(
                select(Appointment)
                .where(Appointment.business_id == business_id, Appointment.call_id == call_id, Appointment.status == "booked")
                .order_by(Appointment.starts_at)
            ).all()
        )


def _demo_answer(name: str, arguments: dict[str, Any], config: BusinessConfig, now: datetime) -> RealtimeToolResult:
    if name == "escalate_to_human":
        emergency = " as an emergency" if arguments.get("emergency") else ""
        return RealtimeToolResult(
            ok=True,
            output=f"This is a browser demo with no phone line, so nobody is put through. Tell the visitor that on a "
            f"phone call you would now transfer them{emergency} to a person at {config.name}.",
        )
    if name == "take_message":
        reopening = next_opening(config, now)
        when = spoken_moment(config, reopening, now) if reopening else "as soon as they can"
        return RealtimeToolResult(
            ok=True,
            output=f"This is a browser demo, so the message is not stored. Tell the visitor that on a phone call the "
            f"message would be recorded and {config.name} would call back {when}.",
        )
    # end_call
    return RealtimeToolResult(ok=True, output="Say a short goodbye now; the page hangs up after it.", end_session=True)


@router.options("/realtime-tools/{business_id}", include_in_schema=False)
def tools_preflight(business_id: int, request: Request, settings: SettingsDep):  # noqa: ANN201
    return preflight(request, settings)


@router.post(
    "/realtime-tools/{business_id}",
    response_model=RealtimeToolResult,
    dependencies=[AllowedOrigin],
    responses={403: {"description": "bad or expired session token, or origin not allowed"}, 404: {"description": "no such business"}},
)
async def run_realtime_tool(business_id: int, body: RealtimeToolCall, session: SessionDep, settings: SettingsDep) -> RealtimeToolResult:
    grant = read_tools_token(settings, body.session_token)
    if grant.business_id != business_id:
        raise HTTPException(403, f"this session belongs to business {grant.business_id}, not {business_id}")
    business = session.get(Business, business_id)
    if business is None:
        raise HTTPException(404, f"business {business_id} does not exist")
    arguments = check_arguments(body.name, body.arguments)
    config = BusinessConfig.model_validate(grant.config if grant.config is not None else business.config)
    now = datetime.now(timezone.utc)
    if body.name in ("escalate_to_human", "take_message", "end_call"):
        return _demo_answer(body.name, arguments, config, now)

    book = AppointmentBook(settings.database_url)
    # One demo session is one "call": its bookings are grouped (and capped) as a call's are.
    call_id = f"realtime-{grant.session_id}"
    common = dict(business_id=business_id, business=config, call_id=call_id, caller_number=None, now=now)
    text = lambda field: str(arguments.get(field) or "").strip()  # noqa: E731
    outcome: ToolOutcome
    if body.name == "check_availability":
        request = FreeTimesRequest(**common, service=text("service"), day=text("day") or None)
        outcome = await asyncio.to_thread(book._find_free_times, request)
    elif body.name == "book_appointment":
        booking = BookingRequest(
            **common,
            idempotency_key=f"realtime/{grant.session_id}/{body.call_id}",
            service=text("service"),
            start=text("start"),
            caller_name=text("caller_name") or None,
        )
        outcome = await asyncio.to_thread(book._book, booking)
    else:
        # A browser visitor has no phone number to find "their" appointments by: only what this
        # session booked may be moved or cancelled, never another visitor's booking.
        booked = await asyncio.to_thread(_session_appointment, settings.database_url, business_id, call_id)
        wanted = text("current_start") if body.name == "move_appointment" else text("start")
        mine = [a for a in booked if not wanted or _local_start(config, a.starts_at) == wanted]
        if not mine:
            return RealtimeToolResult(
                ok=False, output="In this browser demo only an appointment booked in this same conversation can be changed."
            )
        start = _local_start(config, mine[0].starts_at)
        if body.name == "move_appointment":
            outcome = await asyncio.to_thread(book._move, MoveRequest(**common, current_start=start, new_start=text("new_start")))
        else:
            cancel = CancelRequest(**common, idempotency_key=f"realtime/{grant.session_id}/{body.call_id}", start=start)
            outcome = await asyncio.to_thread(book._cancel, cancel)
    return RealtimeToolResult(output=outcome.message, ok=outcome.ok, appointment_id=outcome.appointment_id)

"""One tool dispatcher for every channel: a model's tool call checked, capped, and turned into an effect.

The phone brain's tool calls (run by `CallWorkflow`) and a Realtime session's function calls (run by
`api/realtime_tools.py`) both come through here, so they are refused for the same reasons in the same
words and build the same appointment requests. What a tool *does* belongs to the caller of the
dispatcher: its `ToolEffects` run activities in a workflow, the appointment book directly in the API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from business.config import BusinessConfig
from receptionist.appointment_requests import (
    BookingProof,
    BookingRequest,
    CancelRequest,
    CodeRequest,
    FreeTimesRequest,
    LookUpRequest,
    MoveRequest,
    ToolOutcome,
)
from receptionist.tools import TOOL_SCHEMAS, ToolCall

# At most this many tool calls in one round of a reply: "book 50 slots" is refused, not obeyed.
MAX_TOOL_CALLS_PER_ROUND = 3

JSON_TYPES: dict[str, type] = {"string": str, "boolean": bool}


class UnfitToolCall(ValueError):
    """A tool call that does not fit its tool's schema; the message says why, for the model or the page."""


def check_arguments(name: str, raw: str) -> dict[str, Any]:
    """The arguments as an object that fits the tool's schema; `UnfitToolCall` saying what is wrong otherwise."""
    schema = TOOL_SCHEMAS.get(name)
    if schema is None:
        raise UnfitToolCall(f"unknown tool {name!r}; the tools are {', '.join(TOOL_SCHEMAS)}")
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError as error:
        raise UnfitToolCall(f"arguments of {name} are not JSON: {error.msg}") from None
    if not isinstance(arguments, dict):
        raise UnfitToolCall(f"arguments of {name} must be a JSON object")
    parameters = schema["parameters"]
    missing = [field for field in parameters.get("required", []) if arguments.get(field) in (None, "")]
    if missing:
        raise UnfitToolCall(f"{name} needs {', '.join(missing)}")
    for field, spec in parameters.get("properties", {}).items():
        wanted = JSON_TYPES.get(spec.get("type"))
        if field in arguments and arguments[field] is not None and wanted and not isinstance(arguments[field], wanted):
            raise UnfitToolCall(f"{name}: {field} must be a {spec['type']}")
    return arguments


@dataclass(frozen=True)
class ToolContext:
    """Who asks, of which business, and when: what every appointment request carries."""

    business_id: int
    business: BusinessConfig
    call_id: str
    caller_number: str | None
    now: datetime
    # This tool call's own key: a retried booking books once, a retried cancellation cancels once.
    idempotency_key: str
    # A demo or test session, not a real caller: what it books is a sandbox.
    demo: bool = False


@dataclass(frozen=True)
class TakenMessage:
    about: str  # what the call-back is about
    message: str | None
    caller_name: str | None
    # A web visitor's number to call back, and whether they confirmed it when it was read back.
    callback_number: str | None = None
    number_confirmed: bool = False


@dataclass(frozen=True)
class ToolAnswer:
    """What becomes of one tool call: the text the model reads back, and what the channel must know."""

    text: str
    ok: bool = True
    appointment_id: int | None = None
    ends_call: bool = False
    unfit: bool = False  # the call itself was wrong (unknown tool, bad arguments); nothing was done


class ToolEffects(Protocol):
    """What the tools do on one channel."""

    async def find_free_times(self, request: FreeTimesRequest) -> ToolOutcome: ...

    async def book(self, request: BookingRequest) -> ToolOutcome: ...

    async def look_up(self, request: LookUpRequest) -> ToolOutcome: ...

    async def move(self, request: MoveRequest) -> ToolOutcome: ...

    async def cancel(self, request: CancelRequest) -> ToolOutcome: ...

    async def text_code(self, request: CodeRequest) -> ToolOutcome: ...

    async def escalate(self, reason: str, *, emergency: bool) -> str: ...

    async def take_message(self, message: TakenMessage) -> str: ...

    async def end_call(self) -> str: ...


async def dispatch_tool_call(
    call: ToolCall, context: ToolContext, effects: ToolEffects, *, position: int = 0, unchecked: bool = False
) -> ToolAnswer:
    """Runs one tool call, the `position`-th of its round.

    `unchecked` runs an unfit call as calls were run before arguments were checked (missing text as
    empty): only for replaying a call that began on that code, which the workflow knows and we don't.
    """
    if position >= MAX_TOOL_CALLS_PER_ROUND:
        return ToolAnswer(
            ok=False, text=f"Refused: at most {MAX_TOOL_CALLS_PER_ROUND} actions at a time. Do one thing at a time."
        )
    try:
        arguments = check_arguments(call.name, call.arguments)
    except UnfitToolCall as unfit:
        if not unchecked:
            return ToolAnswer(ok=False, unfit=True, text=str(unfit))
        arguments = call.parsed_arguments()

    def text(name: str) -> str:
        return str(arguments.get(name) or "").strip()

    common: dict[str, Any] = dict(
        business_id=context.business_id,
        business=context.business,
        call_id=context.call_id,
        caller_number=context.caller_number,
        now=context.now,
        demo=context.demo,
    )
    # What the caller said to show a booking found by caller ID is theirs: the book decides if it does.
    proof = BookingProof(caller_name=text("caller_name") or None, day=text("day") or None, code=text("code") or None)
    outcome: ToolOutcome
    if call.name == "check_availability":
        outcome = await effects.find_free_times(
            FreeTimesRequest(**common, service=text("service"), day=text("day") or None)
        )
    elif call.name == "book_appointment":
        outcome = await effects.book(
            BookingRequest(
                **common,
                idempotency_key=context.idempotency_key,
                service=text("service"),
                start=text("start"),
                caller_name=text("caller_name") or None,
            )
        )
    elif call.name == "look_up_appointment":
        outcome = await effects.look_up(LookUpRequest(**common, idempotency_key=context.idempotency_key, proof=proof))
    elif call.name == "move_appointment":
        outcome = await effects.move(
            MoveRequest(
                **common,
                idempotency_key=context.idempotency_key,
                current_start=text("current_start") or None,
                new_start=text("new_start"),
                proof=proof,
            )
        )
    elif call.name == "cancel_appointment":
        outcome = await effects.cancel(
            CancelRequest(**common, idempotency_key=context.idempotency_key, start=text("start") or None, proof=proof)
        )
    elif call.name == "text_booking_code":
        outcome = await effects.text_code(CodeRequest(**common, idempotency_key=context.idempotency_key))
    elif call.name == "escalate_to_human":
        reason = text("reason") or "the caller asked for a person"
        return ToolAnswer(text=await effects.escalate(reason, emergency=bool(arguments.get("emergency"))))
    elif call.name == "take_message":
        # Without a topic, what the message says is what the call-back is about.
        message = TakenMessage(
            about=text("reason") or text("message") or "your message",
            message=text("message") or None,
            caller_name=text("caller_name") or None,
            callback_number=text("callback_number") or None,
            number_confirmed=arguments.get("number_confirmed") is True,
        )
        return ToolAnswer(text=await effects.take_message(message))
    elif call.name == "end_call":
        return ToolAnswer(text=await effects.end_call(), ends_call=True)
    else:
        # Only an unchecked call gets here: a checked one names a tool of TOOL_SCHEMAS.
        return ToolAnswer(ok=False, unfit=True, text=f"Unknown tool {call.name!r}.")
    return ToolAnswer(text=outcome.message, ok=outcome.ok, appointment_id=outcome.appointment_id)

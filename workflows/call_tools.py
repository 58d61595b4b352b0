"""The tools of a call: what the workflow does when the brain asks to book, look up, escalate, end.

A mixin of `CallWorkflow` (workflows/call.py): every argument the model sent is checked by the
activities, every effect carries an idempotency key built from the workflow id and the tool's
place in the turn.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.appointments import (
        AppointmentBook,
        BookingRequest,
        CancelRequest,
        FreeTimesRequest,
        MoveRequest,
        ToolOutcome,
    )
    from activities.telnyx_commands import TelnyxCommands, TextMessage
    from receptionist.tools import ToolCall
    from workflows.call_options import (
        MAX_TOOL_CALLS_PER_ROUND,
        TELNYX_COMMAND,
        TOOL_ACTIVITY,
    )


class CallTools:
    async def _run_tool(self, call: ToolCall, key: str, position: int) -> str:
        if position >= MAX_TOOL_CALLS_PER_ROUND:
            return f"Refused: at most {MAX_TOOL_CALLS_PER_ROUND} actions at a time. Do one thing at a time."
        arguments = call.parsed_arguments()
        common = dict(
            business_id=self._context.business_id,
            business=self._context.business,
            call_id=self._state.call_control_id,
            caller_number=self._other_party(),
            now=workflow.now(),
        )
        text = lambda name: str(arguments.get(name) or "").strip()  # noqa: E731
        if call.name == "check_availability":
            outcome = await self._tool(AppointmentBook.find_free_times, FreeTimesRequest(**common, service=text("service"), day=text("day") or None))
        elif call.name == "book_appointment":
            outcome = await self._tool(
                AppointmentBook.book_appointment,
                BookingRequest(
                    **common,
                    idempotency_key=f"{workflow.info().workflow_id}/{key}",
                    service=text("service"),
                    start=text("start"),
                    caller_name=text("caller_name") or None,
                ),
            )
            if outcome.ok:
                self._state.outcome = "booked"
                await self._confirm_by_text(outcome, key)
        elif call.name == "move_appointment":
            outcome = await self._tool(AppointmentBook.move_appointment, MoveRequest(**common, current_start=text("current_start") or None, new_start=text("new_start")))
        elif call.name == "cancel_appointment":
            outcome = await self._tool(
                AppointmentBook.cancel_appointment,
                CancelRequest(**common, idempotency_key=f"{workflow.info().workflow_id}/{key}", start=text("start") or None),
            )
        elif call.name == "escalate_to_human":
            self._requested_escalation = (text("reason") or "the caller asked for a person", bool(arguments.get("emergency")))
            return "Transferring the caller to a person now."
        elif call.name == "take_message":
            # Without a topic, what the message says is what the call-back is about.
            when = await self._schedule_callback(text("reason") or text("message") or "your message", text("message") or None, urgent=False, caller_name=text("caller_name") or None)
            self._state.outcome = self._state.outcome or "message"
            return f"Message taken. A call-back is scheduled for {when}."
        elif call.name == "end_call":
            self._ending = True
            return "Ending the call."
        else:
            return f"Unknown tool {call.name!r}."
        return outcome.message

    async def _tool(self, activity_method, request) -> ToolOutcome:  # noqa: ANN001
        try:
            return await workflow.execute_activity_method(activity_method, request, **TOOL_ACTIVITY)
        except ActivityError as error:
            await self._record_error("tool", error)
            return ToolOutcome(ok=False, message="Sorry, I couldn't do that just now.")

    async def _confirm_by_text(self, outcome: ToolOutcome, key: str) -> None:
        business = self._context.business
        caller = self._other_party()
        if not (business.sms_from_number and caller):
            return
        message = TextMessage(
            idempotency_key=f"{workflow.info().workflow_id}/{key}/sms",
            from_number=business.sms_from_number,
            to=caller,
            text=f"{business.name}: {outcome.message} Reply or call us to change it.",
        )
        await self._send_text(message)

    async def _send_text(self, message: TextMessage) -> None:
        """A text is a courtesy: when Telnyx refuses it, the call goes on and the error is on record."""
        try:
            await workflow.execute_activity_method(TelnyxCommands.send_text_message, message, **TELNYX_COMMAND)
        except ActivityError as error:
            await self._record_error("telnyx.sms", error)

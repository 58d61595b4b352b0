"""The tools of a call: what the workflow does when the brain asks to book, look up, escalate, end.

`receptionist.tool_dispatch` checks and dispatches every tool call, for the phone and the browser
alike; `CallTools` are the call's effects: activities with an idempotency key built from the
workflow id and the tool's place in the turn. Escalation and the goodbye are only noted here:
the turn finishes what it is saying, and the workflow acts on them after it.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.appointments import BOOK_UNAVAILABLE, AppointmentActivities
    from activities.booking_codes import BookingCodes
    from activities.telnyx_commands import TextMessage
    from business.booking_rules import check_slot, parse_local_start
    from business.languages import primary
    from domain.vocabulary import CallOutcome, Channel
    from receptionist.appointment_requests import (
        BookingRequest,
        CancelRequest,
        CodeRequest,
        FreeTimesRequest,
        LookUpRequest,
        MoveRequest,
        ToolOutcome,
    )
    from receptionist.kept_bookings import CONFIRM_REASON, OTHER_TIMES_REASON, taken_down_words
    from receptionist.offline_responder import SPANISH_SERVICE_NAMES
    from receptionist.tool_dispatch import (
        TakenMessage,
        ToolContext,
        UnfitToolCall,
        check_arguments,
        dispatch_tool_call,
    )
    from receptionist.tools import ToolCall
    from receptionist.unasked_words import BOOKED_FOR, BOOKING_TEXTED, moment_in, words_in
    from workflows.call_options import RECORD_WRITE, TOOL_ACTIVITY, WHILE_THE_CALLER_WAITS

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_callbacks import Callbacks
from workflows.call_language import language_of
from workflows.call_progress import CallProgress, EscalationRequest

# Calls that began before tool arguments were checked ran an unfit call with what it had.
ARGUMENTS_CHECKED = "tool-arguments-checked"
SORRY = "Sorry, I couldn't do that just now."


def _book_unavailable(error: ActivityError) -> bool:
    """The book did not answer (refused, or hung past the attempts' timeouts); not a refusal of the booking."""
    cause = error.cause
    return isinstance(cause, ActivityTimeout) or (
        isinstance(cause, ApplicationError) and cause.type == BOOK_UNAVAILABLE
    )


class CallTools:
    def __init__(self, progress: CallProgress, books: Bookkeeping, callbacks: Callbacks) -> None:
        self._progress = progress
        self._books = books
        self._callbacks = callbacks

    async def run(self, call: ToolCall, key: str, position: int) -> str:
        """Runs the `position`-th tool call of a round; what it did, for the brain to read."""
        progress = self._progress
        context = ToolContext(
            business_id=progress.context.business_id,
            business=progress.context.business,
            call_id=progress.call_control_id,
            caller_number=progress.other_party(),
            now=workflow.now(),
            idempotency_key=f"{workflow.info().workflow_id}/{key}",
            # A web conversation is the demo's fallback or an owner's test: its bookings are a sandbox.
            # Only the activities' arguments change, so recorded histories replay.
            demo=progress.live.channel == Channel.WEB,
        )
        answer = await dispatch_tool_call(call, context, self, position=position, unchecked=self._unchecked(call))
        return answer.text

    @staticmethod
    def _unchecked(call: ToolCall) -> bool:
        """True only when replaying a call that ran an unfit tool call as it came, before arguments were checked."""
        try:
            check_arguments(call.name, call.arguments)
        except UnfitToolCall:
            return not patched(ARGUMENTS_CHECKED)
        return False

    # --- the effects (receptionist.tool_dispatch.ToolEffects) ------------------------------------

    async def find_free_times(self, request: FreeTimesRequest) -> ToolOutcome:
        return await self._appointment_activity(AppointmentActivities.find_free_times, request)

    async def book(self, request: BookingRequest) -> ToolOutcome:
        if self._progress.records_in_background:
            try:
                # Seconds, not the tool's minute of retries: a book that does not answer keeps the booking.
                outcome = await workflow.execute_activity_method(
                    AppointmentActivities.book_appointment, request, **WHILE_THE_CALLER_WAITS
                )
            except ActivityError as error:
                await self._books.record_error("tool", error)
                if _book_unavailable(error):
                    return self._keep_booking(request)
                return ToolOutcome(ok=False, message=SORRY)
        else:
            outcome = await self._appointment_activity(AppointmentActivities.book_appointment, request)
        if outcome.ok:
            self._progress.live.outcome = CallOutcome.BOOKED
            await self._confirm_by_text(outcome, request)
        return outcome

    async def look_up(self, request: LookUpRequest) -> ToolOutcome:
        return await self._appointment_activity(AppointmentActivities.look_up_appointment, request)

    async def move(self, request: MoveRequest) -> ToolOutcome:
        return await self._appointment_activity(AppointmentActivities.move_appointment, request)

    async def cancel(self, request: CancelRequest) -> ToolOutcome:
        return await self._appointment_activity(AppointmentActivities.cancel_appointment, request)

    async def text_code(self, request: CodeRequest) -> ToolOutcome:
        request = request.model_copy(update={"language": language_of(self._progress)})
        return await self._appointment_activity(BookingCodes.text_booking_code, request)

    async def escalate(self, reason: str, *, emergency: bool) -> str:
        self._progress.requested_escalation = EscalationRequest(reason, emergency)
        return "Transferring the caller to a person now."

    async def take_message(self, message: TakenMessage) -> str:
        return await self._callbacks.take_message(message)

    async def end_call(self) -> str:
        self._progress.ending = True
        return "Ending the call."

    # ------------------------------------------------------------------------------------------------

    async def _appointment_activity(self, activity_method: Any, request: Any) -> ToolOutcome:
        try:
            outcome: ToolOutcome = await workflow.execute_activity_method(activity_method, request, **TOOL_ACTIVITY)
        except ActivityError as error:
            await self._books.record_error("tool", error)
            return ToolOutcome(ok=False, message=SORRY)
        return outcome

    def _keep_booking(self, request: BookingRequest) -> ToolOutcome:
        """The appointment book is down: a booking that fits the business's rules is read back and
        kept with the call's records, and booked and confirmed when the book answers."""
        check = check_slot(request.business, request.service, request.start, workflow.now())
        if not check.ok:
            return ToolOutcome(ok=False, message=check.reason or "That time can't be booked.")
        # Numbered now, so that a retried write schedules the same call-back.
        callback = self._progress.next("callback")
        self._books.keep(f"booking {request.idempotency_key}", lambda: self._book_kept(request, callback))
        return ToolOutcome(
            ok=True,
            message=taken_down_words(
                request.business, check, request.caller_name, workflow.now(), by_text=self._can_text()
            ),
        )

    async def _book_kept(self, request: BookingRequest, callback: int) -> None:
        """Books a kept booking (a failed attempt is tried again with the call's other records) and
        confirms it, or offers the nearest free times by call-back when its time is gone."""
        outcome: ToolOutcome = await workflow.execute_activity_method(
            AppointmentActivities.book_appointment, request.model_copy(update={"now": workflow.now()}), **RECORD_WRITE
        )
        live = self._progress.live
        if not outcome.ok:
            await self._callbacks.schedule_kept(callback, OTHER_TIMES_REASON, outcome.message)
            live.outcome = CallOutcome.MESSAGE
            return
        live.outcome = CallOutcome.BOOKED
        if self._can_text():
            await self._confirm_by_text(outcome, request)
        else:
            await self._callbacks.schedule_kept(callback, CONFIRM_REASON, outcome.message)

    def _can_text(self) -> bool:
        return bool(self._progress.context.business.sms_from_number and self._progress.other_party())

    async def _confirm_by_text(self, outcome: ToolOutcome, request: BookingRequest) -> None:
        business = self._progress.context.business
        caller = self._progress.other_party()
        # A demo booking is not confirmed (a web visitor has no caller number anyway: no command changes).
        if request.demo or not (business.sms_from_number and caller):
            return
        language = language_of(self._progress)
        booked = outcome.message  # the book's words, in English
        if primary(language) != "en" and primary(language) in BOOKED_FOR:
            service = business.find_service(request.service)
            named = (
                SPANISH_SERVICE_NAMES.get(service.name.lower(), service.name.lower()) if service else request.service
            )
            when = moment_in(language, business, parse_local_start(business, request.start), workflow.now())
            booked = words_in(BOOKED_FOR, language, service=named, when=when)
        await self._books.send_text(
            TextMessage(
                idempotency_key=f"{request.idempotency_key}/sms",
                from_number=business.sms_from_number,
                to=caller,
                text=words_in(BOOKING_TEXTED, language, business=business.name, booked=booked),
            )
        )

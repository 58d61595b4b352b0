"""`CalendarSyncWorkflow`: one sync of a business's own calendar, started by its Temporal schedule.

It reads the calendar and CloudGreet's bookings (activities), decides with
`business.calendar_sync_plan`, and acts: busy times kept (they block slots), moves and deletions
made in the calendar followed (the calendar wins) with the caller told by SMS (or, for a business
that cannot text, a call-back), new, moved and cancelled bookings written there. Every outcome
ends in the link's status, which the configuration page and the admin API show.

No caller ever waits on CalDAV: bookings are made on CloudGreet's table by the calls, and only this
workflow writes them to the calendar. A calendar that does not answer gets a few retries per sync
(bounded); the bookings wait for a later sync, and the status says how many wait.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.calendar_sync import (
        CALENDAR_NO_PASSWORD,
        CALENDAR_REFUSED,
        BusyTimes,
        CalendarFollow,
        CalendarRead,
        CalendarSync,
        CallerNotice,
        EventDelete,
        EventWrite,
        SyncReport,
        SyncState,
        SyncStateRequest,
    )
    from activities.follow_ups import CallbackRequest, FollowUps
    from activities.telnyx_commands import TelnyxCommands, TextMessage
    from business.calendar_link import calendar_window
    from business.calendar_sync_plan import plan_sync
    from domain.vocabulary import CalendarChange, CalendarSyncOutcome
    from workflows.call_options import LIVENESS_HEARTBEAT, TELNYX_COMMAND, ActivityOptions
    from workflows.callback import CallbackPlan, CallbackWorkflow

# CalDAV requests: a few tries a sync, then the next sync of the schedule tries again.
CALENDAR_IO = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=40),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=3,
        non_retryable_error_types=[CALENDAR_REFUSED, CALENDAR_NO_PASSWORD],
    ),
)
# CloudGreet's own records: the database may be away for a while; the next sync starts over anyway.
CALENDAR_RECORDS = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=15),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=500), maximum_interval=timedelta(seconds=10), maximum_attempts=20
    ),
)
OUTCOMES_OF_ERRORS = {
    CALENDAR_REFUSED: CalendarSyncOutcome.REFUSED,
    CALENDAR_NO_PASSWORD: CalendarSyncOutcome.NO_PASSWORD,
}


def _failure(error: ActivityError) -> tuple[CalendarSyncOutcome, str]:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return OUTCOMES_OF_ERRORS.get(cause.type or "", CalendarSyncOutcome.UNREACHABLE), cause.message
    return CalendarSyncOutcome.UNREACHABLE, str(cause or error)


@workflow.defn
class CalendarSyncWorkflow:
    @workflow.run
    async def run(self, business_id: int) -> SyncReport | None:
        now = workflow.now()
        state: SyncState | None = await workflow.execute_activity_method(
            CalendarSync.calendar_sync_state, SyncStateRequest(business_id=business_id, now=now), **CALENDAR_RECORDS
        )
        if state is None:
            return None  # unlinked since the schedule fired
        waiting = [
            b for b in state.bookings if b.booked and (b.starts_at, b.ends_at) != (b.event_starts_at, b.event_ends_at)
        ]
        start, end = calendar_window(now)
        try:
            events = await workflow.execute_activity_method(
                CalendarSync.read_calendar, CalendarRead(business_id=business_id, start=start, end=end), **CALENDAR_IO
            )
        except ActivityError as error:
            outcome, message = _failure(error)
            return await self._report(
                SyncReport(business_id=business_id, at=now, outcome=outcome, error=message, waiting_writes=len(waiting))
            )

        plan = plan_sync(state.bookings, events)
        await workflow.execute_activity_method(
            CalendarSync.keep_calendar_busy_times,
            BusyTimes(business_id=business_id, busy=plan.busy),
            **CALENDAR_RECORDS,
        )
        for move in plan.moved_by_calendar:
            await self._follow(
                state,
                CalendarFollow(
                    business_id=business_id, booking=move.booking, change=CalendarChange.MOVED, to=move.to, now=now
                ),
            )
        for booking in plan.cancelled_by_calendar:
            await self._follow(
                state,
                CalendarFollow(business_id=business_id, booking=booking, change=CalendarChange.CANCELLED, now=now),
            )

        unwritten = len(plan.write) + len(plan.delete)
        try:
            for booking in plan.write:
                await workflow.execute_activity_method(
                    CalendarSync.write_calendar_event,
                    EventWrite(business_id=business_id, business_name=state.business.name, booking=booking),
                    **CALENDAR_IO,
                )
                unwritten -= 1
            for booking in plan.delete:
                await workflow.execute_activity_method(
                    CalendarSync.delete_calendar_event,
                    EventDelete(business_id=business_id, booking=booking),
                    **CALENDAR_IO,
                )
                unwritten -= 1
        except ActivityError as error:  # the calendar went away mid-sync: the rest waits for the next one
            outcome, message = _failure(error)
            return await self._report(
                SyncReport(business_id=business_id, at=now, outcome=outcome, error=message, waiting_writes=unwritten)
            )
        return await self._report(
            SyncReport(
                business_id=business_id,
                at=now,
                outcome=CalendarSyncOutcome.SYNCED,
                events_seen=len(events),
                overlapping_bookings=len(plan.overlapping),
            )
        )

    async def _report(self, report: SyncReport) -> SyncReport:
        await workflow.execute_activity_method(CalendarSync.record_calendar_sync, report, **CALENDAR_RECORDS)
        return report

    async def _follow(self, state: SyncState, follow: CalendarFollow) -> None:
        """Follows the calendar, then tells the caller: a text, or a call-back from a business that cannot text."""
        notice: CallerNotice | None = await workflow.execute_activity_method(
            CalendarSync.follow_calendar, follow, **CALENDAR_RECORDS
        )
        if notice is None:
            return
        # One notice per change the calendar made: a later sync that sees the same change sends nothing
        # (the booking already follows it), and a replayed or retried one reuses the key.
        booking = follow.booking
        when = (follow.to.starts_at if follow.to else booking.starts_at).isoformat()
        key = f"calendar/{state.business_id}/appointment-{booking.appointment_id}/{follow.change.value}/{when}"
        if notice.from_number:
            await workflow.execute_activity_method(
                TelnyxCommands.send_text_message,
                TextMessage(idempotency_key=key, from_number=notice.from_number, to=notice.to, text=notice.text),
                **TELNYX_COMMAND,
            )
            return
        callback_workflow_id = f"callback-{key.replace('/', '-')}"
        scheduled = await workflow.execute_activity_method(
            FollowUps.schedule_callback,
            CallbackRequest(
                idempotency_key=key,
                business_id=state.business_id,
                business=state.business,
                call_id=None,
                caller_number=notice.to,
                caller_name=booking.caller_name,
                reason=notice.reason,
                message=notice.text,
                now=workflow.now(),
                workflow_id=callback_workflow_id,
            ),
            **CALENDAR_RECORDS,
        )
        if scheduled.callback_id is None or scheduled.due_at is None:
            return  # refused by the call-back caps: the change stays on record in the appointment book
        await workflow.start_child_workflow(
            CallbackWorkflow.run,
            CallbackPlan(
                callback_id=scheduled.callback_id,
                caller_number=scheduled.caller_number or notice.to,
                from_number=scheduled.from_number,
                due_at=scheduled.due_at,
                max_attempts=scheduled.max_attempts,
                retry_spacing_seconds=scheduled.retry_spacing_seconds,
                ring_seconds=scheduled.ring_seconds,
                callback_countries=scheduled.callback_countries,
            ),
            id=callback_workflow_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )

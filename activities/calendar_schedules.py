"""The Temporal schedule of each linked calendar: a `CalendarSyncWorkflow` run every CALENDAR_SYNC_SECONDS.

Made (or updated) when an admin links a calendar, deleted when it is unlinked; the worker makes
sure at start that every linked calendar has one (a link saved while Temporal was away).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

SYNC_WORKFLOW = "CalendarSyncWorkflow"  # workflows.calendar_sync, by name: activities sit below workflows


def calendar_sync_id(business_id: int) -> str:
    """The schedule's id, and the prefix of its runs' workflow ids."""
    return f"calendar-sync-{business_id}"


def _schedule(business_id: int, task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SYNC_WORKFLOW,
            business_id,
            id=calendar_sync_id(business_id),
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # One sync at a time per calendar; a "sync now" during a sync runs once it ends.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE),
    )


async def keep_calendar_schedule(client: Client, business_id: int, task_queue: str, every: timedelta) -> None:
    """Creates the calendar's schedule, or brings an existing one to these settings; syncs at once."""
    schedule = _schedule(business_id, task_queue, every)
    try:
        await client.create_schedule(calendar_sync_id(business_id), schedule, trigger_immediately=True)
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        handle = client.get_schedule_handle(calendar_sync_id(business_id))
        await handle.update(update)
        await handle.trigger()


async def sync_calendar_now(client: Client, business_id: int) -> None:
    await client.get_schedule_handle(calendar_sync_id(business_id)).trigger()


async def drop_calendar_schedule(client: Client, business_id: int) -> None:
    try:
        await client.get_schedule_handle(calendar_sync_id(business_id)).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise


async def keep_every_calendar_schedule(
    client: Client, business_ids: list[int], task_queue: str, every: timedelta
) -> None:
    """A schedule for each linked calendar that has none (linked while Temporal was away); existing ones
    are left as they are."""
    for business_id in business_ids:
        try:
            await client.create_schedule(
                calendar_sync_id(business_id), _schedule(business_id, task_queue, every), trigger_immediately=True
            )
        except ScheduleAlreadyRunningError:
            continue

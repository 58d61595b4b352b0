"""A booking made, moved or cancelled reaches the business's calendar in seconds, not at the next
scheduled sync: the appointment activities ask its schedule for a sync now.

Best effort and off the caller's path: the request to Temporal runs beside the activity, which
answers the caller at once. It never fails the booking, and a missed one only means the next
scheduled sync writes it (CALENDAR_SYNC_SECONDS).
"""

from __future__ import annotations

import asyncio

import structlog
from sqlmodel import Session
from temporalio import activity
from temporalio.client import Client

from activities.calendar_schedules import sync_calendar_now
from database.calendar_models import CalendarLink
from database.engine import get_engine

NUDGE_TIMEOUT_SECONDS = 5.0
log = structlog.get_logger(__name__)
_in_flight: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


def _linked(database_url: str, business_id: int) -> bool:
    with Session(get_engine(database_url)) as session:
        return session.get(CalendarLink, business_id) is not None


async def _nudge(client: Client, business_id: int) -> None:
    try:
        async with asyncio.timeout(NUDGE_TIMEOUT_SECONDS):
            await sync_calendar_now(client, business_id)
    except Exception as error:  # noqa: BLE001  (whatever it is, the booking stands; the schedule catches up)
        log.info("calendar sync not nudged", business_id=business_id, error=repr(error))


async def sync_calendar_soon(database_url: str, business_id: int) -> None:
    """Asks for a sync of the business's calendar, if it has one linked, without waiting for it."""
    try:
        if not await asyncio.to_thread(_linked, database_url, business_id):
            return
        task = asyncio.create_task(_nudge(activity.client(), business_id))
    except Exception as error:  # noqa: BLE001
        log.info("calendar sync not nudged", business_id=business_id, error=repr(error))
        return
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)

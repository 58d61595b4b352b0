"""The appointment book as activities, for the calls' workflows.

Thin: each activity runs one public method of `database.appointment_book.AppointmentBook` in a
thread. The activity names and payloads are those recorded in the histories of running calls.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.exc import InterfaceError, OperationalError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.calendar_nudge import sync_calendar_soon
from database.appointment_book import AppointmentBook
from database.demo_bookings import DEMO_BOOKING_LIFETIME
from receptionist.appointment_requests import (
    AppointmentRequest,
    BookingRequest,
    CancelRequest,
    FreeTimesRequest,
    LookUpRequest,
    MoveRequest,
    ToolOutcome,
)

# The error type of a booking the appointment book could not take because the database did not
# answer (not because of anything in the request): the call keeps the booking and tries later.
BOOK_UNAVAILABLE = "AppointmentBookUnavailable"


class AppointmentActivities:
    def __init__(self, database_url: str, demo_lifetime: timedelta = DEMO_BOOKING_LIFETIME) -> None:
        self._database_url = database_url
        self._book = AppointmentBook(database_url, demo_lifetime)

    @activity.defn(name="find_free_times")
    async def find_free_times(self, request: FreeTimesRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book.find_free_times, request)

    @activity.defn(name="book_appointment")
    async def book_appointment(self, request: BookingRequest) -> ToolOutcome:
        try:
            outcome = await asyncio.to_thread(self._book.book, request)
        except (OperationalError, InterfaceError, TimeoutError) as error:
            raise ApplicationError(f"the appointment book is unavailable: {error}", type=BOOK_UNAVAILABLE) from error
        return await self._to_calendar(request, outcome)

    @activity.defn(name="look_up_appointment")
    async def look_up_appointment(self, request: LookUpRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book.look_up, request)

    @activity.defn(name="move_appointment")
    async def move_appointment(self, request: MoveRequest) -> ToolOutcome:
        return await self._to_calendar(request, await asyncio.to_thread(self._book.move, request))

    @activity.defn(name="cancel_appointment")
    async def cancel_appointment(self, request: CancelRequest) -> ToolOutcome:
        return await self._to_calendar(request, await asyncio.to_thread(self._book.cancel, request))

    async def _to_calendar(self, request: AppointmentRequest, outcome: ToolOutcome) -> ToolOutcome:
        """A change to the book reaches the business's own calendar (if linked) at its next sync, asked for now.
        A demo session's booking never goes there (the sync skips it), so nothing is asked for."""
        if outcome.ok and not request.demo:
            await sync_calendar_soon(self._database_url, request.business_id)
        return outcome

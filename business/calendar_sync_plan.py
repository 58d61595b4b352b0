"""What one sync with a business's calendar must do, decided from what each side holds now.

Pure and deterministic: the sync workflow calls it with the bookings (and what was last written to
or seen in the calendar for each) and the calendar's events. Where the two disagree, the calendar
wins: an event of ours moved there moves the booking, one deleted there cancels it, and the caller
is told. A booking made, moved or cancelled in CloudGreet since the last sync is written there.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from business.calendar_link import CalendarEntry


class BookingEntry(BaseModel):
    """A booking as the sync sees it: its times in CloudGreet and in the calendar (as last written or seen)."""

    appointment_id: int
    uid: str
    booked: bool = Field(description="False: cancelled in CloudGreet")
    starts_at: datetime
    ends_at: datetime
    service: str
    caller_name: str | None = None
    caller_number: str | None = None
    # The event as the calendar last had it; None: never written there yet.
    event_starts_at: datetime | None = None
    event_ends_at: datetime | None = None

    @property
    def written(self) -> bool:
        return self.event_starts_at is not None

    def matches(self, entry: CalendarEntry) -> bool:
        return (self.event_starts_at, self.event_ends_at) == (entry.starts_at, entry.ends_at)


class CalendarMove(BaseModel):
    booking: BookingEntry
    to: CalendarEntry


class SyncPlan(BaseModel):
    busy: list[CalendarEntry] = Field(default_factory=list, description="Events not ours: they block slots")
    moved_by_calendar: list[CalendarMove] = Field(default_factory=list)
    cancelled_by_calendar: list[BookingEntry] = Field(default_factory=list)
    write: list[BookingEntry] = Field(default_factory=list, description="New or moved in CloudGreet")
    delete: list[BookingEntry] = Field(default_factory=list, description="Cancelled in CloudGreet")
    forget: list[BookingEntry] = Field(
        default_factory=list, description="Cancelled on both sides: the event is gone, nothing to do but note it"
    )
    overlapping: list[int] = Field(
        default_factory=list,
        description="Bookings (appointment ids) that another event of the calendar overlaps: for the owner to check",
    )


def plan_sync(bookings: list[BookingEntry], events: list[CalendarEntry]) -> SyncPlan:
    plan = SyncPlan()
    ours = {b.uid for b in bookings}
    by_uid: dict[str, CalendarEntry] = {}
    for event in events:
        if event.uid in ours:
            by_uid.setdefault(event.uid, event)  # a recurring event of ours cannot be; its first instance counts
        else:
            plan.busy.append(event)
    for booking in bookings:
        found = by_uid.get(booking.uid)
        if not booking.written:
            if booking.booked:
                plan.write.append(booking)
            continue
        if found is None:
            # Deleted in the calendar: the calendar wins over a booking still booked.
            (plan.cancelled_by_calendar if booking.booked else plan.forget).append(booking)
        elif not booking.matches(found):
            # Moved in the calendar: it wins, even over a move made in CloudGreet since. A booking the
            # caller cancelled meanwhile stays cancelled: its event goes.
            if booking.booked:
                plan.moved_by_calendar.append(CalendarMove(booking=booking, to=found))
            else:
                plan.delete.append(booking)
        elif not booking.booked:
            plan.delete.append(booking)
        elif (booking.starts_at, booking.ends_at) != (booking.event_starts_at, booking.event_ends_at):
            plan.write.append(booking)  # moved in CloudGreet, untouched in the calendar
    plan.overlapping = _overlapping(bookings, plan)
    return plan


def _overlapping(bookings: list[BookingEntry], plan: SyncPlan) -> list[int]:
    """Bookings kept that another event overlaps (added there after the booking was made). The calendar
    is not read as cancelling them: an owner's "day off" may be meant, or a reminder marked busy by
    mistake; the status names them for the owner to settle with the callers."""
    cancelled = {b.appointment_id for b in plan.cancelled_by_calendar}
    moved_to = {m.booking.appointment_id: m.to for m in plan.moved_by_calendar}
    found = []
    for booking in bookings:
        if not booking.booked or booking.appointment_id in cancelled:
            continue
        there = moved_to.get(booking.appointment_id)
        starts_at, ends_at = (there.starts_at, there.ends_at) if there else (booking.starts_at, booking.ends_at)
        if any(busy.starts_at < ends_at and starts_at < busy.ends_at for busy in plan.busy):
            found.append(booking.appointment_id)
    return found

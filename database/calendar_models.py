"""A business's own calendar (CalDAV): the link, each booking's event there, and the calendar's busy times.

The password is sealed with SECRET_KEY (`runtime.sealed_secrets`) and read only by the sync's
activities; no route or page gives it back.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from database.models import UTCDateTime, utcnow, words_of
from domain.vocabulary import CalendarSyncOutcome


class CalendarLink(SQLModel, table=True):
    __tablename__ = "calendar_links"

    business_id: int = Field(primary_key=True, foreign_key="businesses.id")
    url: str = Field(description="The calendar's CalDAV URL, or its server's with calendar_name")
    calendar_name: str | None = Field(default=None, description="Found by this name on the server at `url`")
    username: str
    sealed_password: str = Field(description="Fernet token under a key derived from SECRET_KEY")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The status the configuration page and the admin API show, written by each sync.
    last_sync_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_synced_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="The last sync that worked")
    last_outcome: CalendarSyncOutcome | None = Field(default=None, sa_type=words_of(CalendarSyncOutcome))
    last_error: str | None = None
    events_seen: int | None = Field(default=None, description="Events the last sync that worked read")
    waiting_writes: int = Field(default=0, description="Bookings not yet written to the calendar")
    overlapping_bookings: int = Field(default=0, description="Bookings another event of the calendar overlaps")


class CalendarEvent(SQLModel, table=True):
    """A booking's event in the calendar, as the sync last wrote or saw it: what tells a move made
    there from one made here."""

    __tablename__ = "calendar_events"

    appointment_id: int = Field(primary_key=True, foreign_key="appointments.id")
    business_id: int = Field(foreign_key="businesses.id", index=True)
    uid: str = Field(unique=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="Gone from the calendar")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CalendarBusyTime(SQLModel, table=True):
    """An event of the calendar that is not a booking (lunch, a day off): no slot is offered in it."""

    __tablename__ = "calendar_busy_times"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime, index=True)

"""The call-backs already promised, counted where a new one is decided, one decision at a time.

Counting and then inserting is a race under any ordinary isolation level: two calls could each
count one call-back under a cap of two and both insert. So the transaction that schedules a
call-back first takes a lock that every other scheduling transaction waits for: a transaction
advisory lock on PostgreSQL (it blocks nothing but other schedulers, and is released at commit or
rollback), the database's write lock on SQLite (`BEGIN IMMEDIATE`). Call-backs are promised a few
times an hour per business, so one lock for all of them costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from database.models import Callback

# Any constant of our own: the key of the advisory lock that serialises call-back scheduling.
SCHEDULING_LOCK_KEY = 0x43_47_43_42  # "CGCB"

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def lock_callback_scheduling(session: Session) -> None:
    """Begins the session's transaction holding the scheduling lock; call before reading anything."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEDULING_LOCK_KEY})
    elif connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        # pysqlite begins a transaction only at the first write; take the write lock before the count.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class PromisedCallbacks:
    in_call: int
    to_number_today: int  # in the last 24 hours, by every business: the number's owner is who a flood harms
    by_business_this_hour: int  # in the last hour


def promised_callbacks(
    session: Session, *, call_id: str | None, caller_number: str, business_id: int, now: datetime
) -> PromisedCallbacks:
    def count(*conditions) -> int:
        return session.exec(select(func.count()).select_from(Callback).where(*conditions)).one()

    return PromisedCallbacks(
        in_call=count(Callback.call_id == call_id) if call_id else 0,
        to_number_today=count(Callback.caller_number == caller_number, Callback.created_at > now - DAY),
        by_business_this_hour=count(Callback.business_id == business_id, Callback.created_at > now - HOUR),
    )


def pending_callback_for(
    session: Session, *, business_id: int, caller_number: str, call_id: str | None = None
) -> Callback | None:
    """The soonest call-back still to be made to this caller by this business (in this call, if given)."""
    query = select(Callback).where(
        Callback.business_id == business_id,
        Callback.caller_number == caller_number,
        col(Callback.completed_at).is_(None),
    )
    if call_id:
        query = query.where(Callback.call_id == call_id)
    return session.exec(query.order_by(Callback.due_at)).first()

"""Demo bookings: what a demo or test session books is a sandbox.

The public `/demo` page and the `/test-agent-simple` drafts (Realtime sessions) and the web channel
(the demo's fallback, an owner trying a configuration) have no real caller behind them. What they
book is stored marked `is_demo` with an expiry: it holds no slot row, so a real caller can always
book the same time; the calendar sync never sees it; no confirmation is texted for it; and past
its expiry every query ignores it. Expired ones are pruned when a demo session books again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, false, or_
from sqlmodel import Session, col

from database.models import Appointment

# How long a demo booking is shown (to its session, and in the admin pages) before it is gone.
DEMO_BOOKING_LIFETIME = timedelta(hours=24)


def not_expired(now: datetime) -> Any:
    """The SQL condition every listing of appointments adds: a real booking, or a demo one still alive."""
    return or_(col(Appointment.is_demo) == false(), col(Appointment.expires_at) > now)


def prune_expired(session: Session, business_id: int, now: datetime) -> None:
    """Deletes the business's expired demo bookings (they hold no slot rows and no calendar events)."""
    session.exec(
        delete(Appointment).where(
            col(Appointment.business_id) == business_id,
            col(Appointment.is_demo),
            col(Appointment.expires_at) <= now,
        )
    )

"""What the caller hears of a booking asked for while the appointment book does not answer.

The booking is checked against the business's rules (hours, services, lead time: no database
needed), read back, and kept by the call until the book answers; then it is confirmed by text,
or by a call-back when the business sends no texts or the time has gone meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from business.booking_rules import SlotCheck
from business.config import BusinessConfig
from business.opening_hours import spoken_moment

# The reason on a call-back that confirms a kept booking, or offers other times for it.
CONFIRM_REASON = "to confirm a booking taken down while the appointment book was unavailable"
OTHER_TIMES_REASON = "a booking taken down while the appointment book was unavailable: the time was gone"


def taken_down_words(
    config: BusinessConfig, check: SlotCheck, caller_name: str | None, now: datetime, *, by_text: bool
) -> str:
    assert check.service is not None and check.starts_at is not None
    who = f" for {caller_name}" if caller_name else ""
    confirm = "text you to confirm it" if by_text else "call you back to confirm it"
    return (
        "The appointment book is not answering just now, so I have taken the booking down: "
        f"a {check.service.name} {spoken_moment(config, check.starts_at, now)}{who}. "
        f"We will {confirm} as soon as it is in the book, or call you back with the nearest free times "
        "if that time has gone by then."
    )

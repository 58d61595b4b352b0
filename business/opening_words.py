"""What the receptionist says first: the greeting while open, the after-hours words while closed.

One text for every voice path: the phone call's workflow (through the `open_call` activity), the
browser demo's Realtime session and the test page all greet with it.
"""

from __future__ import annotations

from datetime import datetime

from business.config import BusinessConfig
from business.opening_hours import next_opening, spoken_moment


def opening_words(config: BusinessConfig, now: datetime, open_now: bool) -> str:
    if open_now or not config.hours:
        return config.greeting_text()
    if config.after_hours_message:
        return config.after_hours_message
    reopening = next_opening(config, now)
    when = f" We open again {spoken_moment(config, reopening, now)}." if reopening else ""
    return (
        f"Thank you for calling {config.name}. We're closed right now.{when} "
        "I can answer questions, take a message, or arrange a call-back. How can I help?"
    )

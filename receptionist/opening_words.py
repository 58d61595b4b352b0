"""What the receptionist says first: the greeting while open, the after-hours words while closed.

One text for every voice path: the phone call's workflow (through the `open_call` activity), the
browser demo's Realtime session and the test page all greet with it.
"""

from __future__ import annotations

from datetime import datetime

from business.config import BusinessConfig
from business.opening_hours import next_opening
from receptionist.unasked_words import CLOSED, REOPENING, moment_in, words_in


def opening_words(config: BusinessConfig, now: datetime, open_now: bool) -> str:
    if open_now or not config.hours:
        return config.greeting_text()
    if config.after_hours_message:
        return config.after_hours_message
    # In the business's first language, as its greeting is.
    language = config.language
    reopening = next_opening(config, now)
    when = words_in(REOPENING, language, when=moment_in(language, config, reopening, now)) if reopening else ""
    return words_in(CLOSED, language, business=config.name, reopening=when)

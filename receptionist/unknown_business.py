"""What a call says when it cannot know which business it reached: the records database is down and
this worker has never loaded the business the caller dialled.

Nothing is promised that needs the business (its hours, its services, its bookings): the call
takes a message and promises a call-back, which is scheduled once the database answers again.
"""

from __future__ import annotations

from business.config import BusinessConfig

GREETING = (
    "Thank you for calling. I'm sorry, I can't look anything up just now, but I can take a message "
    "and we'll call you back. Please tell me your name and what it's about."
)
GOODBYE = "Thank you, I've taken your message and we'll call you back as soon as we can. Goodbye!"
NO_MESSAGE_GOODBYE = "I didn't catch a message, but we'll call you back on this number as soon as we can. Goodbye!"
# The reason on the call-back, as the person who returns the call reads it.
CALLBACK_REASON = "a message taken while the records were unavailable"


def unknown_business() -> BusinessConfig:
    """A business with no name, hours or services: the greeting above and nothing that needs the database."""
    return BusinessConfig(name="our office", greeting=GREETING)

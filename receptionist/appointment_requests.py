"""What a tool asks of the appointment book, and what the book answers: the same on every channel.

Plain data: the phone path sends these to the appointment activities (they are those activities'
payloads, so their fields stay as recorded histories have them), the Realtime path hands them to
`database.appointment_book.AppointmentBook` directly.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from business.config import BusinessConfig


class ToolOutcome(BaseModel):
    """What a tool did, in words the LLM (or the offline responder) can say to the caller."""

    ok: bool
    message: str
    appointment_id: int | None = None


class AppointmentRequest(BaseModel):
    business_id: int
    business: BusinessConfig
    call_id: str | None = None
    # Whose appointments may be moved or cancelled; without a number, only those this call booked.
    caller_number: str | None = None
    now: datetime
    # A demo or test session (browser demo, web channel): its bookings are a sandbox (`database.demo_bookings`).
    demo: bool = False


class FreeTimesRequest(AppointmentRequest):
    service: str
    day: str | None = None  # YYYY-MM-DD in the business's timezone


class BookingRequest(AppointmentRequest):
    idempotency_key: str
    service: str
    start: str
    caller_name: str | None = None


class BookingProof(BaseModel):
    """What the caller said to show that an appointment found by their caller ID is theirs
    (`receptionist.booking_proof`)."""

    caller_name: str | None = None  # the name on the booking, as the caller says it
    day: str | None = None  # YYYY-MM-DD: the day the booking is on, in the business's timezone
    code: str | None = None  # the code texted to the booking's number in this call

    @property
    def given(self) -> bool:
        return bool(self.caller_name or self.day or self.code)


class LookUpRequest(AppointmentRequest):
    idempotency_key: str
    proof: BookingProof = Field(default_factory=BookingProof)


class MoveRequest(AppointmentRequest):
    current_start: str | None = None
    new_start: str
    # Recorded histories have neither: a move without a key or proof is refused unless this call booked it.
    idempotency_key: str | None = None
    proof: BookingProof = Field(default_factory=BookingProof)


class CancelRequest(AppointmentRequest):
    idempotency_key: str
    start: str | None = None
    proof: BookingProof = Field(default_factory=BookingProof)


class CodeRequest(AppointmentRequest):
    """Text a one-time code to the caller's number, for the appointments booked under it."""

    idempotency_key: str
    language: str | None = Field(default=None, description="The call's: the text is written in it")

"""One-time codes texted to a caller's number: issued for a call, checked in that call.

A code shows that the caller holds the phone whose number is on the booking, which a spoofed
caller ID does not give. One code per call (`booking_codes`, unique per business and call), texted
at most `CODE_TEXTS_PER_CALL` times, working `CODE_LIFETIME_MINUTES`, locked for the rest of the
call after `CODE_TRIES` wrong tries. Every write is keyed by the tool call that made it, so a
retried activity texts the same code again (Telnyx drops the repeat) and counts a wrong try once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from database.models import BookingCode
from database.utc import as_utc
from receptionist.appointment_requests import AppointmentRequest, CodeRequest
from receptionist.booking_proof import (
    CODE_DIGITS,
    CODE_LIFETIME_MINUTES,
    CODE_TEXTS_PER_CALL,
    CODE_TRIES,
    CodeCheck,
)


@dataclass(frozen=True)
class CodeToText:
    code: str
    to: str


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _code_of_call(session: Session, request: AppointmentRequest) -> BookingCode | None:
    return session.exec(
        select(BookingCode).where(
            BookingCode.business_id == request.business_id, BookingCode.call_id == (request.call_id or "")
        )
    ).first()


def code_to_text(session: Session, request: CodeRequest) -> CodeToText | CodeCheck | None:
    """The code to text for this call (a new one, the live one, or a renewed one once expired);
    `LOCKED` after too many wrong tries, None once it has been texted often enough."""
    caller = request.caller_number or ""
    expires_at = request.now + timedelta(minutes=CODE_LIFETIME_MINUTES)
    row = _code_of_call(session, request)
    if row is None:
        row = BookingCode(
            business_id=request.business_id,
            call_id=request.call_id or "",
            caller_number=caller,
            code=_new_code(),
            expires_at=expires_at,
            texted_keys=[request.idempotency_key],
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # our own retry got there first
            session.rollback()
            return code_to_text(session, request)
        return CodeToText(row.code, caller)
    if request.idempotency_key in row.texted_keys:  # a retry: the same code again
        return CodeToText(row.code, row.caller_number)
    if len(row.wrong_tries) >= CODE_TRIES:
        return CodeCheck.LOCKED
    if len(row.texted_keys) >= CODE_TEXTS_PER_CALL:
        return None
    if request.now > as_utc(row.expires_at):
        row.code, row.expires_at = _new_code(), expires_at
    row.texted_keys = [*row.texted_keys, request.idempotency_key]
    session.add(row)
    session.commit()
    return CodeToText(row.code, row.caller_number)


def check_code(session: Session, request: AppointmentRequest, said: str, key: str | None) -> CodeCheck:
    """Whether `said` is the code texted in this call to this caller's number; a wrong one counts a try."""
    row = _code_of_call(session, request)
    if row is None or row.caller_number != request.caller_number:
        return CodeCheck.NONE_SENT
    if len(row.wrong_tries) >= CODE_TRIES:
        return CodeCheck.LOCKED
    if request.now > as_utc(row.expires_at):
        return CodeCheck.EXPIRED
    if secrets.compare_digest(said, row.code):
        return CodeCheck.MATCHED
    try_key = key or secrets.token_hex(8)  # without a key every check counts
    if try_key not in row.wrong_tries:
        row.wrong_tries = [*row.wrong_tries, try_key]
        session.add(row)
        session.commit()
    return CodeCheck.LOCKED if len(row.wrong_tries) >= CODE_TRIES else CodeCheck.WRONG

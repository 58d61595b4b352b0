"""The queries of call recordings: a call's, those past their business's retention, and marking one deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from business.config import BusinessConfig
from database.models import Business, Call
from database.recording_models import CallRecording
from domain.vocabulary import RecordingDeletion


class RecordingInfo(BaseModel):
    """A call's recording as the admin page and API show it (the audio itself is at Telnyx)."""

    audio_format: str
    channels: str
    duration_seconds: float | None
    saved_at: datetime
    delete_after: datetime | None = Field(description="When retention deletes it: saved_at + the business's days")
    deleted_at: datetime | None
    deleted_because: RecordingDeletion | None


def recording_of_call(session: Session, call_id: str) -> CallRecording | None:
    """The call's latest recording, deleted or not."""
    query = select(CallRecording).where(CallRecording.call_id == call_id).order_by(col(CallRecording.id).desc())
    return session.exec(query).first()


def recording_info(session: Session, call_id: str) -> RecordingInfo | None:
    recording = recording_of_call(session, call_id)
    if recording is None:
        return None
    days = _retention_days(session, recording.call_id)
    return RecordingInfo(
        audio_format=recording.audio_format,
        channels=recording.channels,
        duration_seconds=recording.duration_seconds,
        saved_at=recording.saved_at,
        delete_after=recording.saved_at + timedelta(days=days) if days is not None else None,
        deleted_at=recording.deleted_at,
        deleted_because=recording.deleted_because,
    )


def expired_recordings(session: Session, now: datetime) -> list[CallRecording]:
    """Recordings not yet deleted that are older than their business's recording_retention_days."""
    rows = session.exec(
        select(CallRecording, Business)
        .join(Call, col(Call.id) == CallRecording.call_id)
        .join(Business, col(Business.id) == Call.business_id)
        .where(col(CallRecording.deleted_at).is_(None))
    ).all()
    expired = []
    for recording, business in rows:
        days = BusinessConfig.model_validate(business.config).recording_retention_days
        if recording.saved_at + timedelta(days=days) <= now:
            expired.append(recording)
    return expired


def mark_deleted(session: Session, recording: CallRecording, because: RecordingDeletion, now: datetime) -> None:
    recording.deleted_at = now
    recording.deleted_because = because
    session.add(recording)
    session.commit()


def _retention_days(session: Session, call_id: str) -> int | None:
    call = session.get(Call, call_id)
    business = session.get(Business, call.business_id) if call and call.business_id else None
    return BusinessConfig.model_validate(business.config).recording_retention_days if business else None

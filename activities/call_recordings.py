"""Keeps what Telnyx's call.recording.saved says with the call it recorded."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from database.engine import get_engine
from database.models import Call
from database.recording_models import CallRecording

log = structlog.get_logger(__name__)


class SavedRecording(BaseModel):
    """A call.recording.saved webhook, as far as we keep it (its URLs expire: Telnyx is asked again)."""

    event_id: str
    call_control_id: str
    recording_id: str
    audio_format: str
    channels: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    saved_at: datetime


class CallRecordings:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    @activity.defn(name="keep_recording")
    async def keep_recording(self, saved: SavedRecording) -> bool:
        """True once the recording is on its call (again, for a repeated webhook); False for no call of ours."""
        return await asyncio.to_thread(self._keep, saved)

    def _keep(self, saved: SavedRecording) -> bool:
        with Session(get_engine(self._database_url)) as session:
            if session.get(Call, saved.call_control_id) is None:
                # A leg we dialled (a transfer's) is not a call of ours: nothing recorded it on purpose.
                log.warning("recording of an unknown call", call_id=saved.call_control_id, recording=saved.recording_id)
                return False
            known = select(CallRecording).where(CallRecording.telnyx_recording_id == saved.recording_id)
            if session.exec(known).first() is not None:
                return True
            duration = (
                (saved.ended_at - saved.started_at).total_seconds() if saved.started_at and saved.ended_at else None
            )
            session.add(
                CallRecording(
                    call_id=saved.call_control_id,
                    telnyx_recording_id=saved.recording_id,
                    audio_format=saved.audio_format,
                    channels=saved.channels,
                    duration_seconds=duration,
                    started_at=saved.started_at,
                    saved_at=saved.saved_at,
                )
            )
            try:
                session.commit()
            except IntegrityError:  # the same webhook, kept by another attempt meanwhile
                session.rollback()
            return True

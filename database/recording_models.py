"""The recordings of calls: what Telnyx's call.recording.saved said, kept beside the call.

The audio stays at Telnyx; a row holds its id, to ask Telnyx for a download URL when someone
plays it (those in the webhook expire) and to delete it. A deleted recording keeps its row, with
when and why, so the call's page can say what became of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from database.models import UTCDateTime, utcnow, words_of
from domain.vocabulary import RecordingDeletion


class CallRecording(SQLModel, table=True):
    __tablename__ = "call_recordings"

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", index=True)
    telnyx_recording_id: str = Field(unique=True, description="Telnyx's recording_id: retrieved and deleted by it")
    audio_format: str = Field(description="mp3 or wav")
    channels: str = Field(description="dual: the caller on one channel, the agent on the other")
    duration_seconds: float | None = None
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    saved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_because: RecordingDeletion | None = Field(default=None, sa_type=words_of(RecordingDeletion))

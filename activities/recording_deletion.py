"""Deleting a call's recording: at Telnyx first, then marked on its row.

Shared by the admin API and page, `cloudgreet recordings delete` and `cloudgreet recordings prune`.
Telnyx first, so a failure there leaves the row as it was and the deletion can be asked again;
a recording Telnyx no longer has (404) is gone, which is what was asked.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

import telnyx
from sqlmodel import Session

from database.recording_models import CallRecording
from database.recording_store import mark_deleted, recording_of_call
from database.utc import utcnow
from domain.vocabulary import RecordingDeletion
from runtime.settings import Settings


class RecordingNotFound(Exception):
    pass


def telnyx_client(settings: Settings) -> telnyx.AsyncTelnyx:
    return telnyx.AsyncTelnyx(api_key=settings.telnyx_api_key, base_url=settings.telnyx_base_url)


def live_recording(session: Session, call_id: str) -> CallRecording:
    """The call's recording that is not deleted yet, or RecordingNotFound saying why."""
    recording = recording_of_call(session, call_id)
    if recording is None:
        raise RecordingNotFound(f"call {call_id!r} has no recording")
    if recording.deleted_at is not None:
        raise RecordingNotFound(f"the recording of call {call_id!r} was deleted ({recording.deleted_because})")
    return recording


async def delete_recording(
    client: telnyx.AsyncTelnyx,
    session: Session,
    recording: CallRecording,
    because: RecordingDeletion,
    now: datetime | None = None,
) -> None:
    with suppress(telnyx.NotFoundError):  # already gone at Telnyx: what was asked
        await client.recordings.delete(recording.telnyx_recording_id)
    mark_deleted(session, recording, because, now or utcnow())

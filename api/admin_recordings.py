"""A call's recording on the admin side: played, and deleted on request.

The URLs in Telnyx's call.recording.saved expire after 10 minutes, so none is kept: playing a
recording asks Telnyx for it (`recordings.retrieve`) and redirects the browser to the fresh
download URL in the answer. The audio goes from Telnyx's storage straight to the browser, never
through the API, and the page's <audio> points at our route, which stays valid however long
the page is open. Deleting asks Telnyx to delete the recording, then marks the row.
"""

from __future__ import annotations

import telnyx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlmodel import Session

from activities.recording_deletion import RecordingNotFound, delete_recording, live_recording
from api.admin_auth import AdminApi, AdminPage
from api.dependencies import SessionDep
from api.input_bounds import CallId
from api.telnyx_account import telnyx_account
from database.recording_models import CallRecording
from database.recording_store import RecordingInfo, recording_info
from domain.vocabulary import RecordingDeletion

api = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminApi])
pages = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[AdminPage])

NO_RECORDING = {404: {"description": "The call has no recording, or it was deleted"}}
TELNYX_DOWN = {
    502: {"description": "Telnyx did not answer as it should"},
    503: {"description": "TELNYX_API_KEY is not set"},
}


class DeletedRecording(BaseModel):
    call_id: str
    recording: RecordingInfo


def _live(session: Session, call_id: str) -> CallRecording:
    try:
        return live_recording(session, call_id)
    except RecordingNotFound as missing:
        raise HTTPException(404, str(missing)) from None


@api.get("/calls/{call_id}/recording", response_model=RecordingInfo, responses=NO_RECORDING)
def recording(call_id: CallId, session: SessionDep) -> RecordingInfo:
    """The call's recording: format, length, when it was saved and when retention deletes it (or did)."""
    info = recording_info(session, call_id)
    if info is None:
        raise HTTPException(404, f"call {call_id!r} has no recording")
    return info


@api.get(
    "/calls/{call_id}/recording/audio",
    response_class=RedirectResponse,
    status_code=307,
    responses=NO_RECORDING | TELNYX_DOWN,
)
async def recording_audio(call_id: CallId, request: Request, session: SessionDep) -> Response:
    """Redirects to a download URL Telnyx has just given (good for 10 minutes)."""
    kept = _live(session, call_id)
    async with telnyx_account(request, "recordings are at Telnyx") as client:
        try:
            answer = await client.recordings.retrieve(kept.telnyx_recording_id)
        except telnyx.NotFoundError:
            raise HTTPException(404, f"Telnyx no longer has the recording of call {call_id!r}") from None
        except telnyx.APIError as error:
            raise HTTPException(502, f"Telnyx did not give the recording: {error}") from None
    urls = answer.data.download_urls if answer.data else None
    url = getattr(urls, kept.audio_format, None) if urls else None
    if not url:
        raise HTTPException(502, f"Telnyx gave no {kept.audio_format} URL for the recording")
    return RedirectResponse(url, status_code=307)


async def _delete(call_id: str, request: Request, session: Session) -> DeletedRecording:
    kept = _live(session, call_id)
    async with telnyx_account(request, "recordings are at Telnyx") as client:
        try:
            await delete_recording(client, session, kept, RecordingDeletion.REQUESTED)
        except telnyx.APIError as error:
            raise HTTPException(502, f"Telnyx did not delete the recording: {error}") from None
    info = recording_info(session, call_id)
    assert info is not None
    return DeletedRecording(call_id=call_id, recording=info)


@api.delete("/calls/{call_id}/recording", response_model=DeletedRecording, responses=NO_RECORDING | TELNYX_DOWN)
async def delete_call_recording(call_id: CallId, request: Request, session: SessionDep) -> DeletedRecording:
    """Deletes the recording at Telnyx and marks it deleted here (the call and its transcript stay)."""
    return await _delete(call_id, request, session)


@pages.post("/calls/{call_id}/recording/delete")
async def delete_from_page(call_id: CallId, request: Request, session: SessionDep) -> Response:
    await _delete(call_id, request, session)
    return RedirectResponse(f"/admin/calls/{call_id}", status_code=303)

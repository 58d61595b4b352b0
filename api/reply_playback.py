"""`POST /api/internal/calls/{call_control_id}/reply-playback`: a reply activity follows its own playback.

For the worker only (`activities/reply_playback.py`), with a bearer token derived from SECRET_KEY;
the windows themselves are `api/reply_windows.py`.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import SettingsDep
from api.reply_windows import PlaybackCount, ReplyWindows
from runtime.reply_playback_token import reply_playback_token
from runtime.signing import SecretKeyMissing

router = APIRouter(prefix="/api/internal", tags=["worker"], include_in_schema=False)

# A long wait holds a connection; the activity asks again (and heartbeats) between two.
MAX_WAIT_SECONDS = 10.0


class FollowPlayback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reply: str = Field(min_length=1, max_length=200, description="The reply's step: turn-<n>/round-<r>/<brain>")
    sentences: int | None = Field(default=None, ge=0, le=1000, description="How many the reply sent, once known")
    wait_seconds: float = Field(default=0.0, ge=0.0, le=MAX_WAIT_SECONDS)
    close: bool = False
    open: bool = Field(default=False, description="The reply's first request, before it speaks: opens the window")


@router.post("/calls/{call_control_id}/reply-playback", response_model=PlaybackCount)
async def follow_reply_playback(
    request: Request,
    body: FollowPlayback,
    settings: SettingsDep,
    call_control_id: Annotated[str, Path(min_length=1, max_length=200)],
    authorization: Annotated[str | None, Header()] = None,
) -> PlaybackCount:
    try:
        expected = reply_playback_token(settings.secret_key)
    except SecretKeyMissing:
        raise HTTPException(503, "SECRET_KEY is not set: no worker can be recognised") from None
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(401, "not a worker of this installation", headers={"WWW-Authenticate": "Bearer"})
    windows: ReplyWindows = request.app.state.reply_windows
    return await windows.follow(
        call_control_id,
        body.reply,
        sentences=body.sentences,
        wait_seconds=body.wait_seconds,
        close=body.close,
        open_window=body.open,
    )

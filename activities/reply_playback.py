"""The worker's side of a reply that follows its own playback (the API's side: `api/reply_windows.py`).

Every failure reads as "not followed" (None): the reply goes on as replies did before, and the
call learns of its speech from the webhooks the API signals, as before.
"""

from __future__ import annotations

import httpx
import structlog
from pydantic import BaseModel, SecretStr, ValidationError

from runtime.reply_playback_token import reply_playback_token
from runtime.signing import SecretKeyMissing

log = structlog.get_logger(__name__)

# One request; a wait for the end of speech is several of these, with a heartbeat between.
POLL_SECONDS = 5.0


class PlaybackCount(BaseModel):
    """What the API's window counted (api/reply_windows.py `PlaybackCount`, read back)."""

    open: bool
    known: bool = True
    started: int = 0
    ended: int = 0
    first_started_at: float | None = None


class ReplyPlayback:
    def __init__(self, api_url: str, secret_key: SecretStr | None) -> None:
        try:
            token = reply_playback_token(secret_key)
        except SecretKeyMissing:
            token = None
        self._token = token
        self._http = httpx.AsyncClient(base_url=api_url.rstrip("/"), timeout=POLL_SECONDS + 5)

    @property
    def usable(self) -> bool:
        return self._token is not None

    async def follow(
        self,
        call_control_id: str,
        reply: str,
        *,
        sentences: int | None = None,
        wait: float = 0.0,
        close: bool = False,
        open_window: bool = False,
    ) -> PlaybackCount | None:
        if self._token is None:
            return None
        try:
            answer = await self._http.post(
                f"/api/internal/calls/{call_control_id}/reply-playback",
                json={
                    "reply": reply,
                    "sentences": sentences,
                    "wait_seconds": min(wait, POLL_SECONDS),
                    "close": close,
                    "open": open_window,
                },
                headers={"Authorization": f"Bearer {self._token}"},
            )
            answer.raise_for_status()
            count = PlaybackCount.model_validate(answer.json())
            # A window this API never opened (a new process): what played is unknown, as when it is unreachable.
            return count if count.known else None
        except (httpx.HTTPError, ValidationError, ValueError) as error:
            log.warning("reply playback not followed", call_control_id=call_control_id, error=repr(error))
            return None

    async def close(self) -> None:
        await self._http.aclose()

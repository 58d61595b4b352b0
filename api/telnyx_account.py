"""The installation's Telnyx account for the admin routes that work on it (numbers, recordings)."""

from __future__ import annotations

import telnyx
from fastapi import HTTPException, Request

from activities.recording_deletion import telnyx_client


def telnyx_account(request: Request, needed_for: str) -> telnyx.AsyncTelnyx:
    """A client of the account, or 503 saying what needs TELNYX_API_KEY (`needed_for`: "numbers are bought at Telnyx")."""
    settings = request.app.state.settings
    if not settings.telnyx_api_key:
        raise HTTPException(503, f"TELNYX_API_KEY is not set: {needed_for}")
    return telnyx_client(settings)

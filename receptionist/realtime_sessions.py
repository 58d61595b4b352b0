"""A business's Realtime session: what the model hears as instructions, speaks with and may call.

The same configuration (`business.config`), instruction builder (`business.instructions`) and
tools (`receptionist.tools.realtime_tools`) as every other channel; a phone call that OpenAI
answers over SIP is accepted with it (`activities.realtime_calls`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from business.config import BusinessConfig
from business.instructions import build_instructions
from business.languages import primary
from receptionist.tools import realtime_tools

# The built-in voices of OpenAI's Realtime API.
REALTIME_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
# The business configuration speaks of voices the phone way; these are their Realtime counterparts.
VOICE_FOR_GENDER = {"male": "cedar", "man": "cedar"}


def realtime_voice(config: BusinessConfig, default: str) -> str:
    """The business's voice if it names a Realtime one, its Realtime counterpart, else `default`."""
    configured = config.voice.strip().lower()
    if configured in REALTIME_VOICES:
        return configured
    return VOICE_FOR_GENDER.get(configured, default)


def realtime_session(
    config: BusinessConfig,
    *,
    model: str,
    transcription_model: str,
    voice: str,
    now: datetime,
    language: str | None = None,
) -> dict[str, Any]:
    """The session's fields (GA API), as `calls.accept` (and `client_secrets.create`'s `session`) take them.

    Input transcription is on: the caller's words reach the call's transcript through the control channel.
    """
    language = language or config.language
    return {
        "type": "realtime",
        "model": model,
        "instructions": build_instructions(config, now, language),
        "output_modalities": ["audio"],
        "audio": {
            "input": {"transcription": {"model": transcription_model, "language": primary(language)}},
            "output": {"voice": voice},
        },
        "tools": realtime_tools(),
        "tool_choice": "auto",
    }

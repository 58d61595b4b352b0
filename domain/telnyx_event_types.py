"""The Telnyx Call Control event types a call acts on; the API acknowledges and drops the rest."""

from __future__ import annotations

USED_EVENT_TYPES = frozenset(
    {
        "call.initiated",
        "call.answered",
        "call.transcription",
        "call.speak.started",
        "call.speak.ended",
        "call.dtmf.received",
        "call.hangup",
        "call.bridged",
        "call.machine.detection.ended",
        "call.recording.saved",
    }
)
# Comes after the call's hang-up: stored by a workflow of its own (workflows/recording_saved.py).
RECORDING_SAVED = "call.recording.saved"

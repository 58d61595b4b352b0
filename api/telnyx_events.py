"""The shape of a Telnyx Call Control webhook, parsed permissively: unknown keys are welcome."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from activities.call_recordings import SavedRecording
from workflows.call_messages import CallEvent


class WebhookRejected(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


class _Permissive(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TranscriptionData(_Permissive):
    transcript: str = ""
    is_final: bool = False
    confidence: float | None = None


class EventPayload(_Permissive):
    call_control_id: str | None = None
    caller_number: str | None = Field(default=None, alias="from")
    dialed_number: str | None = Field(default=None, alias="to")
    direction: str | None = None
    client_state: str | None = None
    transcription_data: TranscriptionData | None = None
    digit: str | None = None
    hangup_cause: str | None = None
    status: str | None = None
    result: str | None = None
    # call.recording.saved
    recording_id: str | None = None
    audio_format: str | None = Field(default=None, alias="format")
    channels: str | None = None
    recording_started_at: datetime | None = None
    recording_ended_at: datetime | None = None


class EventData(_Permissive):
    id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    occurred_at: str | None = None
    payload: EventPayload = Field(default_factory=EventPayload)


class TelnyxWebhook(_Permissive):
    data: EventData


def parse_webhook(raw: str) -> TelnyxWebhook:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise WebhookRejected(
            400, f"body is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    try:
        return TelnyxWebhook.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise WebhookRejected(422, f"not a Telnyx webhook: {problems}") from None


def to_call_event(webhook: TelnyxWebhook, received_at: float | None = None) -> CallEvent:
    data = webhook.data
    payload = data.payload
    if not payload.call_control_id:
        raise WebhookRejected(422, f"data.payload.call_control_id is required for {data.event_type}")
    transcription = payload.transcription_data
    if data.event_type == "call.transcription" and transcription is None:
        raise WebhookRejected(422, "data.payload.transcription_data is required for call.transcription")
    return CallEvent(
        event_id=data.id,
        event_type=data.event_type,
        call_control_id=payload.call_control_id,
        occurred_at=data.occurred_at,
        received_at=received_at if received_at is not None else time.time(),
        caller_number=payload.caller_number,
        dialed_number=payload.dialed_number,
        direction=payload.direction,
        transcript=transcription.transcript if transcription else None,
        is_final=transcription.is_final if transcription else False,
        client_state=payload.client_state,
        digit=payload.digit,
        hangup_cause=payload.hangup_cause,
        status=payload.status,
        detection_result=payload.result,
        # Its tag (leg, callback) is read only once its signature is verified: `api.call_routing`.
    )


def to_saved_recording(webhook: TelnyxWebhook) -> SavedRecording:
    """A call.recording.saved: which call, which recording; its URLs are not kept (they expire)."""
    data = webhook.data
    payload = data.payload
    call_control_id, recording_id = payload.call_control_id, payload.recording_id
    if not call_control_id or not recording_id:
        missing = "call_control_id" if not call_control_id else "recording_id"
        raise WebhookRejected(422, f"data.payload.{missing} is required for {data.event_type}")
    occurred = _instant(data.occurred_at)
    return SavedRecording(
        event_id=data.id,
        call_control_id=call_control_id,
        recording_id=recording_id,
        audio_format=payload.audio_format or "mp3",
        channels=payload.channels or "single",
        started_at=payload.recording_started_at,
        ended_at=payload.recording_ended_at,
        saved_at=occurred or datetime.now(UTC),
    )


def _instant(iso: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None

"""Call recordings as Telnyx keeps them: started by record_start, saved when the call ends.

A leg that got `record_start` (SDK: `calls.actions.start_recording`) records until it hangs up;
then Telnyx posts call.recording.saved with download URLs that expire (`recording_urls`: 10
minutes) and keeps the recording, which `GET /v2/recordings/{id}` describes with fresh URLs
and `DELETE /v2/recordings/{id}` deletes. The audio is a few bytes of a valid-looking file, not a
real conversation: what is tested is who may fetch it and for how long.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# Telnyx: "These URLs are valid for 10 minutes."
DOWNLOAD_URL_SECONDS = 10 * 60
# An MPEG audio frame header and silence: enough for a browser to take it as mp3.
SILENT_MP3 = bytes.fromhex("fffb90640000000000000000000000000000000000000000") + bytes(393)
SILENT_WAV = (
    b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + bytes.fromhex("01000100401f0000803e000002001000") + b"data" + bytes(4)
)  # fmt: skip
AUDIO = {"mp3": (SILENT_MP3, "audio/mpeg"), "wav": (SILENT_WAV, "audio/wav")}


def iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp % 1 * 1e6):06d}Z"


@dataclass
class SimulatedRecording:
    call_control_id: str
    call_leg_id: str
    call_session_id: str
    connection_id: str
    channels: str
    format: str
    started_at: float
    ended_at: float | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deleted: bool = False
    # Download tokens handed out, each good until its time.
    tokens: dict[str, float] = field(default_factory=dict)

    def download_url(self, base_url: str) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = time.time() + DOWNLOAD_URL_SECONDS
        return f"{base_url}/simulator/recording-files/{self.id}.{self.format}?token={token}"

    def may_download(self, token: str) -> bool:
        return not self.deleted and self.tokens.get(token, 0) > time.time()

    @property
    def duration_millis(self) -> int:
        return int(((self.ended_at or time.time()) - self.started_at) * 1000)

    def saved_payload(self, ids: dict[str, Any], base_url: str) -> dict[str, Any]:
        """The payload of call.recording.saved (real deliveries carry the call and recording ids)."""
        urls = {self.format: self.download_url(base_url)}
        return ids | {
            "channels": self.channels,
            "format": self.format,
            "recording_id": self.id,
            "recording_started_at": iso(self.started_at),
            "recording_ended_at": iso(self.ended_at or time.time()),
            "recording_urls": urls,
            "public_recording_urls": {},  # only on accounts Telnyx enabled them for
        }

    def resource(self, base_url: str) -> dict[str, Any]:
        """What GET /v2/recordings/{id} answers: the SDK's RecordingResponseData."""
        return {
            "id": self.id,
            "record_type": "recording",
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "connection_id": self.connection_id,
            "channels": self.channels,
            "created_at": iso(self.started_at),
            "updated_at": iso(self.ended_at or self.started_at),
            "download_urls": {self.format: self.download_url(base_url)},
            "duration_millis": self.duration_millis,
            "initiated_by": "StartCallRecordingAPI",
            "recording_started_at": iso(self.started_at),
            "recording_ended_at": iso(self.ended_at or time.time()),
            "source": "call",
            "status": "completed",
        }

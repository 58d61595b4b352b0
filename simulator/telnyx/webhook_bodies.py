"""The bodies of the webhooks Telnyx posts about a call, and the ids and timestamps in them.

Keys, shapes and id formats are those of real deliveries (tests/fixtures/telnyx-webhooks), so
our API's parsing is tested against what Telnyx really sends. Every body starts from a leg's
`ids` (call_control_id, call_leg_id, call_session_id, client_state, connection_id).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from simulator.telnyx.records import SimulatedCall

FINAL_TRANSCRIPT_CONFIDENCE = 0.93
SIP_HANGUP_CAUSES = {"normal_clearing": "200", "timeout": "487", "originator_cancel": "487", "user_busy": "486"}


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_call_control_id() -> str:
    return "v3:" + secrets.token_urlsafe(40)


def new_leg_id() -> str:
    """A call_leg_id or call_session_id: a version-1 UUID, as Telnyx's are."""
    return str(uuid.uuid1(node=secrets.randbits(48)))


def new_speak_id() -> str:
    return secrets.token_urlsafe(8)[:10]


def event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a webhook: one event, with its own id for our API's deduplication."""
    return {
        "event_type": event_type,
        "id": str(uuid.uuid4()),
        "occurred_at": iso_now(),
        "payload": payload,
        "record_type": "event",
    }


def _numbers(call: SimulatedCall) -> dict[str, Any]:
    return {"from": call.from_number, "to": call.to_number}


def initiated(ids: dict[str, Any], call: SimulatedCall, start_time: str) -> dict[str, Any]:
    incoming = call.direction == "incoming"
    return (
        ids
        | _numbers(call)
        | {
            "caller_id_name": call.from_number,
            "calling_party_type": "pstn",
            "connection_codecs": "PCMA,PCMU,VP8,H264",
            "direction": call.direction,
            "from_sip_uri": f"{call.from_number.lstrip('+')}@192.0.2.10:5060",
            "offered_codecs": "PCMU,G729",
            "start_time": start_time,
            "state": "parked" if incoming else "bridging",
            "to_sip_uri": f"{call.to_number}@192.0.2.20:5060",
        }
    )


def answered(ids: dict[str, Any], call: SimulatedCall, start_time: str) -> dict[str, Any]:
    return (
        ids
        | _numbers(call)
        | {
            "calling_party_type": "pstn",
            "codec": "PCMU",
            "sampling_rate": 8000,
            "start_time": start_time,
        }
    )


def speak(ids: dict[str, Any], speak_id: str, status: str | None = None) -> dict[str, Any]:
    """call.speak.started (no status) and call.speak.ended ("completed" or "interrupted")."""
    payload = ids | {"calling_party_type": "pstn", "speak_id": speak_id}
    return payload | ({"status": status} if status else {})


def hangup(
    ids: dict[str, Any], call: SimulatedCall, start_time: str, end_time: str | None, hangup_cause: str
) -> dict[str, Any]:
    return (
        ids
        | _numbers(call)
        | {
            "call_quality_stats": {
                "inbound": {
                    "jitter_max_variance": "0.00",
                    "jitter_packet_count": "0",
                    "mos": "4.50",
                    "packet_count": "1472",
                    "skip_packet_count": "22",
                },
                "outbound": {"packet_count": "268", "skip_packet_count": "0"},
            },
            "calling_party_type": "pstn",
            "end_time": end_time,
            "hangup_cause": hangup_cause,
            "hangup_source": call.hangup_source,
            "sip_hangup_cause": SIP_HANGUP_CAUSES.get(hangup_cause, "200"),
            "start_time": start_time,
        }
    )


def bridged(ids: dict[str, Any], call: SimulatedCall) -> dict[str, Any]:
    return ids | _numbers(call) | {"state": "bridged"}


def machine_detection(ids: dict[str, Any], call: SimulatedCall, result: str) -> dict[str, Any]:
    # The documented example lacks call_control_id; real deliveries carry it.
    return ids | _numbers(call) | {"result": result}


def transcription(ids: dict[str, Any], transcript: str, is_final: bool) -> dict[str, Any]:
    confidence = FINAL_TRANSCRIPT_CONFIDENCE if is_final else None
    return ids | {
        "transcription_data": {"confidence": confidence, "is_final": is_final, "transcript": transcript},
    }


def dtmf(ids: dict[str, Any], call: SimulatedCall, digit: str) -> dict[str, Any]:
    return ids | _numbers(call) | {"digit": digit}

"""What goes into, comes out of, and is asked of a `CallWorkflow`."""

from __future__ import annotations

import base64
import binascii

from typing import Literal

from pydantic import BaseModel, Field

# The Telnyx event types the call workflow acts on; the API acknowledges and drops the rest.
USED_EVENT_TYPES = frozenset(
    {
        "call.initiated",
        "call.answered",
        "call.transcription",
        "call.speak.ended",
        "call.dtmf.received",
        "call.hangup",
        "call.bridged",
        "call.machine.detection.ended",
    }
)
CLIENT_STATE_PREFIX = "cloudgreet"


class TransferLeg(BaseModel):
    """Tags the second leg of an escalation transfer, so its events reach the caller's call."""

    parent_call_control_id: str
    escalation: int
    attempt: int


class CallbackDial(BaseModel):
    """Tags an outbound call made to keep a call-back promise."""

    callback_id: int
    callback_workflow_id: str


def encode_client_state(tag: TransferLeg | CallbackDial) -> str:
    kind = "leg" if isinstance(tag, TransferLeg) else "callback"
    return base64.b64encode(f"{CLIENT_STATE_PREFIX}|{kind}|{tag.model_dump_json()}".encode()).decode()


def decode_client_state(value: str | None) -> TransferLeg | CallbackDial | None:
    """Our own tags back from Telnyx's echo; anything else (or garbage) is no tag."""
    if not value:
        return None
    try:
        prefix, kind, body = base64.b64decode(value, validate=True).decode().split("|", 2)
        if prefix != CLIENT_STATE_PREFIX:
            return None
        return TransferLeg.model_validate_json(body) if kind == "leg" else CallbackDial.model_validate_json(body)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def call_workflow_id(call_control_id: str) -> str:
    return f"call-{call_control_id}"


class CallEvent(BaseModel):
    """One Telnyx webhook, reduced to what the workflow uses (history stays small)."""

    event_id: str
    event_type: str
    call_control_id: str
    occurred_at: str | None = None
    received_at: float = Field(description="Unix time the API received the webhook; replies are timed from it")
    caller_number: str | None = None
    dialed_number: str | None = None
    direction: str | None = None
    transcript: str | None = None
    is_final: bool = False
    client_state: str | None = None
    digit: str | None = None
    hangup_cause: str | None = None
    status: str | None = None
    detection_result: str | None = Field(default=None, description="call.machine.detection.ended: human or machine")
    leg: TransferLeg | None = None
    callback: CallbackDial | None = None


class CallStart(BaseModel):
    call_control_id: str
    channel: Literal["phone", "web"] = "phone"
    # A web conversation has no Telnyx call.initiated: it says which business it talks to.
    web_business_id: int | None = None


class WebWords(BaseModel):
    """What a browser visitor typed or said, for a web conversation."""

    text: str = Field(min_length=1, max_length=2000)
    sent_at: float


class WebReply(BaseModel):
    text: str
    ended: bool = False
    outcome: str | None = None


class Utterance(BaseModel):
    speaker: str  # "caller" or "agent"
    text: str
    interrupted: bool = False


class CallState(BaseModel):
    """The live state an operator reads through the `state` query."""

    call_control_id: str
    status: str
    channel: str = "phone"
    business_id: int | None = None
    business_name: str | None = None
    caller_number: str | None = None
    dialed_number: str | None = None
    brain: str | None = None
    caller_turns: int = 0
    fallback_level: str = "llm"
    outcome: str | None = None
    agent_speaking: bool = False
    transcript: list[Utterance] = Field(default_factory=list)


class CallSummary(BaseModel):
    call_control_id: str
    status: str
    caller_turns: int
    hangup_cause: str | None = None
    outcome: str | None = None
    fallback_level: str = "llm"


class CallbackOutcome(BaseModel):
    """What became of an outbound call-back call: answered, voicemail, no_answer or failed."""

    outcome: str
    call_control_id: str

"""What goes into, comes out of, and is asked of a `CallWorkflow`."""

from __future__ import annotations

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
    }
)


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


class CallStart(BaseModel):
    call_control_id: str


class Utterance(BaseModel):
    speaker: str  # "caller" or "agent"
    text: str
    interrupted: bool = False


class CallState(BaseModel):
    """The live state an operator reads through the `state` query."""

    call_control_id: str
    status: str
    business_id: int | None = None
    business_name: str | None = None
    caller_number: str | None = None
    dialed_number: str | None = None
    brain: str | None = None
    caller_turns: int = 0
    agent_speaking: bool = False
    transcript: list[Utterance] = Field(default_factory=list)


class CallSummary(BaseModel):
    call_control_id: str
    status: str
    caller_turns: int
    hangup_cause: str | None = None

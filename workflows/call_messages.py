"""What goes into, comes out of, and is asked of a `CallWorkflow`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.call_records import CallContext
from activities.follow_ups import ScheduledCallback
from domain.vocabulary import (
    Brain,
    CallbackCallOutcome,
    CallOutcome,
    CallStatus,
    Channel,
    FallbackLevel,
    TransferOutcome,
    Utterance,
)
from receptionist.conversation_state import ConversationState

CLIENT_STATE_PREFIX = "cloudgreet"


class TransferLeg(BaseModel):
    """Tags the second leg of an escalation transfer, so its events reach the caller's call."""

    parent_call_control_id: str
    escalation: int
    attempt: int
    # A warm transfer's leg: dialled on its own and briefed before it is bridged to the caller.
    warm: bool = False


class OnCallLeg(BaseModel):
    """What a warm transfer's leg to one on-call number has told us so far (its webhooks, filed in any order)."""

    answered: bool = False
    machine_detection: str | None = None  # human, machine or not_sure
    speeches_ended: int = 0
    keys: str = ""  # the digits pressed, in order
    bridged: bool = False
    ended: bool = False
    hangup_cause: str | None = None


class CallbackDial(BaseModel):
    """Tags an outbound call made to keep a call-back promise."""

    callback_id: int
    callback_workflow_id: str
    # Asked for on the browser demo ("call me"): said so in the greeting, and a machine is left no message.
    asked_online: bool = False


def client_state_tag(tag: TransferLeg | CallbackDial) -> str:
    """The tag as text, for the activity that sends the command to sign into its client_state
    (`runtime.client_state`): the workflow has no secret, so it never signs anything itself."""
    kind = "leg" if isinstance(tag, TransferLeg) else "callback"
    return f"{CLIENT_STATE_PREFIX}|{kind}|{tag.model_dump_json()}"


def read_client_state_tag(text: str) -> TransferLeg | CallbackDial | None:
    """A tag back from its text, once its signature is verified; anything else is no tag."""
    try:
        prefix, kind, body = text.split("|", 2)
        if prefix != CLIENT_STATE_PREFIX:
            return None
        if kind == "leg":
            return TransferLeg.model_validate_json(body)
        return CallbackDial.model_validate_json(body) if kind == "callback" else None
    except ValueError:  # too few parts, or a body that is not the tag (pydantic's errors are ValueErrors)
        return None


def call_workflow_id(call_control_id: str) -> str:
    return f"call-{call_control_id}"


# The API starts and talks to CallWorkflow by these names rather than through its class: importing
# the workflow's code would import everything its activities use (the LLM SDK among them), ~0.5 s
# of CPU at the start of every API process. workflows/call.py declares itself under these names.
CALL_WORKFLOW = "CallWorkflow"
TELNYX_EVENT_SIGNAL = "telnyx_event"
# Webhooks of one call that the API sends together, in Telnyx's order (api/held_events.py).
TELNYX_EVENTS_SIGNAL = "telnyx_events"
VISITOR_LEFT_SIGNAL = "visitor_left"
OPENING_WORDS_UPDATE = "opening_words"
CALLER_SAID_UPDATE = "caller_said"


# The caller talks, presses a key or hangs up: what closes a reply's playback window at the API
# (api/reply_windows.py), and brings its count to the call (`CallEvent.reply_playback`).
CALLER_EVENTS = frozenset({"call.transcription", "call.dtmf.received", "call.hangup"})


class FollowedSpeech(BaseModel):
    """What the API counted of a phone reply's speech it followed (api/reply_windows.py) until the caller's words
    closed its window: brought to the call with those words, so the call learns whether its reply still plays
    when it hears them, and no signal told it of each sentence's start and end."""

    reply: str = Field(description="The reply's step (`reply_step`): its playback window")
    started: int = Field(default=0, ge=0)
    ended: int = Field(default=0, ge=0)
    first_started_at: float | None = None


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
    # The caller's words, keys and hang-up: what the API counted of the reply that followed its playback.
    reply_playback: FollowedSpeech | None = None


class SipCall(BaseModel):
    """A phone call OpenAI's SIP endpoint announced (`realtime.call.incoming`): its numbers, from the SIP headers."""

    caller_number: str | None = None
    dialed_number: str | None = None
    received_at: float = Field(description="Unix time the API received the webhook")


class CallStart(BaseModel):
    # A Realtime-SIP call's is OpenAI's call_id (rtc_...): its workflow is call-<call_id>.
    call_control_id: str
    channel: Channel = Channel.PHONE
    # A Realtime-SIP call (channel REALTIME_SIP): who rang which number.
    sip: SipCall | None = None
    # A web conversation has no Telnyx call.initiated: it says which business it talks to.
    web_business_id: int | None = None
    # A run continues as new once its history has this many events (or the server suggests it
    # sooner); None leaves it to the server. Tests set a small one (CALL_HISTORY_EVENT_LIMIT).
    history_event_limit: int | None = Field(default=None, ge=100)
    # Set on a call's later runs: where the run before left off.
    carried: CarriedCall | None = None


class WebWords(BaseModel):
    """What a browser visitor typed or said, for a web conversation."""

    text: str = Field(min_length=1, max_length=2000)
    sent_at: float


class WebReply(BaseModel):
    text: str
    ended: bool = False
    outcome: CallOutcome | None = None


class CallState(BaseModel):
    """The live state an operator reads through the `state` query."""

    call_control_id: str
    status: CallStatus
    channel: Channel = Channel.PHONE
    business_id: int | None = None
    business_name: str | None = None
    caller_number: str | None = None
    dialed_number: str | None = None
    brain: Brain | None = None
    caller_turns: int = 0
    fallback_level: FallbackLevel = FallbackLevel.LLM
    outcome: CallOutcome | None = None
    agent_speaking: bool = False
    transcript: list[Utterance] = Field(default_factory=list)
    # The language the call is in now, one of the business's (None: its first); the caller may change it.
    language: str | None = None


class CarriedCall(BaseModel):
    """What a call has heard and decided, handed to its next run when it continues as new
    (`workflows.call_continuation`): the fields of `CallProgress` that outlive a run, and the
    call-backs it was refused. Everything a later event, turn or command id depends on is here."""

    live: CallState
    opening: CallContext
    seen_event_ids: list[str]  # webhooks already filed: a redelivery across the switch is still a repeat
    initiated: CallEvent
    answered: bool
    over: bool
    hangup_cause: str | None
    bridged: bool
    machine_detection: str | None
    leg_outcomes: dict[str, TransferOutcome]
    on_call_legs: dict[str, OnCallLeg] = Field(default_factory=dict)  # a run carried by older code has none
    caller_words: list[CallEvent]  # heard and not yet answered: the next run answers them
    held_backchannel: CallEvent | None = None  # a murmur that may yet answer a yes-or-no question
    records_in_background: bool = False  # as the call's first run chose (workflows.call_records)
    records_given_up: int = 0
    barge_in: bool
    speeches_sent: int
    speeches_started: int = 0
    speeches_ended: int
    interim: CallEvent | None = None  # the caller's words since their last final transcript
    awaiting_reply: bool = False
    silence_since: float | None = None
    longest_silence_ms: float = 0.0
    llm_given_up: bool = False
    llm_failed_turns: int
    conversation: ConversationState | None = None  # a run carried by older code has none
    unmet_turns: int = 0
    ending: bool
    transferred: bool
    counters: dict[str, int]  # the numbers in command ids and idempotency keys go on from here
    prompt_tokens: int
    completion_tokens: int
    llm_requests: int = 0
    speculative_requests: int = 0
    speculations_adopted: int = 0
    speculative_prompt_tokens: int = 0
    speculative_completion_tokens: int = 0
    fillers: int = 0
    web_business_id: int | None
    callback_refusals: dict[str, ScheduledCallback]


class CallSummary(BaseModel):
    call_control_id: str
    status: CallStatus
    caller_turns: int
    hangup_cause: str | None = None
    outcome: CallOutcome | None = None
    fallback_level: FallbackLevel = FallbackLevel.LLM


class CallbackOutcome(BaseModel):
    """What became of an outbound call-back call."""

    outcome: CallbackCallOutcome
    call_control_id: str


# CallStart names CarriedCall, defined after it beside the state it carries.
CallStart.model_rebuild()

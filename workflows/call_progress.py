"""`CallProgress`: everything one call has heard and decided so far, in one typed place.

The `CallWorkflow` and its helpers (the channel, the tools, escalation) share this one object
instead of attributes of each other. It is plain workflow state: nothing here does I/O, and
filing an event only records it; the run loop decides what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from temporalio import workflow

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.call_records import CallContext
    from activities.caller_reply import ReplyHeard
    from domain.vocabulary import Direction, FallbackLevel, Speaker, TransferOutcome
    from receptionist.conversation_state import ConversationState
    from receptionist.turn_taking import asks_yes_or_no, is_backchannel, keypad_words
    from workflows.call_messages import (
        CALLER_EVENTS,
        CallEvent,
        CallState,
        FollowedSpeech,
        OnCallLeg,
        TransferLeg,
    )
    from workflows.playing_replies import PlayingReply

# Patches: calls recorded before these took every transcription during speech as a barge-in and
# let key presses wait for the agent to finish.
BACKCHANNELS_PATCH = "backchannels-are-listening"
KEYS_DURING_SPEECH_PATCH = "keys-interrupt-speech"

if TYPE_CHECKING:
    from workflows.call_records import UnwrittenRecord

# How Telnyx names the end of a transfer leg that nobody answered.
LEG_OUTCOMES = {
    "timeout": TransferOutcome.NO_ANSWER,
    "no_answer": TransferOutcome.NO_ANSWER,
    "user_busy": TransferOutcome.BUSY,
    "busy": TransferOutcome.BUSY,
}


@dataclass(frozen=True)
class EscalationRequest:
    """The brain asked for a person; the turn finishes what it says first."""

    reason: str
    emergency: bool


@dataclass
class CallProgress:
    call_control_id: str
    # What the operator's `state` query reads: status, outcome, ladder level, transcript.
    live: CallState
    opening: CallContext | None = None  # decided by the open_call activity

    # What Telnyx has told us.
    seen_event_ids: set[str] = field(default_factory=set)
    initiated: CallEvent | None = None
    answered: bool = False
    over: bool = False  # the caller is gone, or the call ended some other way
    hangup_cause: str | None = None
    bridged: bool = False
    machine_detection: str | None = None
    leg_outcomes: dict[str, TransferOutcome] = field(default_factory=dict)  # by "escalation/attempt"
    on_call_legs: dict[str, OnCallLeg] = field(default_factory=dict)  # a warm transfer's, by "escalation/attempt"

    # The conversation.
    caller_words: list[CallEvent] = field(default_factory=list)  # heard, not yet answered
    # A "yeah" murmured while the agent spoke: answered only if the agent then asked a yes-or-no question.
    held_backchannel: CallEvent | None = None
    barge_in: bool = False
    reply_running: bool = False
    speeches_sent: int = 0
    speeches_started: int = 0  # call.speak.started heard
    speeches_ended: int = 0
    # Phone replies whose speech plays on, counted by the API, not signalled (workflows/playing_replies.py).
    playing_replies: list[PlayingReply] = field(default_factory=list)
    # The newest count of a reply's speech the caller's words brought: a reply still finishing takes it.
    followed_speech: FollowedSpeech | None = None
    # The caller's newest interim transcript since their last final one: what a speculative reply
    # starts on once it stops changing (workflows/speculation.py).
    interim: CallEvent | None = None
    # A turn is being answered: the caller waits, and a quiet line is silence they hear.
    awaiting_reply: bool = False
    # The caller has heard nothing since this Unix time (the API's receipt of the webhook that began it).
    silence_since: float | None = None
    longest_silence_ms: float = 0.0
    # The turn's LLM reply is given up for the offline responder: the caller has waited too long already.
    llm_given_up: bool = False
    llm_failed_turns: int = 0  # in a row
    # The offline responder's slots and last question (receptionist/conversation_state.py), kept between turns.
    conversation: ConversationState | None = None
    unmet_turns: int = 0  # in a row: turns no brain answered, or the offline responder did not understand
    requested_escalation: EscalationRequest | None = None
    ending: bool = False  # we decided to say goodbye and hang up
    transferred: bool = False  # bridged to a person; the receptionist only waits for the end

    # Bookkeeping.
    counters: dict[str, int] = field(default_factory=dict)  # numbers the command ids and keys of repeated steps
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # What the LLM cost the call: requests sent (speculative ones included), and of those the speculative
    # replies, the ones adopted, and their tokens (also in prompt_tokens and completion_tokens).
    llm_requests: int = 0
    speculative_requests: int = 0
    speculations_adopted: int = 0
    speculative_prompt_tokens: int = 0
    speculative_completion_tokens: int = 0
    fillers: int = 0  # "One moment ..." said, at most one per turn
    pending_records: list[workflow.ActivityHandle[None]] = field(default_factory=list)
    # Records written in the background (workflows.call_records), oldest first, kept while the database is down.
    records_in_background: bool = False
    unwritten: list[UnwrittenRecord] = field(default_factory=list)
    records_given_up: int = 0
    # A web conversation names its business; a phone call's is the one whose number was dialled.
    web_business_id: int | None = None

    @property
    def context(self) -> CallContext:
        """What the call knows from its start: business, brain, deadlines. Set once the call is open."""
        if self.opening is None:
            raise RuntimeError("the call has not been opened yet")
        return self.opening

    def next(self, counter: str) -> int:
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    def agent_speaking(self) -> bool:
        return self.reply_running or self.speeches_sent > self.speeches_ended

    def other_party(self) -> str | None:
        """The customer's number: the caller inbound, the one we dialled outbound."""
        if self.initiated and self.initiated.direction == Direction.OUTGOING:
            return self.live.dialed_number
        return self.live.caller_number

    def hear(self, event: CallEvent) -> None:
        """Files one Telnyx webhook. Telnyx delivers at least once and in any order: a repeat is ignored."""
        if event.event_id in self.seen_event_ids:
            return
        self.seen_event_ids.add(event.event_id)
        if event.leg is not None:
            self._hear_transfer_leg(event.leg, event)
            return
        kind = event.event_type
        if kind in CALLER_EVENTS:
            self._hear_followed_speech(event.reply_playback)
        if kind == "call.initiated":
            self.initiated = self.initiated or event
        elif kind == "call.answered":
            self.answered = True
        elif kind == "call.hangup":
            self.end(event.hangup_cause)
        elif kind == "call.bridged":
            self.bridged = True
        elif kind == "call.machine.detection.ended":
            self.machine_detection = self.machine_detection or event.detection_result or "human"
        elif kind == "call.speak.started":
            self.speeches_started += 1
            self.speech_began(event.received_at)
        elif kind == "call.speak.ended":
            self.speeches_ended += 1
            if self.awaiting_reply and self.speeches_ended >= self.speeches_started:
                self.silence_since = event.received_at  # the caller waits on for the rest of the answer
        elif kind == "call.transcription" and (event.transcript or "").strip():
            if self.agent_speaking() and is_backchannel(event.transcript or "") and patched(BACKCHANNELS_PATCH):
                # Listening, not a new turn: the agent goes on, and nothing answers the murmur.
                if event.is_final:
                    self.held_backchannel = event
                return
            if self.agent_speaking() and not self.greeting_protected():
                self.barge_in = True
            if event.is_final:
                self.held_backchannel = None
                self.caller_words.append(event)
                self.interim = None
                if not self.agent_speaking():
                    self.silence_since = event.received_at
            else:
                self.interim = event
        elif kind == "call.dtmf.received" and event.digit:
            if self.agent_speaking() and patched(KEYS_DURING_SPEECH_PATCH):
                self.barge_in = True
            self.caller_words.append(event.model_copy(update={"transcript": keypad_words(event.digit)}))

    def _hear_transfer_leg(self, leg: TransferLeg, event: CallEvent) -> None:
        key = f"{leg.escalation}/{leg.attempt}"
        if leg.warm:
            self._hear_on_call_leg(self.on_call_legs.setdefault(key, OnCallLeg()), event)
            return
        if self.leg_outcomes.get(key) == TransferOutcome.ANSWERED:
            return  # the person answered; their hanging up later is the end of that conversation
        if event.event_type in ("call.answered", "call.bridged"):
            self.leg_outcomes[key] = TransferOutcome.ANSWERED
        elif event.event_type == "call.hangup":
            self.leg_outcomes[key] = LEG_OUTCOMES.get(event.hangup_cause or "", TransferOutcome.FAILED)

    @staticmethod
    def _hear_on_call_leg(leg: OnCallLeg, event: CallEvent) -> None:
        kind = event.event_type
        if kind == "call.answered":
            leg.answered = True
        elif kind == "call.machine.detection.ended":
            leg.machine_detection = leg.machine_detection or event.detection_result or "not_sure"
        elif kind == "call.speak.ended":
            leg.speeches_ended += 1
        elif kind == "call.dtmf.received" and event.digit:
            leg.keys += event.digit
        elif kind == "call.bridged":
            leg.bridged = True
        elif kind == "call.hangup":
            leg.ended = True
            leg.hangup_cause = event.hangup_cause

    def _hear_followed_speech(self, count: FollowedSpeech | None) -> None:
        """The caller talked, pressed a key or hung up, and the API's count of the reply that followed its
        playback came with it: the replies still playing that nothing follows are counted before the event
        is filed, so it is filed knowing whether our speech still plays. A reply with no count (the API
        process that counted it is gone) is taken as heard: its words were said."""
        if count is not None:
            self.followed_speech = count
        for playing in [p for p in self.playing_replies if p.handle is None]:
            self.playing_replies.remove(playing)
            self.count_speech(playing, count if count is not None and count.reply == playing.reply else None)

    def play_on(self, playing: PlayingReply) -> None:
        """A reply (or the greeting) whose speech plays on, counted by the API: the caller's next words bring its
        count. Words that came while it was still being sent closed its window already: their count is final."""
        brought = self.followed_speech
        if brought is not None and brought.reply == playing.reply:
            self.count_speech(playing, brought)
        else:
            self.playing_replies.append(playing)

    def count_speech(self, playing: PlayingReply, heard: ReplyHeard | FollowedSpeech | None) -> None:
        """Adds what the call has not counted yet of a playing reply's speech: all of it when `heard` is None."""
        started, ended = playing.heard(heard)
        self.speeches_started += started
        self.speeches_ended += ended
        if heard is not None and heard.first_started_at is not None:
            self.speech_began(heard.first_started_at)

    def speech_began(self, received_at: float) -> None:
        """Our speech began (the API received its start at `received_at`): the caller's silence, if any, ends."""
        if self.silence_since is not None:
            silence = (received_at - self.silence_since) * 1000
            self.longest_silence_ms = max(self.longest_silence_ms, silence)
            self.silence_since = None

    def greeting_protected(self) -> bool:
        """The business protects its greeting (`protect_greeting`), and it is the speech still playing.

        Calls recorded before the setting existed opened with a configuration without it: they replay unprotected.
        """
        protected = self.opening is not None and self.opening.business.protect_greeting
        return protected and self.speeches_ended == 0 and not self.live.caller_turns

    def held_answer_due(self) -> bool:
        """A murmured "yeah" became an answer: the agent has finished, on a yes-or-no question."""
        if self.held_backchannel is None or self.agent_speaking() or not self.live.transcript:
            return False
        last = self.live.transcript[-1]
        return last.speaker == Speaker.AGENT and asks_yes_or_no(last.text)

    def answer_held_backchannel(self) -> None:
        if self.held_backchannel is not None:
            self.caller_words.append(self.held_backchannel)
            self.held_backchannel = None

    def take_caller_words(self) -> list[CallEvent]:
        words, self.caller_words = self.caller_words, []
        return words

    def end(self, hangup_cause: str | None) -> None:
        """The call is over: the first end heard is the one on record."""
        if not self.over:
            self.over = True
            self.hangup_cause = hangup_cause

    def note_call_ended(self) -> None:
        """Telnyx answered 90018: the call is over even if its call.hangup webhook has not reached us."""
        self.end("call_already_ended")

    def climbs_to(self, level: FallbackLevel) -> bool:
        """True when `level` is deeper on the ladder than where the call is."""
        return level.depth > FallbackLevel(self.live.fallback_level).depth

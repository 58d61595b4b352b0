"""A call's recording: announced in the greeting, or asked for first where the caller's consent is needed.

The plan is decided when the call opens (`business.recording_consent`, on `CallContext.recording`).
Announced, the greeting says the call is recorded and Telnyx's record_start goes out with it.
Asked, the caller hears "This call may be recorded. Is that all right?" and only a yes starts the
recording; a no, other words or silence leave the call unrecorded, and other words are answered
as the caller's first turn. The recording's end is Telnyx's: its call.recording.saved reaches
`workflows.recording_saved` after the call is over.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from domain.vocabulary import Channel, RecordingPlan, Speaker, Utterance
    from receptionist import unasked_words
    from receptionist.consent_answers import agrees_to_recording
    from receptionist.unasked_words import words_in
    from workflows.waiting import wait_until

from workflows.call_channel import CallChannel
from workflows.call_language import language_of
from workflows.call_progress import CallProgress

# Calls opened on code before recordings have no plan; those after mark their histories here.
RECORDS_CALLS = "records-calls"
# Calls before it heard only English answers to the consent question ("sí" was other words).
SPANISH_CONSENT = "spanish-consent-answers"
# In English; the call says them in its language (receptionist/unasked_words.py).
CONSENT_QUESTION = unasked_words.CONSENT_QUESTION["en"]
RECORDING_NOTICE = unasked_words.RECORDING_NOTICE["en"]
AGREED = unasked_words.RECORDING_AGREED["en"]
NOT_RECORDED = unasked_words.NOT_RECORDED["en"]
# Long enough for a caller to answer a question; silence after it is no consent.
WAIT_FOR_CONSENT = timedelta(seconds=10)


class CallRecording:
    def __init__(self, progress: CallProgress, channel: CallChannel) -> None:
        self._progress = progress
        self._channel = channel

    def plan(self) -> RecordingPlan:
        """Only a phone line is recorded, and only by workflow code that knows recordings."""
        plan = self._progress.context.recording
        if plan == RecordingPlan.NOT_RECORDED or self._channel.kind != Channel.PHONE:
            return RecordingPlan.NOT_RECORDED
        return plan if patched(RECORDS_CALLS) else RecordingPlan.NOT_RECORDED

    def consent_question(self) -> str:
        return words_in(unasked_words.CONSENT_QUESTION, language_of(self._progress))

    def announced(self, opening_words: str) -> str:
        return f"{words_in(unasked_words.RECORDING_NOTICE, language_of(self._progress))} {opening_words}"

    async def start(self) -> None:
        await self._channel.record("record")

    async def ask_consent(self) -> str:
        """Asks, starts the recording on a yes; what to say next (the greeting, unless the caller already spoke)."""
        progress = self._progress
        await wait_until(
            lambda: bool(progress.caller_words) or progress.held_answer_due() or progress.over, WAIT_FOR_CONSENT
        )
        if progress.held_answer_due():
            progress.answer_held_backchannel()  # a "yes" said over the question
        if progress.over:
            return ""
        heard = " ".join((e.transcript or "").strip() for e in progress.caller_words).strip()
        agreed = agrees_to_recording(heard, spanish=patched(SPANISH_CONSENT)) if heard else None
        if agreed is None:
            # Silence is no consent; words that are not an answer are the caller's first turn.
            return words_in(unasked_words.NOT_RECORDED, language_of(progress))
        progress.take_caller_words()
        progress.barge_in = False  # the answer was heard: nothing to stop
        progress.live.transcript.append(Utterance(speaker=Speaker.CALLER, text=heard))
        if not agreed:
            return words_in(unasked_words.NOT_RECORDED, language_of(progress))
        await self.start()
        return words_in(unasked_words.RECORDING_AGREED, language_of(progress))

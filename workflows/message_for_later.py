"""A call to a business this worker has never loaded, while the database is down: a message for later.

The caller heard the generic greeting (`receptionist.unknown_business`); the call takes what they
say as a message, promises a call-back, says goodbye and hangs up. The promise is kept with the
call's records: once the database answers, the call's row names the business, and the call-back
is scheduled for it as any other (`Callbacks.promise`).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.vocabulary import Brain, CallOutcome, Speaker, Utterance
    from receptionist.unknown_business import CALLBACK_REASON, GOODBYE, NO_MESSAGE_GOODBYE
    from workflows.call_options import WAIT_FOR_MESSAGE
    from workflows.waiting import wait_until

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_callbacks import Callbacks
from workflows.call_channel import CallChannel
from workflows.call_progress import CallProgress


async def take_message_for_later(
    progress: CallProgress, channel: CallChannel, books: Bookkeeping, callbacks: Callbacks
) -> None:
    await wait_until(lambda: bool(progress.caller_words) or progress.over, WAIT_FOR_MESSAGE)
    message = " ".join((w.transcript or "").strip() for w in progress.take_caller_words()).strip() or None
    goodbye = GOODBYE if message else NO_MESSAGE_GOODBYE
    if message:
        progress.live.caller_turns += 1
        progress.live.transcript.append(Utterance(speaker=Speaker.CALLER, text=message))
    if not progress.over:
        await channel.say(goodbye, "message-for-later/goodbye")
        progress.live.transcript.append(Utterance(speaker=Speaker.AGENT, text=goodbye))
    if message:
        books.record_turn(1, message, goodbye, latency=None, brain=Brain.NONE, interrupted=False, tools=[])
    progress.live.outcome = CallOutcome.MESSAGE
    callbacks.keep_promise(CALLBACK_REASON, message)
    if not progress.over:
        progress.ending = True
        await channel.hang_up("goodbye")
    channel.end_conversation()

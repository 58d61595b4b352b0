"""Speculative replies: the LLM starts on the caller's words before Telnyx says they have finished.

Telnyx's final transcript comes only after the engine's endpointing silence (business/listening.py).
The first interim transcript starts the `speculate_reply` activity on its words; it follows the
caller's newer words by querying the call (`newest_interim`), waits for them to stay the same for
`speculate_after_ms`, then generates the LLM's reply into its result, never speaking it, with no
tool run (a stream that wants a tool stops there). A Temporal timer is rounded up to a second, too
coarse to time that wait in the workflow; and a query costs no history, where cancelling and
starting an activity per interim cost events and workflow tasks. When the final transcript
comes, the turn takes the speculation if it says the same words (`receptionist.transcripts`), and
`reply_to_caller` speaks the prepared sentences at once; otherwise it is cancelled and the turn
answers the final words as before.

The workflow holds the one speculation of the call, so its fate is in the call's history: a turn
adopts it or cancels it once, and only `reply_to_caller`, with the turn's usual command ids, ever
speaks. A worker that dies mid-speculation leaves an activity that is retried elsewhere (or fails,
and the turn asks the LLM itself); either way the turn has one reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.caller_reply import CallerReplies, ReplyRequest, Speculation
    from receptionist.transcripts import same_words
    from workflows.call_options import SPECULATIVE_REPLY
    from workflows.waiting import wait_until

from workflows.call_progress import CallProgress

# Calls begun before it answered only final transcripts.
SPECULATIVE_REPLIES_PATCH = "speculative-replies"
# Calls recorded before a speculation made in one language was refused once the call had moved to another.
SAME_LANGUAGE_PATCH = "speculation-in-the-call-language"


class Speculations:
    """The call's one speculative reply, if any: started on an interim, then taken or cancelled."""

    def __init__(
        self,
        progress: CallProgress,
        request_for: Callable[[str, float], ReplyRequest],
        current_language: Callable[[], str],
    ) -> None:
        self._progress = progress
        self._request_for = request_for  # a round-0 request of the next turn for these words
        self._current_language = current_language  # the call's language now (CallLanguage.current)
        self._handle: workflow.ActivityHandle[Speculation] | None = None
        self._words = ""  # what the running speculation answers
        self._language: str | None = None  # the language it was asked to answer in
        self._started_at: datetime | None = None
        self._considered: str | None = None  # the interim (event id) last considered
        self.waiting = False  # a turn waits for the speculation to finish

    def wanted(self) -> bool:
        """An interim transcript not yet considered, while the caller has the floor."""
        progress = self._progress
        interim = progress.interim
        return (
            interim is not None
            and interim.event_id != self._considered
            and not progress.caller_words
            and not progress.agent_speaking()
            and progress.opening is not None
            and progress.context.business.reply_timing.speculate
        )

    async def consider(self) -> None:
        """Starts the speculation on the newest interim, in place of one on words the caller went on from."""
        progress = self._progress
        interim = progress.interim
        if interim is None:
            return
        self._considered = interim.event_id
        words = (interim.transcript or "").strip()
        if same_words(words, self._words) and self._handle is not None:
            return  # the same words again, punctuated anew: the running speculation answers them
        if self._handle is not None and self._handle.done():
            await self.cancel()  # it answered words the caller has since gone on from
        self._words = words
        self._started_at = workflow.now()
        if self._handle is not None:
            return  # the running speculation follows the caller's newest words itself (by query)
        request = self._request_for(words, interim.received_at).model_copy(update={"speculating_on": interim.event_id})
        self._language = request.language
        self._handle = workflow.start_activity_method(CallerReplies.speculate_reply, request, **SPECULATIVE_REPLY)

    async def take(self, caller_text: str, deadline: timedelta) -> Speculation | None:
        """At the final transcript: the speculation if it answers the same words and is ready within
        `deadline`; else it is cancelled and None. Either way it is settled: taken at most once."""
        handle = self._handle
        if handle is None:
            return None
        if self._language != self._current_language() and patched(SAME_LANGUAGE_PATCH):
            # The caller's words moved the call to another language (a Spanish "Hola, ..." in an English
            # call): a reply prepared in the old one must not be spoken in the new one's voice.
            await self.cancel()
            return None
        if not same_words(caller_text, self._words) or not self._asked_llm():
            # Other words; or the same, come before they were stable: it has not asked the LLM yet.
            await self.cancel()
            return None
        progress = self._progress
        self._count_request()
        self.waiting = True
        try:
            ready = await wait_until(
                lambda: handle.done() or progress.barge_in or progress.over or progress.llm_given_up, deadline
            )
        finally:
            self.waiting = False
        self._handle = None
        if not ready or not handle.done():
            await self._cancelled(handle)
            return None
        try:
            speculation = await handle
        except (ActivityError, CancelledError, asyncio.CancelledError):
            return None  # the turn asks the LLM itself
        progress.prompt_tokens += speculation.prompt_tokens
        progress.completion_tokens += speculation.completion_tokens
        progress.speculative_prompt_tokens += speculation.prompt_tokens
        progress.speculative_completion_tokens += speculation.completion_tokens
        progress.speculative_requests += speculation.llm_requests - 1  # counted once above
        progress.llm_requests += speculation.llm_requests - 1
        if speculation.wanted_tool or not speculation.sentences or not same_words(caller_text, speculation.caller_text):
            return None  # the final words go to the LLM, whose tools run now
        progress.speculations_adopted += 1
        return speculation

    async def cancel(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if handle.done():
            with suppress(ActivityError, CancelledError, asyncio.CancelledError):
                unused = await handle
                self._progress.speculative_requests += unused.llm_requests
                self._progress.llm_requests += unused.llm_requests
            return
        if self._asked_llm():
            self._count_request()
        await self._cancelled(handle)

    def _asked_llm(self) -> bool:
        """Whether the speculation has waited out its stable words and asked the LLM (by the workflow's clock)."""
        stable_for = timedelta(milliseconds=self._progress.context.business.reply_timing.speculate_after_ms)
        return self._started_at is not None and workflow.now() - self._started_at >= stable_for

    def _count_request(self) -> None:
        self._progress.speculative_requests += 1
        self._progress.llm_requests += 1

    @staticmethod
    async def _cancelled(handle: workflow.ActivityHandle[Speculation]) -> None:
        if not handle.done():
            handle.cancel()
        with suppress(ActivityError, CancelledError, asyncio.CancelledError):
            await handle  # a cancelled speculation said nothing; its tokens are the provider's to count

"""The conversation of a Realtime-SIP call: OpenAI's model talks, the workflow runs its tools and keeps its records.

Once the call is accepted (`RealtimeSipLine.answer`), one long-running activity holds the call's
control channel (`RealtimeCalls.keep_control_channel`). Each function call the model makes comes
back here as an Update (`run_tool`): the same `CallTools`, through the same validated dispatcher
(`receptionist.tool_dispatch`), with idempotency keys numbered by the workflow, so a retried
update or a replayed history books nothing twice. An escalation climbs the same ladder as a
Telnyx call (`Escalation`, refer by refer) inside the update, and its answer tells the model
whether the caller is being put through or should leave a message (`take_message`, a call-back).

The finished transcripts of both sides arrive as signals (`heard`); each caller utterance is paired
with the model's next one into a turn on record, as a phone call's turns are.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.realtime_calls import (
        ControlChannel,
        ControlChannelEnded,
        RealtimeCalls,
        RealtimeFunctionCall,
        RealtimeToolReply,
        RealtimeWords,
    )
    from domain.vocabulary import Brain, Speaker, Utterance
    from receptionist.tools import ToolCall
    from receptionist.unasked_words import NOBODY_ANSWERED, TIME_UP_GOODBYE, words_in
    from workflows.call_options import REALTIME_CALL_LIMIT, REALTIME_CONTROL_CHANNEL

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_callbacks import Callbacks
from workflows.call_escalation import Escalation
from workflows.call_language import language_of
from workflows.call_progress import CallProgress
from workflows.call_tools import CallTools
from workflows.realtime_sip_line import REALTIME_CALL_ENDED, RealtimeSipLine
from workflows.waiting import wait_until

# What the model reads after escalate_to_human: the caller is on the way to a person, or nobody took the call.
PUT_THROUGH = "The caller is being put through to a person now: say nothing more."
NOBODY_TOOK_IT = (
    f"{NOBODY_ANSWERED['en']} Tell the caller so, ask briefly what it is about, then call take_message "
    "with their message: the business calls them back."
)


class RealtimeConversation:
    def __init__(
        self,
        progress: CallProgress,
        line: RealtimeSipLine,
        books: Bookkeeping,
        tools: CallTools,
        escalation: Escalation,
        callbacks: Callbacks,
    ) -> None:
        self._progress = progress
        self._line = line
        self._books = books
        self._callbacks = callbacks
        self._tools = tools
        self._escalation = escalation
        self._heard_items: set[str] = set()
        self._caller_said: list[str] = []  # caller utterances not yet on a turn
        self._model_said: list[str] = []  # the model's answers to them, not yet on a turn
        self._tool_calls: list[dict[str, object]] = []  # run since the last turn on record
        self._caller_spoke = False

    async def converse(self, greeting: str) -> None:
        """Holds the control channel until the call ends; its tools and words arrive meanwhile."""
        progress = self._progress
        channel = ControlChannel(
            call_id=progress.call_control_id,
            workflow_id=workflow.info().workflow_id,
            greeting=greeting,
            goodbye=words_in(TIME_UP_GOODBYE, language_of(progress)),
            hang_up_at=(workflow.now() + REALTIME_CALL_LIMIT).timestamp(),
        )
        try:
            ended: ControlChannelEnded = await workflow.execute_activity_method(
                RealtimeCalls.keep_control_channel, channel, **REALTIME_CONTROL_CHANNEL
            )
            progress.end(ended.hangup_cause)
            self._books.realtime_usage = ended.usage
        except ActivityError as error:
            # Without its channel the model cannot run a tool: the caller is not left talking to it.
            await self._books.record_error("openai.control", error)
            if not progress.over:
                await self._line.hang_up("control-channel-lost")
        progress.end(REALTIME_CALL_ENDED)
        # A tool (an escalation's ladder) may still be running for an update the channel sent last.
        # wait_until, not wait_condition: a timeout must record the rest, not fail the task (and every replay of it).
        await wait_until(workflow.all_handlers_finished, timedelta(minutes=2))
        self._record_the_rest()

    async def run_tool(self, call: RealtimeFunctionCall) -> RealtimeToolReply:
        """A function call of the model, run as a phone call's (numbered by the workflow: replays book once)."""
        progress = self._progress
        number = progress.next("realtime-tool")
        tool = ToolCall(id=call.call_id, name=call.name, arguments=call.arguments)
        output = await self._tools.run(tool, f"realtime-tool-{number}", 0)
        if requested := progress.requested_escalation:
            progress.requested_escalation = None
            await self._escalation.escalate(requested.reason, emergency=requested.emergency)
            output = PUT_THROUGH if progress.transferred else NOBODY_TOOK_IT
        self._tool_calls.append(tool.model_dump() | {"result": output})
        return RealtimeToolReply(output=output, end_call=progress.ending and not progress.transferred)

    async def heard(self, words: RealtimeWords) -> None:
        """A finished transcript: on the live transcript now, and on a turn once both sides have spoken.
        The caller's first words also answer the greeting's question about an urgent call-back still owed."""
        if words.item_id in self._heard_items or not words.text.strip():
            return  # sent again by a control channel joined again
        self._heard_items.add(words.item_id)
        self._progress.live.transcript.append(Utterance(speaker=words.speaker, text=words.text))
        first_words = words.speaker == Speaker.CALLER and not self._caller_spoke
        if words.speaker == Speaker.CALLER:
            self._caller_spoke = True
            self._caller_said.append(words.text)
        elif self._caller_spoke:
            self._model_said.append(words.text)  # the greeting, before the caller spoke, is no turn's answer
        while self._caller_said and self._model_said:
            self._record_turn(self._caller_said.pop(0), self._model_said.pop(0))
        if first_words:
            await self._callbacks.hear_answer(self._progress.live.transcript)

    def _record_the_rest(self) -> None:
        if self._caller_said or self._model_said or self._tool_calls:
            self._record_turn(" ".join(self._caller_said), " ".join(self._model_said))
            self._caller_said, self._model_said = [], []

    def _record_turn(self, caller_text: str, agent_text: str) -> None:
        live = self._progress.live
        live.caller_turns += 1
        tools, self._tool_calls = self._tool_calls, []
        self._books.record_turn(
            live.caller_turns,
            caller_text,
            agent_text,
            latency=None,
            brain=Brain.REALTIME,
            interrupted=False,
            tools=tools,
        )

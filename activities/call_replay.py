"""Try a change on past calls: each caller turn of a recorded call, answered again by the brain with a
draft configuration or another model, beside what the agent said and asked for then.

The replay goes through the calls' own reply path (`CallerReplies.compose`: the same instructions,
tools, LLM or offline responder) and the same safety net, turn by turn, with the agent's NEW replies
as the history. No tool runs: each one the brain asks for is recorded and answered with NOT_RUN, so
nothing is booked, texted or dialled, and no calendar is read.

The regression rule (`tools_differ`): a call differs from then when, at any caller turn, the names
of the tools asked for, in order, are not those of then. Words may change freely, and so may the
arguments (a "tomorrow" resolves to another day when replayed later).
"""

from __future__ import annotations

import openai
import telnyx
from pydantic import BaseModel, Field
from temporalio.exceptions import ApplicationError

from activities.caller_reply import CallerReplies, ReplyRequest
from business.config import BusinessConfig
from database.replay_queries import RecordedCall, RecordedTurn
from domain.vocabulary import Brain, Channel, Speaker, Utterance
from receptionist.emergencies import emergency_in
from receptionist.emergencies_by_language import emergency_in_languages
from receptionist.tools import ToolCall, ToolRound
from runtime.settings import Settings

# A sentence, as the tools' results are: the offline responder reads results out, and the LLM reads them.
NOT_RUN = "(Not run: this is a replay of a past call, so this tool did nothing.)"
# As a call's turn (workflows/call_options.py MAX_TOOL_ROUNDS): up to four rounds of words and tools.
MAX_TOOL_ROUNDS = 3
# What a turn the safety net answered asked for, then and now: a person, the brain unasked.
SAFETY_NET = "safety_net_escalation"


class ToolAsked(BaseModel):
    name: str
    arguments: dict = Field(default_factory=dict)


class ReplayedTurn(BaseModel):
    turn_index: int
    caller_text: str
    then_said: str
    then_brain: str | None
    then_tools: list[ToolAsked]
    now_said: str
    now_brain: Brain
    now_tools: list[ToolAsked]
    tools_differ: bool


class ReplayedCall(BaseModel):
    call_id: str
    business_id: int
    business_name: str
    model: str | None = Field(description="The LLM that answered now; None: the offline responder")
    turns: list[ReplayedTurn]
    tools_differ: bool


def draft_of(config: BusinessConfig, draft: dict | None) -> BusinessConfig:
    """The business's configuration with the draft's fields in place of its own (ValidationError if invalid)."""
    if not draft:
        return config
    return BusinessConfig.model_validate({**config.model_dump(mode="json"), **draft})


def _then_tools(turn: RecordedTurn) -> list[ToolAsked]:
    if turn.brain == Brain.SAFETY_NET:
        return [ToolAsked(name=SAFETY_NET)]
    return [
        ToolAsked(name=str(c.get("name", "")), arguments=ToolCall.model_validate(c).parsed_arguments())
        for c in turn.tool_calls
        if isinstance(c, dict) and {"id", "name"} <= c.keys()
    ]


class CallReplayer:
    def __init__(self, settings: Settings, model: str | None = None) -> None:
        self._llm = llm = (
            openai.AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=0)
            if settings.openai_api_key
            else None
        )
        self.model = (model or settings.openai_model) if llm else None
        # A client the replay never uses: a replayed reply is spoken to nobody.
        unused = telnyx.AsyncTelnyx(api_key=settings.telnyx_api_key or "replays-speak-to-nobody", max_retries=0)
        self._replies = CallerReplies(
            unused, llm, model=self.model or "", first_sentence_timeout=settings.llm_first_sentence_timeout_seconds
        )
        self._brain = Brain.LLM if llm else Brain.OFFLINE

    async def aclose(self) -> None:
        if self._llm is not None:
            await self._llm.close()

    async def replay_all(self, calls: list[RecordedCall], draft: dict | None = None) -> list[ReplayedCall]:
        """The calls replayed one after the other; the LLM's connections closed after."""
        try:
            return [await self.replay(call, draft) for call in calls]
        finally:
            await self.aclose()

    async def replay(self, call: RecordedCall, draft: dict | None = None) -> ReplayedCall:
        config = draft_of(call.business, draft)
        history = [Utterance(speaker=Speaker.AGENT, text=config.greeting_text())]
        turns = []
        for turn in call.turns:
            said, brain, tools = await self._answer(call.call_id, config, turn, history)
            history += [
                Utterance(speaker=Speaker.CALLER, text=turn.caller_text),
                Utterance(speaker=Speaker.AGENT, text=said),
            ]
            then = _then_tools(turn)
            turns.append(
                ReplayedTurn(
                    turn_index=turn.turn_index,
                    caller_text=turn.caller_text,
                    then_said=turn.agent_text,
                    then_brain=turn.brain,
                    then_tools=then,
                    now_said=said,
                    now_brain=brain,
                    now_tools=tools,
                    tools_differ=[t.name for t in then] != [t.name for t in tools],
                )
            )
        return ReplayedCall(
            call_id=call.call_id,
            business_id=call.business_id,
            business_name=config.name,
            model=self.model,
            turns=turns,
            tools_differ=any(t.tools_differ for t in turns),
        )

    async def _answer(
        self, call_id: str, config: BusinessConfig, turn: RecordedTurn, history: list[Utterance]
    ) -> tuple[str, Brain, list[ToolAsked]]:
        if phrase := emergency_in(config, turn.caller_text) or emergency_in_languages(config, turn.caller_text):
            return (
                f"(the safety net hands the caller to a person: emergency, {phrase})",
                Brain.SAFETY_NET,
                [ToolAsked(name=SAFETY_NET)],
            )
        brain, rounds, spoken, asked = self._brain, [], [], []
        for round_index in range(MAX_TOOL_ROUNDS + 1):
            request = ReplyRequest(
                call_control_id=call_id,
                workflow_id=f"replay/{call_id}",
                turn_index=turn.turn_index,
                round_index=round_index,
                caller_text=turn.caller_text,
                history=history,
                rounds=rounds,
                business=config,
                brain=brain,
                channel=Channel.PHONE,
                now=turn.spoken_at,
                caller_words_received_at=turn.spoken_at.timestamp(),
            )
            try:
                text, calls = await self._replies.compose(request)
            except ApplicationError:
                if brain == Brain.OFFLINE:
                    raise
                # As in a call: a failing LLM's turn is answered by the offline responder.
                brain = Brain.OFFLINE
                text, calls = await self._replies.compose(request.model_copy(update={"brain": brain}))
            if text:
                spoken.append(text)
            asked += [ToolAsked(name=c.name, arguments=c.parsed_arguments()) for c in calls]
            if not calls or round_index == MAX_TOOL_ROUNDS:
                break
            rounds.append(ToolRound(said=text, calls=calls, results=[NOT_RUN] * len(calls)))
        return " ".join(spoken), brain, asked

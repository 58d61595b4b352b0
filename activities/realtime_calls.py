"""A phone call answered by OpenAI's Realtime model over SIP: the line's mode, accept, reject,
refer and hang up (`client.realtime.calls`), and the call's control channel.

A business whose line is in Realtime-SIP mode (`Business.phone_mode`) has Telnyx route its calls
to OpenAI's SIP URI; OpenAI announces each with a signed `realtime.call.incoming` webhook and the
call's `CallWorkflow` decides here. Tools run where every other call's run: the control-channel
activity (`keep_control_channel`) hands each function call to the workflow as an Update, which
runs it through `receptionist.tool_dispatch` like a phone call's and answers with the result;
the activity sends it back to the model. The caller's and the model's words reach the workflow
as signals, for the call's transcript and records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import openai
import structlog
from pydantic import BaseModel, Field
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.realtime_control import ControlEnd, FunctionCall, RealtimeControl, ToolReply, TranscriptLine
from business.config import BusinessConfig
from database.engine import get_engine
from database.models import Business
from domain.vocabulary import PhoneMode, Speaker
from receptionist.realtime_sessions import realtime_session, realtime_voice
from runtime.call_cost import RealtimeUsage

log = structlog.get_logger(__name__)

# The failure type of a request OpenAI refused (4xx): retrying sends the same refusal.
REALTIME_REFUSED = "RealtimeRefused"
# The names the control-channel activity uses to reach the call's workflow (`CallWorkflow` declares its
# handlers under them, importing them from here: activities never import workflows).
REALTIME_TOOL_UPDATE = "realtime_tool_call"
REALTIME_WORDS_SIGNAL = "realtime_words"


# A tool the caller waits for: past this the model is told it failed (its workflow may still finish it).
TOOL_UPDATE_TIMEOUT_SECONDS = 20.0


class RealtimeLine(BaseModel):
    """The business whose number a Realtime-SIP call dialled (None: nobody's), and its line's mode."""

    business_id: int | None
    phone_mode: PhoneMode | None = None


class AcceptCall(BaseModel):
    call_id: str
    business: BusinessConfig
    language: str | None = None


class ReferCall(BaseModel):
    call_id: str
    target_uri: str  # tel:+1... (an on-call number)


class Referral(BaseModel):
    referred: bool  # OpenAI took the REFER: the caller leaves the model for the number
    call_gone: bool = False  # the call was over already (404)
    error: str | None = None


class RealtimeFunctionCall(BaseModel):
    """A function call the model made on the call, as the workflow runs it."""

    call_id: str  # the function call's id (the conversation item's call_id)
    name: str
    arguments: str


class RealtimeToolReply(BaseModel):
    output: str
    end_call: bool = False  # say goodbye, then hang up


class RealtimeWords(BaseModel):
    """A finished transcript of one side of the call (the caller's input transcription, the model's audio)."""

    item_id: str
    speaker: Speaker
    text: str


class ControlChannel(BaseModel):
    call_id: str
    workflow_id: str
    greeting: str  # the call's opening words, said once the channel is open
    goodbye: str  # said before the call is hung up at its cap
    hang_up_at: float | None = None  # unix time: the call's length cap


class ControlChannelEnded(BaseModel):
    hangup_cause: str
    usage: RealtimeUsage = Field(default_factory=RealtimeUsage)  # the model's tokens, for the call's cost


def sip_number(value: str | None) -> str | None:
    """The E.164 number in a SIP header value (`<sip:+15550100@host>;tag=...`, `tel:+1...`), if any."""
    if not value:
        return None
    inside = value.split("<", 1)[1].split(">", 1)[0] if "<" in value else value.split(";", 1)[0]
    user = inside.split(":", 1)[1] if ":" in inside else inside
    number = user.split("@", 1)[0].split(";", 1)[0].strip()
    digits = number.removeprefix("+")
    return f"+{digits}" if digits.isdigit() and 7 <= len(digits) <= 15 else None


def refused(error: openai.APIStatusError, what: str) -> ApplicationError:
    return ApplicationError(f"OpenAI refused to {what}: {error.status_code} {error.message}", type=REALTIME_REFUSED)


class RealtimeCalls:
    def __init__(
        self,
        client: openai.AsyncOpenAI | None,
        database_url: str,
        *,
        model: str,
        transcription_model: str,
        voice: str,
    ) -> None:
        self._client = client
        self._database_url = database_url
        self._model = model
        self._transcription_model = transcription_model
        self._voice = voice

    def _openai(self) -> openai.AsyncOpenAI:
        if self._client is None:
            raise ApplicationError("OPENAI_API_KEY is not set: no Realtime call can be answered", non_retryable=True)
        return self._client

    @activity.defn(name="find_realtime_line")
    async def find_realtime_line(self, dialed_number: str | None) -> RealtimeLine:
        """The business whose number was dialled, with its line's mode (no business: an unknown number).

        Unlike a Telnyx call, a number nobody configured reaches no business: OpenAI's SIP endpoint
        is the project's, and only a line in Realtime mode may be answered there."""
        return await asyncio.to_thread(self._find_line, dialed_number)

    def _find_line(self, dialed_number: str | None) -> RealtimeLine:
        if not dialed_number:
            return RealtimeLine(business_id=None)
        with Session(get_engine(self._database_url)) as session:
            business = session.exec(select(Business).where(Business.phone_number == dialed_number)).first()
        if business is None:
            return RealtimeLine(business_id=None)
        return RealtimeLine(business_id=business.id, phone_mode=business.phone_mode)

    @activity.defn(name="accept_realtime_call")
    async def accept_realtime_call(self, accept: AcceptCall) -> None:
        """Answers the call with the business's session: the one instruction builder and tool list."""
        session = realtime_session(
            accept.business,
            model=self._model,
            transcription_model=self._transcription_model,
            voice=realtime_voice(accept.business, self._voice),
            now=datetime.now(UTC),
            language=accept.language,
        )
        fields = {key: value for key, value in session.items() if key != "type"}
        try:
            await self._openai().realtime.calls.accept(accept.call_id, type="realtime", **fields)
        except openai.APIStatusError as error:
            if error.status_code < 500:
                raise refused(error, "accept the call") from error
            raise

    @activity.defn(name="reject_realtime_call")
    async def reject_realtime_call(self, call_id: str) -> None:
        """Declines a call no Realtime line of ours takes (SIP 603, the service's default)."""
        try:
            await self._openai().realtime.calls.reject(call_id)
        except openai.NotFoundError:
            log.info("the call to reject had ended already", call_id=call_id)
        except openai.APIStatusError as error:
            if error.status_code < 500:
                raise refused(error, "reject the call") from error
            raise

    @activity.defn(name="refer_realtime_call")
    async def refer_realtime_call(self, refer: ReferCall) -> Referral:
        """Transfers the caller by SIP REFER. Never retried: a REFER that may have gone out must not go
        twice; the escalation's ladder moves on to the next number instead."""
        try:
            await self._openai().realtime.calls.refer(refer.call_id, target_uri=refer.target_uri)
        except openai.NotFoundError as error:
            return Referral(referred=False, call_gone=True, error=str(error.message))
        except openai.APIStatusError as error:
            return Referral(referred=False, error=f"{error.status_code} {error.message}")
        except openai.APIConnectionError as error:
            return Referral(referred=False, error=f"no answer from OpenAI: {error}")
        return Referral(referred=True)

    @activity.defn(name="hang_up_realtime_call")
    async def hang_up_realtime_call(self, call_id: str) -> None:
        try:
            await self._openai().realtime.calls.hangup(call_id)
        except openai.NotFoundError:
            pass  # over already
        except openai.APIStatusError as error:
            if error.status_code < 500:
                raise refused(error, "hang up") from error
            raise

    @activity.defn(name="keep_control_channel")
    async def keep_control_channel(self, channel: ControlChannel) -> ControlChannelEnded:
        """Stays on the call's control channel until the call ends: each function call goes to the
        workflow and its answer back to the model; finished transcripts go to the workflow.

        Long-running and heartbeating (runtime.heartbeats): a dead worker's channel is joined again
        by another, and an update sent twice (same function call id) runs its tool once."""
        handle = activity.client().get_workflow_handle(channel.workflow_id)

        async def run_tool(call: RealtimeFunctionCall) -> RealtimeToolReply:
            # Bounded: with Temporal or every worker down the model hears the tool failed (and apologises)
            # instead of the caller hearing silence for as long as the outage lasts.
            reply: RealtimeToolReply = await asyncio.wait_for(
                handle.execute_update(
                    REALTIME_TOOL_UPDATE, call, id=f"tool-{call.call_id}", result_type=RealtimeToolReply
                ),
                TOOL_UPDATE_TIMEOUT_SECONDS,
            )
            return reply

        async def heard(words: RealtimeWords) -> None:
            await handle.signal(REALTIME_WORDS_SIGNAL, words)

        usage = RealtimeUsage()

        async def billed(response_usage: dict[str, Any]) -> None:
            usage.add(response_usage)

        first = activity.info().attempt == 1
        cause = await control_channel(
            self._openai(),
            channel,
            run_tool,
            heard,
            billed,
            greet=first,  # a channel joined again after a worker died does not greet twice
        )
        # A worker that died took its count with it: that attempt's tokens are not in the estimate.
        return ControlChannelEnded(hangup_cause=cause, usage=usage)


ToolRunner = Callable[[RealtimeFunctionCall], Awaitable[RealtimeToolReply]]
WordsHeard = Callable[[RealtimeWords], Awaitable[None]]
UsageBilled = Callable[[dict[str, Any]], Awaitable[None]]
# How the call ended, as the call's record says it (hangup_cause).
HANGUP_CAUSES = {
    ControlEnd.CALL_ENDED: "realtime_call_ended",
    ControlEnd.CAP_REACHED: "time_limit",
    ControlEnd.TOOL_ENDED_CALL: "normal_clearing",
    ControlEnd.HUNG_UP: "normal_clearing",
}


async def control_channel(
    client: openai.AsyncOpenAI,
    channel: ControlChannel,
    run_tool: ToolRunner,
    heard: WordsHeard,
    billed: UsageBilled,
    *,
    greet: bool,
) -> str:
    """Serves the call's control channel (`activities.realtime_control`) until the call ends; how it ended."""
    control = RealtimeControl(client, channel.call_id)

    async def tool(call: FunctionCall) -> ToolReply:
        reply = await run_tool(RealtimeFunctionCall(call_id=call.call_id, name=call.name, arguments=call.arguments))
        return ToolReply(output=reply.output, end_call=reply.end_call)

    async def transcript(line: TranscriptLine) -> None:
        speaker = Speaker.CALLER if line.role == "caller" else Speaker.AGENT
        await heard(RealtimeWords(item_id=line.item_id, speaker=speaker, text=line.text))

    hang_up_at = datetime.fromtimestamp(channel.hang_up_at, UTC) if channel.hang_up_at is not None else None
    outcome = await control.run(
        tool,
        hang_up_at=hang_up_at,
        goodbye=channel.goodbye,
        on_transcript=transcript,
        first_words=channel.greeting if greet else None,
        on_usage=billed,
    )
    return HANGUP_CAUSES[outcome.ended]

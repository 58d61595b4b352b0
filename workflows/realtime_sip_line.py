"""A phone call OpenAI's Realtime model answers over SIP: the channel `CallWorkflow` talks through.

The model hears and speaks itself, so saying, listening and stopping are the model's; what the
workflow does on the line is OpenAI's `calls` API (activities with the call's id): accept, hang up,
and transfer by SIP REFER. A refer OpenAI takes is the person's leg answering (the caller has left
the model for the number); a refused one is that number failing, and the escalation's ladder tries
the next, as it does for a Telnyx transfer nobody answers.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.caller_reply import ReplyResult
    from activities.realtime_calls import AcceptCall, RealtimeCalls, ReferCall, Referral
    from domain.vocabulary import Channel, Direction, TransferOutcome
    from workflows.call_messages import CallEvent, SipCall, TransferLeg
    from workflows.call_options import REALTIME_CALL_COMMAND, REALTIME_REFER

from workflows.call_channel import AGENT_HANGUP, ErrorRecorder
from workflows.call_progress import CallProgress

# How the call ends when OpenAI's side closes the control channel (the caller hung up, or the call was referred).
REALTIME_CALL_ENDED = "realtime_call_ended"


class RealtimeSipLine:
    kind = Channel.REALTIME_SIP
    can_transfer = True
    can_call_back = True

    def __init__(self, progress: CallProgress, sip: SipCall, record_error: ErrorRecorder) -> None:
        self._progress = progress
        self._sip = sip
        self._record_error = record_error

    def connect(self) -> None:
        # OpenAI's webhook was the call's call.initiated; the model picks up when the call is accepted.
        self._progress.initiated = CallEvent(
            event_id="realtime-call-incoming",
            event_type="call.initiated",
            call_control_id=self._progress.call_control_id,
            received_at=self._sip.received_at,
            caller_number=self._sip.caller_number,
            dialed_number=self._sip.dialed_number,
            direction=Direction.INCOMING,
        )
        self._progress.live.channel = Channel.REALTIME_SIP

    async def answer(self) -> bool:
        """Accepts the call with the business's session (instructions, voice, tools)."""
        progress = self._progress
        accept = AcceptCall(
            call_id=progress.call_control_id, business=progress.context.business, language=progress.live.language
        )
        try:
            await workflow.execute_activity_method(RealtimeCalls.accept_realtime_call, accept, **REALTIME_CALL_COMMAND)
        except ActivityError as error:
            await self._record_error("openai.accept", error)
            return False
        progress.answered = True
        return True

    async def reject(self) -> None:
        try:
            await workflow.execute_activity_method(
                RealtimeCalls.reject_realtime_call, self._progress.call_control_id, **REALTIME_CALL_COMMAND
            )
        except ActivityError as error:
            await self._record_error("openai.reject", error)

    async def listen(self) -> None:
        pass  # the model listens from the moment the call is accepted

    async def listen_in(self, language: str) -> None:
        pass  # the model follows the caller's language itself

    async def say(self, text: str, step: str) -> None:
        pass  # the model speaks; what the workflow has to tell reaches it as a tool's answer

    async def greet(self, text: str, step: str) -> None:
        pass  # the model greets the caller (workflows/realtime_sip_call.py)

    async def stop(self) -> None:
        pass  # the service's turn detection interrupts the model

    async def hang_up(self, step: str) -> None:
        try:
            await workflow.execute_activity_method(
                RealtimeCalls.hang_up_realtime_call, self._progress.call_control_id, **REALTIME_CALL_COMMAND
            )
        except ActivityError as error:
            await self._record_error("openai.hangup", error)
        self._progress.end(AGENT_HANGUP)

    async def record(self, step: str) -> None:
        pass  # the audio never reaches us: the call's record is its transcript

    async def transfer(self, to: str, leg: TransferLeg, ring_seconds: int, step: str) -> bool:
        """Refers the caller to `to`; the outcome is filed as a Telnyx leg's would be, so the ladder reads it."""
        progress = self._progress
        refer = ReferCall(call_id=progress.call_control_id, target_uri=f"tel:{to}")
        try:
            referral: Referral = await workflow.execute_activity_method(
                RealtimeCalls.refer_realtime_call, refer, **REALTIME_REFER
            )
        except ActivityError as error:
            await self._record_error("openai.refer", error)
            referral = Referral(referred=False)
        key = f"{leg.escalation}/{leg.attempt}"
        if referral.referred:
            progress.bridged = True
            progress.leg_outcomes[key] = TransferOutcome.ANSWERED
        elif referral.call_gone:
            progress.end(REALTIME_CALL_ENDED)
            return False
        else:
            workflow.logger.warning("refer to an on-call number refused: %s", referral.error)
            progress.leg_outcomes[key] = TransferOutcome.FAILED
        return True

    async def bridge(self, other_call_control_id: str, step: str) -> bool:
        raise NotImplementedError("a Realtime call is put through by refer, never bridged")

    def replied(self, reply: ReplyResult) -> None:
        pass  # the workflow's brain never replies on this line

    def caller_left(self) -> None:
        pass

    def begin_turn(self) -> None:
        pass

    def end_turn(self) -> None:
        pass

    def end_conversation(self) -> None:
        pass

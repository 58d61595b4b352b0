"""A Realtime-mode line's call that reached our Call Control application: handed to OpenAI's Realtime model.

The business chose Realtime voice (`PhoneMode.REALTIME_SIP`), but its number is on our Telnyx Call
Control application, so the call came here. Unanswered (Telnyx transfers a ringing call and bridges
it when the far end answers: the caller hears ringing, never our voice), it is transferred to the
project's SIP URI with the number dialled in a SIP header (`TelnyxCommands.transfer_to_realtime`).
OpenAI then posts `realtime.call.incoming`, and that call's own `CallWorkflow` answers and records
the conversation (workflows/realtime_sip_call.py); this one only notes where the call went.

The new leg is tagged as a transfer leg (escalation 0, which no escalation numbers), so its webhooks
reach this call and say whether OpenAI took it. A worker without OPENAI_PROJECT_ID, a transfer
Telnyx refuses, or a leg that fails leaves the caller ringing on our line: the call is then answered
with Telnyx speech, as before the mode existed, and why is on the call's error record.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.telnyx_commands import CommandResult, RealtimeHandover, TelnyxCommands
    from domain.vocabulary import Channel, Direction, PhoneMode, TransferOutcome
    from workflows.call_messages import TransferLeg, client_state_tag
    from workflows.call_options import REALTIME_HANDOVER_RING_SECONDS, TELNYX_COMMAND, WAIT_FOR_REALTIME_HANDOVER
    from workflows.waiting import wait_until

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_progress import CallProgress

# Calls recorded before it were answered with Telnyx speech whatever their line's mode.
REALTIME_HANDOVER_PATCH = "realtime-lines-transferred-to-openai"
# The handover leg's escalation number: escalations are numbered from 1.
HANDOVER_ESCALATION = 0


def answered_by_realtime(progress: CallProgress, channel: Channel) -> bool:
    """An incoming phone call to a line in Realtime mode (as the call's configuration says, read or remembered)."""
    initiated = progress.initiated
    return (
        channel == Channel.PHONE
        and initiated is not None
        and initiated.direction == Direction.INCOMING
        and progress.context.phone_mode == PhoneMode.REALTIME_SIP
        and patched(REALTIME_HANDOVER_PATCH)
    )


async def hand_to_realtime(progress: CallProgress, books: Bookkeeping) -> bool:
    """True once OpenAI's SIP endpoint has taken the call; False when the caller is still ours to answer."""
    initiated = progress.initiated
    assert initiated is not None
    leg = TransferLeg(parent_call_control_id=progress.call_control_id, escalation=HANDOVER_ESCALATION, attempt=0)
    handover = RealtimeHandover(
        call_control_id=progress.call_control_id,
        command_id=f"{workflow.info().workflow_id}/realtime-handover",
        dialed_number=initiated.dialed_number or "",
        caller_number=initiated.caller_number,
        ring_timeout_seconds=REALTIME_HANDOVER_RING_SECONDS,
        target_leg_tag=client_state_tag(leg),
    )
    try:
        sent: CommandResult = await workflow.execute_activity_method(
            TelnyxCommands.transfer_to_realtime, handover, **TELNYX_COMMAND
        )
    except ActivityError as error:
        workflow.logger.warning("Realtime line answered with Telnyx speech: the transfer to OpenAI failed: %s", error)
        await books.record_error("telnyx.realtime-handover", error)
        return False
    if sent.call_ended:
        progress.note_call_ended()
        return False
    key = f"{leg.escalation}/{leg.attempt}"
    await wait_until(lambda: key in progress.leg_outcomes or progress.over, WAIT_FOR_REALTIME_HANDOVER)
    outcome = progress.leg_outcomes.get(key)
    if outcome == TransferOutcome.ANSWERED:
        return True
    if not progress.over:
        workflow.logger.warning(
            "Realtime line answered with Telnyx speech: OpenAI's SIP endpoint did not take the call (%s)",
            outcome or "no answer in time",
        )
    return False

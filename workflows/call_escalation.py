"""Escalation to a person and the call-backs a call promises, as steps of a `CallWorkflow`.

A mixin of `CallWorkflow` (workflows/call.py): transfers to the on-call numbers in order, the
message and urgent call-back when nobody answers, and the outbound call that keeps a promise.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.follow_ups import (
        CallbackRequest,
        EscalationOpening,
        FollowUps,
        TransferAttempt,
    )
    from activities.telnyx_commands import TelnyxCommands, TextMessage, TransferCommand
    from workflows.call_messages import (
        CallbackOutcome,
        CallSummary,
        TransferLeg,
        encode_client_state,
    )
    from workflows.call_options import (
        RECORD_KEEPING,
        TRANSFER_ANSWER_MARGIN,
        WAIT_FOR_MACHINE_DETECTION,
        WAIT_FOR_MESSAGE,
        WAIT_FOR_OUTBOUND_ANSWER,
    )
    from workflows.callback import CallbackPlan, CallbackWorkflow
    from workflows.waiting import wait_until


class EscalationAndCallbacks:
    async def _escalate(self, reason: str, *, emergency: bool) -> None:
        await self._climb_ladder("escalation")
        if self._channel == "web":
            # A browser has no phone line to transfer; say what a caller would get.
            numbers = " or ".join(self._context.business.on_call_numbers) or "our team"
            await self._say(f"On a phone call I would now put you through to {numbers}.", "web-escalation")
            self._state.outcome = "escalated"
            return
        numbers = self._context.business.on_call_numbers
        if not numbers:
            await self._promise_callback(reason, urgent=True, nobody_answered=False)
            return
        escalation = self._next("escalation")
        escalation_id = await workflow.execute_activity_method(
            FollowUps.open_escalation,
            EscalationOpening(
                idempotency_key=f"{workflow.info().workflow_id}/escalation-{escalation}",
                business_id=self._context.business_id,
                call_id=self._state.call_control_id,
                reason=reason,
            ),
            **RECORD_KEEPING,
        )
        await self._say("Please hold while I connect you.", f"escalation-{escalation}/hold")
        ring = self._context.transfer_ring_seconds
        for attempt, number in enumerate(numbers, start=1):
            if self._hangup is not None:
                break
            key = f"{escalation}/{attempt}"
            leg = TransferLeg(parent_call_control_id=self._state.call_control_id, escalation=escalation, attempt=attempt)
            transfer = TransferCommand(
                **self._call_command(f"escalation-{escalation}/transfer-{attempt}").model_dump(),
                to=number,
                ring_timeout_seconds=ring,
                target_leg_client_state=encode_client_state(leg),
            )
            sent = await self._command(TelnyxCommands.transfer_call, transfer)
            if not sent.call_ended:
                await wait_until(
                    lambda: key in self._leg_outcomes or self._bridged or self._hangup is not None,
                    timedelta(seconds=ring) + TRANSFER_ANSWER_MARGIN,
                )
            outcome = "answered" if self._bridged else self._leg_outcomes.get(key) or ("caller_hung_up" if self._hangup else "no_answer")
            await workflow.execute_activity_method(
                FollowUps.record_transfer_attempt,
                TransferAttempt(escalation_id=escalation_id, attempt=attempt, number=number, outcome=outcome, at=workflow.now()),
                **RECORD_KEEPING,
            )
            if outcome == "answered":
                await workflow.execute_activity_method(FollowUps.close_escalation, args=[escalation_id, "connected"], **RECORD_KEEPING)
                self._transferred = True
                self._state.outcome = "escalated"
                await self._set_status("transferred")
                return
        await workflow.execute_activity_method(
            FollowUps.close_escalation, args=[escalation_id, "nobody_answered" if self._hangup is None else "caller_hung_up"], **RECORD_KEEPING
        )
        if self._hangup is None:
            await self._promise_callback(reason, urgent=True, nobody_answered=True)

    async def _promise_callback(self, reason: str, *, urgent: bool, nobody_answered: bool) -> None:
        """The last rung: take a message, promise a call-back that a durable workflow keeps, say goodbye."""
        await self._climb_ladder("callback_promise")
        if self._channel == "web":
            await self._say("On a phone call I would now take a message and promise a call-back.", "web-promise")
            return
        sorry = "I'm sorry, nobody could take your call right now." if nobody_answered else "I'm sorry, I can't put you through right now."
        await self._say(f"{sorry} Please tell me briefly what it's about, and we'll call you back.", f"promise-{self._next('promise')}/ask")
        await wait_until(lambda: bool(self._caller_words) or self._hangup is not None, WAIT_FOR_MESSAGE)
        words, self._caller_words = self._caller_words, []
        message = " ".join((w.transcript or "").strip() for w in words) or None
        when = await self._schedule_callback(reason, message, urgent=urgent)
        self._state.outcome = "message"
        if self._hangup is None:
            await self._say(f"Thank you. We'll call you back {when}. Goodbye!", f"promise-{self._counters['promise']}/goodbye")
            self._ending = True

    async def _schedule_callback(self, reason: str, message: str | None, *, urgent: bool, caller_name: str | None = None) -> str:
        number = self._next("callback")
        callback_workflow_id = f"callback-{self._state.call_control_id}-{number}"
        scheduled = await workflow.execute_activity_method(
            FollowUps.schedule_callback,
            CallbackRequest(
                idempotency_key=f"{workflow.info().workflow_id}/callback-{number}",
                business_id=self._context.business_id,
                business=self._context.business,
                call_id=self._state.call_control_id,
                caller_number=self._other_party() or "",
                caller_name=caller_name,
                reason=reason,
                message=message,
                urgent=urgent,
                now=workflow.now(),
                workflow_id=callback_workflow_id,
            ),
            **RECORD_KEEPING,
        )
        await workflow.start_child_workflow(
            CallbackWorkflow.run,
            CallbackPlan(
                callback_id=scheduled.callback_id,
                caller_number=self._other_party() or "",
                from_number=scheduled.from_number,
                due_at=scheduled.due_at,
                max_attempts=scheduled.max_attempts,
                retry_spacing_seconds=scheduled.retry_spacing_seconds,
                ring_seconds=scheduled.ring_seconds,
            ),
            id=callback_workflow_id,
            # The promise outlives this call.
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        business = self._context.business
        if urgent and business.owner_number and business.sms_from_number:
            await self._send_text(
                TextMessage(
                    idempotency_key=f"{callback_workflow_id}/owner-sms",
                    from_number=business.sms_from_number,
                    to=business.owner_number,
                    text=f"Urgent call-back for {self._other_party()}: {reason}. {message or ''}".strip(),
                )
            )
        return scheduled.spoken_when

    async def _keep_callback_promise(self) -> CallSummary:
        """An outbound call dialled by a `CallbackWorkflow`: talk if a person answers, leave a message if a machine does."""
        callback = self._context.callback
        self._state.status = "dialing"
        answered = await wait_until(lambda: self._answered or self._hangup is not None, WAIT_FOR_OUTBOUND_ANSWER)
        if not answered or not self._answered:
            return await self._report_callback("no_answer", self._finish("missed", outcome="no_answer"))
        await wait_until(lambda: self._machine_detection is not None or self._hangup is not None, WAIT_FOR_MACHINE_DETECTION)
        name = self._context.business.name
        if self._machine_detection == "machine":
            number = self._context.business.phone_number or "our usual number"
            await self._set_status("voicemail")
            await self._say(f"Hello, this is {name} returning your call. Please call us back at {number}. Thank you!", "voicemail")
            if self._hangup is None:
                await self._hang_up("voicemail-done")
            self._state.outcome = "voicemail"
            return await self._report_callback("voicemail", self._finish("ended", outcome="voicemail"))
        about = f" about {callback.reason.rstrip(' .!?')}" if callback and callback.reason else ""
        await self._begin_conversation(f"Hello, this is {name} returning your call{about}. How can I help?")
        await self._converse()
        return await self._report_callback("answered", self._finish("ended", outcome=self._state.outcome or "completed"))

    async def _report_callback(self, outcome: str, finishing) -> CallSummary:  # noqa: ANN001
        summary = await finishing
        callback = self._context.callback
        if callback and callback.callback_workflow_id:
            try:
                await workflow.get_external_workflow_handle(callback.callback_workflow_id).signal(
                    CallbackWorkflow.call_outcome,
                    CallbackOutcome(outcome=outcome, call_control_id=self._state.call_control_id),
                )
            except Exception:  # noqa: BLE001  (the call-back workflow gave up waiting; the record stands)
                workflow.logger.warning("could not report %s to %s", outcome, callback.callback_workflow_id)
        return summary

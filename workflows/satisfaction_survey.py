"""`SatisfactionSurveyWorkflow`: after a finished call, a text asks the caller to rate it from 1 to 5.

The call starts it as it ends (`ask_for_rating`), as a child that outlives it, one per call
(`survey/<call_control_id>`): a replayed call finds it started, and the text's idempotency key is
the call's, so it goes out once. It waits the business's delay (a durable timer), then asks the
database whether the caller may be asked (no STOP, not asked recently) and sends the text. The
caller's reply comes back as a message.received webhook, which the API records itself.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.satisfaction_surveys import SatisfactionSurveys, SurveyFate, SurveyPlan
    from activities.telnyx_commands import TelnyxCommands, TextMessage
    from domain.vocabulary import BusinessKnowledge, CallStatus, Direction, SurveyDecision, SurveyStatus
    from receptionist.survey_texts import survey_question
    from workflows.call_options import RECORD_KEEPING, TELNYX_COMMAND

from workflows.call_language import language_of
from workflows.call_progress import CallProgress

# Calls recorded before the survey existed end without starting one.
SATISFACTION_SURVEY = "satisfaction-survey"


def survey_workflow_id(call_control_id: str) -> str:
    return f"survey/{call_control_id}"


async def ask_for_rating(progress: CallProgress, status: CallStatus) -> None:
    """Starts the call's survey if its business asks for ratings and there is a caller to text."""
    initiated = progress.initiated
    if status != CallStatus.ENDED or initiated is None or initiated.direction != Direction.INCOMING:
        return
    context = progress.opening
    if context is None or context.knowledge == BusinessKnowledge.UNKNOWN or not progress.live.caller_turns:
        return
    business = context.business
    caller, sender = initiated.caller_number, business.sms_from_number or business.phone_number
    if not (business.satisfaction_survey and caller and sender) or not patched(SATISFACTION_SURVEY):
        return
    plan = SurveyPlan(
        call_id=progress.call_control_id,
        business_id=context.business_id,
        business_name=business.name,
        caller_number=caller,
        from_number=sender,
        delay_minutes=business.satisfaction_survey_delay_minutes,
        language=language_of(progress),
    )
    try:
        await workflow.start_child_workflow(
            SatisfactionSurveyWorkflow.run,
            plan,
            id=survey_workflow_id(progress.call_control_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
    except WorkflowAlreadyStartedError as error:  # cannot be (one per call), but the call must end anyway
        workflow.logger.warning("satisfaction survey not started: %s", error)


@workflow.defn
class SatisfactionSurveyWorkflow:
    @workflow.run
    async def run(self, plan: SurveyPlan) -> SurveyDecision | SurveyStatus:
        if plan.delay_minutes:
            await workflow.sleep(timedelta(minutes=plan.delay_minutes))
        decision: SurveyDecision = await workflow.execute_activity_method(
            SatisfactionSurveys.decide_survey, args=[plan, workflow.now()], **RECORD_KEEPING
        )
        if decision != SurveyDecision.ASK:
            return decision
        message = TextMessage(
            idempotency_key=survey_workflow_id(plan.call_id),
            from_number=plan.from_number,
            to=plan.caller_number,
            text=survey_question(plan.business_name, plan.language),
        )
        try:
            await workflow.execute_activity_method(TelnyxCommands.send_text_message, message, **TELNYX_COMMAND)
            status = SurveyStatus.SENT
        except ActivityError as error:
            workflow.logger.warning("satisfaction survey text refused: %s", error)
            status = SurveyStatus.NOT_SENT
        await workflow.execute_activity_method(
            SatisfactionSurveys.mark_survey, SurveyFate(call_id=plan.call_id, status=status), **RECORD_KEEPING
        )
        return status

"""`RecordingSavedWorkflow`: stores a call's recording once Telnyx has saved it.

call.recording.saved comes after the call's hang-up, when the call's own workflow has usually
finished (and a finished call is never started again), so the API starts this small workflow for
it instead, one per recording id: a redelivered webhook finds it started, and the database write
is an activity retried until it lands.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.call_recordings import CallRecordings, SavedRecording
    from workflows.call_options import RECORD_KEEPING


def recording_saved_workflow_id(recording_id: str) -> str:
    return f"recording-saved/{recording_id}"


@workflow.defn
class RecordingSavedWorkflow:
    @workflow.run
    async def run(self, saved: SavedRecording) -> bool:
        kept: bool = await workflow.execute_activity_method(CallRecordings.keep_recording, saved, **RECORD_KEEPING)
        return kept

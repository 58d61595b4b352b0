"""Every workflow the worker runs, in one list: the worker registers it and the replay tests replay with it,
so a workflow added to one cannot be missing from the other."""

from __future__ import annotations

from workflows.calendar_sync import CalendarSyncWorkflow
from workflows.call import CallWorkflow
from workflows.callback import CallbackWorkflow
from workflows.last_rung_promise import LastRungPromiseWorkflow
from workflows.recording_saved import RecordingSavedWorkflow
from workflows.satisfaction_survey import SatisfactionSurveyWorkflow

WORKER_WORKFLOWS: list[type] = [
    CallWorkflow,
    CallbackWorkflow,
    LastRungPromiseWorkflow,
    RecordingSavedWorkflow,
    SatisfactionSurveyWorkflow,
    CalendarSyncWorkflow,
]

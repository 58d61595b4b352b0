"""Hands each verified Telnyx event to its call's one workflow, with signal-with-start.

Signal-with-start rather than update-with-start: the server persists the signal (starting the
workflow if the call is new) and answers without waiting for a worker, so the webhook is
acknowledged in milliseconds even when every worker is busy or being redeployed, and the
event is never lost. An update would make Telnyx wait for a worker to run the workflow code.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import StrEnum

import structlog
from pydantic import SecretStr
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.call_recordings import SavedRecording
from api.held_events import HeldEvents, held_for_company
from api.line_playback import LinePlayback
from api.reply_windows import ReplyWindows
from api.temporal_client import TemporalConnection
from domain.vocabulary import WebhookDelivery
from runtime import metrics
from runtime.client_state import ClientStateRefusal, ClientStateRefused, verify_client_state
from workflows.call_messages import (
    CALL_WORKFLOW,
    CALLER_EVENTS,
    TELNYX_EVENT_SIGNAL,
    TELNYX_EVENTS_SIGNAL,
    CallbackDial,
    CallEvent,
    CallStart,
    TransferLeg,
    call_workflow_id,
    read_client_state_tag,
)
from workflows.call_options import CALL_WORKFLOW_TASK_TIMEOUT
from workflows.recording_saved import RecordingSavedWorkflow, recording_saved_workflow_id

log = structlog.get_logger(__name__)


class RecentEventIds:
    """Event ids this API process has already handed over; the workflow deduplicates for every replica."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


class Admission(StrEnum):
    FORWARD = "forward"  # signalled now
    REPEAT = "repeat"  # the same words again: dropped
    HOLD = "hold"  # a later interim of the utterance: held a moment (api/held_events.py)


class InterimTranscripts:
    """Which interim transcripts can change something.

    The first interim of an utterance is the first sign that the caller is talking (barge-in), and is
    forwarded at once while our speech plays (api/line_playback.py; in a quiet line it is held like the
    rest), like every final one; the ones after it are what a speculative reply starts on
    once they stop changing (business/listening.py), and only the newest of a burst matters: they are
    held (api/held_events.py). A repeat of the same words would only cost the call a signal and a
    workflow task. Per API process: with several replicas, each forwards its own, which the workflow
    handles the same way (it speculates on the newest words it heard).
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._heard: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def admit(self, event: CallEvent) -> Admission:
        if event.event_type != "call.transcription":
            return Admission.FORWARD
        if event.is_final:
            self._heard.pop(event.call_control_id, None)
            return Admission.FORWARD
        words = (event.transcript or "").strip()
        before = self._heard.get(event.call_control_id)
        if before == words:
            return Admission.REPEAT
        self._heard[event.call_control_id] = words
        self._heard.move_to_end(event.call_control_id)
        if len(self._heard) > self._capacity:
            self._heard.popitem(last=False)
        return Admission.FORWARD if before is None else Admission.HOLD


def _interim(event: CallEvent) -> bool:
    return event.event_type == "call.transcription" and not event.is_final and event.leg is None


def with_verified_tag(event: CallEvent, secret_key: SecretStr | None) -> CallEvent:
    """The event with the tag its client_state carries, which must be one we signed (`runtime.client_state`).

    A tag decides which call an event reaches (a transfer leg's, the caller's) and which call-back a
    dialled call keeps: an event whose client_state we did not sign reaches no call at all.
    """
    if not event.client_state:
        return event
    tag = read_client_state_tag(verify_client_state(secret_key, event.client_state))
    if isinstance(tag, TransferLeg):
        return event.model_copy(update={"leg": tag})
    if isinstance(tag, CallbackDial):
        return event.model_copy(update={"callback": tag})
    raise ClientStateRefused(ClientStateRefusal.UNKNOWN_TAG)


class CallRouter:
    def __init__(
        self,
        temporal: TemporalConnection,
        task_queue: str,
        secret_key: SecretStr | None = None,
        *,
        history_event_limit: int | None = None,
        hold_playback: bool = False,
        reply_windows: ReplyWindows | None = None,
    ) -> None:
        self._temporal = temporal
        self._reply_windows = reply_windows or ReplyWindows()
        self._hold_playback = hold_playback
        self._task_queue = task_queue
        self._secret_key = secret_key
        self._history_event_limit = history_event_limit
        self._recent = RecentEventIds()
        self._interims = InterimTranscripts()
        self._playback = LinePlayback()
        self._held = HeldEvents(self._signal)

    async def close(self) -> None:
        """At the API's shutdown: the events it holds reach their calls."""
        await self._held.flush()

    async def keep_recording(self, saved: SavedRecording) -> WebhookDelivery:
        """A call.recording.saved: to a workflow of its own, since the call's has usually finished."""
        if saved.event_id in self._recent:
            return WebhookDelivery.DUPLICATE
        client = await self._temporal.client()
        try:
            await client.start_workflow(
                RecordingSavedWorkflow.run,
                saved,
                id=recording_saved_workflow_id(saved.recording_id),
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            result = WebhookDelivery.DUPLICATE
        else:
            result = WebhookDelivery.RECORDING_KEPT
        self._recent.add(saved.event_id)
        return result

    async def deliver(self, event: CallEvent) -> WebhookDelivery:
        if event.event_id in self._recent:
            return WebhookDelivery.DUPLICATE
        try:
            event = with_verified_tag(event, self._secret_key)
        except ClientStateRefused as refused:
            # Acknowledged (Telnyx must not redeliver it), counted and logged, and routed nowhere.
            metrics.client_state_refused(refused.reason)
            log.warning(
                "webhook refused: client_state not signed by us",
                reason=refused.reason,
                event_id=event.event_id,
                event_type=event.event_type,
            )
            return WebhookDelivery.REFUSED
        admission = self._interims.admit(event)
        if admission == Admission.REPEAT:
            return WebhookDelivery.IGNORED
        if self._reply_windows.absorb(event):
            # A sentence of a reply that follows its own playback (api/reply_windows.py): the reply hears it.
            self._playback.hear(event)
            self._recent.add(event.event_id)
            return WebhookDelivery.FOLLOWED
        if admission == Admission.FORWARD and _interim(event) and self._playback.quiet(event.call_control_id):
            # Not a barge-in: nothing of ours plays (api/line_playback.py). Held like the words after it.
            admission = Admission.HOLD
        earlier = await self._held.before(event)
        try:
            if admission == Admission.HOLD or (self._hold_playback and held_for_company(event)):
                if earlier:
                    await self._signal(earlier)
                self._held.hold(event)
                self._playback.hear(event)
                return WebhookDelivery.COALESCED
            result = await self._signal([*earlier, event])
        except BaseException:
            for held in earlier:  # still this API's to deliver: with the event again (redelivered), or alone
                self._held.hold(held)
            raise
        self._playback.hear(event)  # once delivered: a redelivery after a failure is not counted twice
        self._recent.add(event.event_id)
        return result

    def _with_reply_playback(self, event: CallEvent) -> CallEvent:
        if event.leg is not None or event.event_type not in CALLER_EVENTS:
            return event
        brought = self._reply_windows.brought(event.call_control_id)
        return event if brought is None else event.model_copy(update={"reply_playback": brought})

    async def _signal(self, events: list[CallEvent]) -> WebhookDelivery:
        """One signal for events of one call, in Telnyx's order (one event: the signal of every API before batches)."""
        # The caller's words, keys and hang-up bring what the API counted of a reply's playback (api/reply_windows.py).
        events = [self._with_reply_playback(e) for e in events]
        event = events[-1]
        # A transfer leg's events belong to the call being transferred.
        owner = event.leg.parent_call_control_id if event.leg else event.call_control_id
        client = await self._temporal.client()
        try:
            await client.start_workflow(
                CALL_WORKFLOW,
                CallStart(call_control_id=owner, history_event_limit=self._history_event_limit),
                id=call_workflow_id(owner),
                task_queue=self._task_queue,
                # A finished call is never started again by a late event: the server refuses instead.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                task_timeout=CALL_WORKFLOW_TASK_TIMEOUT,
                start_signal=TELNYX_EVENT_SIGNAL if len(events) == 1 else TELNYX_EVENTS_SIGNAL,
                start_signal_args=[event] if len(events) == 1 else [events],
            )
        except WorkflowAlreadyStartedError:
            return WebhookDelivery.CALL_ENDED
        return WebhookDelivery.DELIVERED

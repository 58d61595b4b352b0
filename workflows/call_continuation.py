"""A long call continues as new: its history stays bounded, and the next run takes up where it left off.

Temporal keeps every event of a run; a call that talks for an hour would pile up thousands and slow
every replay. So between two caller turns, once the history is past the call's limit (or the server
suggests it), the run hands its `CallProgress` to a new run of the same workflow id as a
`CarriedCall`: transcript, turn count, what was said and sent (the counters in command ids),
the webhooks already filed, the words heard and not yet answered. Nothing is answered twice, since
the next run dedupes by the same event ids and numbers its commands from the same counters; nothing
is lost, since the server hands the signals that arrive during the switch to the next run, and
signal-with-start reaches whichever run is current under the call's workflow id.

Only phone calls continue as new: a web conversation waits on the browser's updates, which a
switch would cut, and it is capped by turns and minutes anyway (WEB_CONVERSATION_MAX_TURNS).
"""

from __future__ import annotations

from dataclasses import fields

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.follow_ups import ScheduledCallback
    from domain.vocabulary import CallStatus
    from workflows.call_messages import CallStart, CallState, CarriedCall

from workflows.call_progress import CallProgress

# Calls that began before long calls continued as new never do: their histories replay as they ran.
CONTINUES_AS_NEW = "long-calls-continue-as-new"

# Fields of `CallProgress` that belong to one run and are settled at a turn's end, when a call
# continues as new: its record writes are awaited first, no reply runs and no escalation waits.
# Kept records (`unwritten`) are this run's closures: a call continues as new only once they are written.
# Replies still playing are counted as heard before it continues (`CallerTurns.settle_playback`).
RUN_LOCAL = frozenset(
    {
        "pending_records",
        "reply_running",
        "requested_escalation",
        "call_control_id",
        "unwritten",
        "playing_replies",
        "followed_speech",
    }
)


def history_is_long(limit: int | None) -> bool:
    info = workflow.info()
    return info.is_continue_as_new_suggested() or (limit is not None and info.get_current_history_length() >= limit)


def carry(progress: CallProgress, refusals: dict[str, ScheduledCallback]) -> CarriedCall:
    if progress.opening is None or progress.initiated is None:
        raise RuntimeError("only a call under way continues as new")
    return CarriedCall(
        seen_event_ids=sorted(progress.seen_event_ids),
        callback_refusals=refusals,
        **{name: getattr(progress, name) for name in carried_progress_fields()},
    )


def progress_of(start: CallStart) -> CallProgress:
    """The call's progress at the start of a run: fresh, or as the run before left it."""
    carried = start.carried
    if carried is None:
        return CallProgress(
            call_control_id=start.call_control_id,
            live=CallState(call_control_id=start.call_control_id, status=CallStatus.RINGING, channel=start.channel),
            web_business_id=start.web_business_id,
        )
    return CallProgress(
        call_control_id=start.call_control_id,
        seen_event_ids=set(carried.seen_event_ids),
        **{name: getattr(carried, name) for name in carried_progress_fields()},
    )


def carried_progress_fields() -> list[str]:
    """The fields of `CallProgress` a `CarriedCall` holds: all but the run-local ones."""
    return [f.name for f in fields(CallProgress) if f.name not in RUN_LOCAL | {"seen_event_ids"}]

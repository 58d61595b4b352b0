"""Every timeout, retry policy and search attribute of a call, in one place."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy


class ActivityOptions(TypedDict):
    """How long one kind of activity may take, and how it is retried: `**OPTIONS` at the call."""

    start_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


# A worker that dies mid-activity is noticed when the activity misses this: the worker heartbeats
# every activity while it runs (runtime.heartbeats), so the attempt moves to another worker within
# about a second, while start-to-close still gives a slow Telnyx or database its seconds.
LIVENESS_HEARTBEAT = timedelta(seconds=1)
# A workflow task is milliseconds of work; one held by a worker that died is given to another after
# this (Temporal's default is 10 s of a caller's silence). The SDK itself calls a workflow
# task that holds its thread 2 s a deadlock.
CALL_WORKFLOW_TASK_TIMEOUT = timedelta(seconds=2)


WAIT_FOR_CALL_INITIATED = timedelta(seconds=60)
WAIT_FOR_ANSWERED = timedelta(seconds=20)
WAIT_FOR_OUTBOUND_ANSWER = timedelta(seconds=90)
WAIT_FOR_MACHINE_DETECTION = timedelta(seconds=6)
WAIT_FOR_MESSAGE = timedelta(seconds=30)
WAIT_FOR_HANGUP = timedelta(seconds=15)
WAIT_FOR_SPEECH_TO_FINISH = timedelta(seconds=30)
TRANSFER_ANSWER_MARGIN = timedelta(seconds=15)
# A Realtime-mode line's call transferred to OpenAI's SIP endpoint: rung this long (OpenAI answers once our
# webhook accepts it, in a second or two), and waited for a little longer, in case Telnyx's word is late.
REALTIME_HANDOVER_RING_SECONDS = 20
WAIT_FOR_REALTIME_HANDOVER = timedelta(seconds=REALTIME_HANDOVER_RING_SECONDS + 10)
# A warm transfer: how long the briefed person has to press 1 once the briefing ended, how long
# the bridge may take to be confirmed, and how often the waiting caller hears they are still held.
WAIT_FOR_KEY_PRESS = timedelta(seconds=8)
WAIT_FOR_BRIDGE = timedelta(seconds=10)
HOLD_MESSAGE_SPACING = timedelta(seconds=6)
TRANSFERRED_CALL_LIMIT = timedelta(hours=4)
CALLER_SILENCE_LIMIT = timedelta(minutes=5)

# A reply may call tools (look up, book, ...) and speak again: at most this many rounds per turn
# (and at most receptionist.tool_dispatch.MAX_TOOL_CALLS_PER_ROUND tool calls per round).
MAX_TOOL_ROUNDS = 3
# The LLM failing this many turns in a row climbs the ladder to a person (calls before UNMET_NEEDS_PATCH).
LLM_FAILED_TURNS_BEFORE_ESCALATION = 2
# This many turns in a row that no brain answered or the offline responder did not understand
# climb the ladder to a person.
UNMET_TURNS_BEFORE_ESCALATION = 2

TELNYX_COMMAND = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=5),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=2),
        maximum_attempts=6,
        non_retryable_error_types=["TelnyxRejected"],
    ),
)


class LocalActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


# A call's Telnyx commands since TELNYX_COMMANDS_LOCAL_PATCH (workflows/call_channel.py): run by the
# worker whose workflow task decided them, as local activities, with the same timeout and retries.
TELNYX_LOCAL_COMMAND = LocalActivityOptions(
    start_to_close_timeout=TELNYX_COMMAND["start_to_close_timeout"],
    retry_policy=TELNYX_COMMAND["retry_policy"],
)
# Writes a workflow waits for (a call begun before RECORDS_IN_BACKGROUND, a call-back's workflow, the
# last rung's hand-over): tried until the database answers, for about as long as a call's kept
# records (three days of attempts 10 s apart). Bounded by attempts: with a schedule_to_close_timeout
# instead, a call on the time-skipping test server never finished (tests/test_callbacks.py).
RECORD_KEEPING = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=15),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=3 * 24 * 60 * 6,
    ),
)
TOOL_ACTIVITY = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=10),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5),
)
# The brief's "GPT-4 with retry (3 attempts)"; the turn deadline bounds all three together.
LLM_REPLY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=2,
    maximum_attempts=3,
    non_retryable_error_types=["TelnyxRejected"],
)
OFFLINE_REPLY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_attempts=5, non_retryable_error_types=["TelnyxRejected"]
)
# A heartbeat every chunk and sentence, and the keep-alive's between them: a dead worker is noticed
# within a second, a barge-in within a heartbeat.
REPLY_HEARTBEAT = LIVENESS_HEARTBEAT
REPLY_ATTEMPT_LIMIT = timedelta(seconds=30)
# A speculative reply only generates: an attempt on a worker that died is noticed within a heartbeat
# and retried once elsewhere; past its bound the turn asks the LLM itself.
SPECULATIVE_REPLY = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=10),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2),
)

# The end of a reply's speech, followed by `hear_reply` when the call stops waiting for the caller (a
# goodbye, a person called; after every reply in calls recorded before the caller's words brought it): its
# words are said, so a worker that dies here costs only the call's knowing late that the speech ended (a
# caller who talks meanwhile barges in, which cancels it without waiting); a long heartbeat timeout spares
# a heartbeat a second.
HEAR_REPLY = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=60),
    heartbeat_timeout=timedelta(seconds=10),
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=2),
)

# The records database is off a call's critical path (workflows/call_records.py): a write is tried
# a few times, then kept in the workflow and tried again after a durable timer, spaced out from
# the first to the most, until it is written or, past the bound, given up and logged.
RECORD_WRITE = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=10),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=2), maximum_attempts=3
    ),
)
UNWRITTEN_RETRY_FIRST = timedelta(seconds=2)
UNWRITTEN_RETRY_MOST = timedelta(minutes=5)
UNWRITTEN_GIVE_UP_AFTER = timedelta(days=3)
# What the call knows of its business: the worker's memory when the database is slow (never unbounded).
CALL_CONTEXT = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=10),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3),
)
# A database step the caller waits for (call-backs owed before the answer, a promise in a turn):
# a few seconds, then the call goes on without it, or keeps it with its records.
WHILE_THE_CALLER_WAITS = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=5),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=2),
)

# OpenAI's `calls` API for a Realtime-SIP call (accept, reject, hang up): a few quick tries, then the
# call's error log. A refusal (4xx) is final.
REALTIME_CALL_COMMAND = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=10),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=2),
        maximum_attempts=4,
        non_retryable_error_types=["RealtimeRefused"],
    ),
)
# A SIP REFER is sent once: the escalation's ladder, not a retry, moves on when it fails.
REALTIME_REFER = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=10),
    heartbeat_timeout=LIVENESS_HEARTBEAT,
    retry_policy=RetryPolicy(maximum_attempts=1),
)
# The control channel of a Realtime-SIP call stays open as long as the call; a worker that dies is
# noticed within the heartbeat and another joins the channel again. Its tools run in the workflow.
REALTIME_CONTROL_CHANNEL = ActivityOptions(
    start_to_close_timeout=timedelta(hours=4),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=20),
)
# The Realtime model's length cap on a phone call: it says goodbye and hangs up then.
REALTIME_CALL_LIMIT = timedelta(minutes=30)

"""Every timeout, retry policy and search attribute of a call, in one place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy, SearchAttributeKey

BUSINESS_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetBusiness")
CALLER_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetCaller")
STATUS_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetCallStatus")
FALLBACK_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetFallbackLevel")
SEARCH_ATTRIBUTES = (BUSINESS_SEARCH_ATTRIBUTE, CALLER_SEARCH_ATTRIBUTE, STATUS_SEARCH_ATTRIBUTE, FALLBACK_SEARCH_ATTRIBUTE)

WAIT_FOR_CALL_INITIATED = timedelta(seconds=60)
WAIT_FOR_ANSWERED = timedelta(seconds=20)
WAIT_FOR_OUTBOUND_ANSWER = timedelta(seconds=90)
WAIT_FOR_MACHINE_DETECTION = timedelta(seconds=6)
WAIT_FOR_MESSAGE = timedelta(seconds=30)
WAIT_FOR_HANGUP = timedelta(seconds=15)
WAIT_FOR_SPEECH_TO_FINISH = timedelta(seconds=30)
TRANSFER_ANSWER_MARGIN = timedelta(seconds=15)
TRANSFERRED_CALL_LIMIT = timedelta(hours=4)
CALLER_SILENCE_LIMIT = timedelta(minutes=5)

# A reply may call tools (look up, book, ...) and speak again: at most this many rounds per turn,
# and at most this many tool calls per round ("book 50 slots" is refused, not obeyed).
MAX_TOOL_ROUNDS = 3
MAX_TOOL_CALLS_PER_ROUND = 3
# The LLM failing this many turns in a row climbs the ladder to a person.
LLM_FAILED_TURNS_BEFORE_ESCALATION = 2

TELNYX_COMMAND = dict(
    start_to_close_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=2),
        maximum_attempts=6,
        non_retryable_error_types=["TelnyxRejected"],
    ),
)
RECORD_KEEPING = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)),
)
TOOL_ACTIVITY = dict(
    start_to_close_timeout=timedelta(seconds=10),
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
# A heartbeat every chunk: a dead worker is noticed in seconds, a barge-in within a heartbeat.
REPLY_HEARTBEAT = timedelta(seconds=2)
REPLY_ATTEMPT_LIMIT = timedelta(seconds=30)

"""Every Prometheus metric of CloudGreet, in one place, with the one-line functions that record them.

The API exports these on `/metrics`; the worker on METRICS_PORT, together with the Temporal
SDK's own metrics. Label values come from small fixed sets, never from caller input, so a
flood of odd webhooks cannot blow up the number of series; the sets of a call's words are the
enums of `domain.vocabulary`, so a new status or outcome is counted as itself, not as `other`.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import REGISTRY, Collector
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from domain.telnyx_event_types import USED_EVENT_TYPES
from domain.vocabulary import Brain, CallbackRefusal, CallOutcome, EscalationStatus, FallbackLevel, WebhookDelivery
from runtime.client_state import ClientStateRefusal

# --- the API: webhooks -----------------------------------------------------------------------

WEBHOOKS_RECEIVED = Counter(
    "cloudgreet_webhooks_received_total",
    "Telnyx webhooks that passed verification and parsing, by event type ('other' for types the calls do not use)",
    ["event_type"],
)
WEBHOOKS_REJECTED = Counter(
    "cloudgreet_webhooks_rejected_total",
    "Telnyx webhooks refused, by reason",
    ["reason"],
)
WEBHOOK_DELIVERIES = Counter(
    "cloudgreet_webhook_deliveries_total",
    "Verified webhooks by what the API did with them (delivered, duplicate, call_ended, ignored)",
    ["result"],
)

# Why a webhook was refused, from the HTTP status the handler answers with.
REJECTION_REASONS = {
    400: "unreadable_body",
    401: "unsigned",
    403: "bad_signature",
    413: "too_large",
    422: "not_a_call_event",
    503: "cannot_verify",
}

# OpenAI's webhooks (POST /api/openai/webhooks: Realtime-SIP calls), by what the API did with each.
OPENAI_WEBHOOKS = Counter(
    "cloudgreet_openai_webhooks_total",
    "OpenAI webhooks: delivered (a call's workflow started), duplicate (its call already started: 409), ignored "
    "(an event type not used), bad_signature (forged or stale: 400), not_an_event (400), cannot_verify "
    "(OPENAI_WEBHOOK_SECRET not set: 503), temporal_unavailable (503)",
    ["result"],
)
OPENAI_WEBHOOK_RESULTS = (
    "delivered",
    "duplicate",
    "ignored",
    "bad_signature",
    "not_an_event",
    "too_large",
    "cannot_verify",
    "temporal_unavailable",
)

# --- the API: the last rung, calls it answers itself while Temporal is unreachable ------------

LAST_RUNG = Counter(
    "cloudgreet_last_rung_total",
    "Steps of the last rung (README, Reliability): waiting (a call's grace period started), "
    "promise_recorded, answered, caller_gone (the call ended before the API answered), answer_failed, "
    "hung_up, handed_over, handover_failed (Temporal still unreachable; retried)",
    ["step"],
)
LAST_RUNG_STEPS = (
    "waiting",
    "promise_recorded",
    "answered",
    "caller_gone",
    "answer_failed",
    "hung_up",
    "handed_over",
    "handover_failed",
)

# --- the worker: turns, the LLM, fallbacks, what calls achieved --------------------------------

CALLER_TURNS = Counter("cloudgreet_caller_turns_total", "Caller turns answered, by brain", ["brain"])
TURN_LATENCY = Histogram(
    "cloudgreet_turn_latency_seconds",
    "From the caller's final words reaching the API to the first speak command of the reply",
    ["brain"],
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0),
)
LLM_FIRST_SENTENCE = Histogram(
    "cloudgreet_llm_first_sentence_seconds",
    "From sending the LLM request to its first complete sentence",
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
)
LLM_FAILURES = Counter(
    "cloudgreet_llm_failures_total",
    "LLM attempts that failed, by reason (too_slow, refused, server_error, unreachable)",
    ["reason"],
)
LLM_REQUESTS = Counter(
    "cloudgreet_llm_requests_total",
    "LLM requests sent, by kind: a reply's, or a speculative reply's on an interim transcript",
    ["kind"],
)
LLM_TOKENS = Counter(
    "cloudgreet_llm_tokens_total", "LLM tokens used, by kind of request and of token", ["kind", "tokens"]
)
SPECULATIVE_REPLIES = Counter(
    "cloudgreet_speculative_replies_total",
    "Speculative replies by how they ended: generated, wanted_tool (stopped, no tool run), cancelled",
    ["outcome"],
)
FALLBACK_LEVEL = Counter(
    "cloudgreet_calls_by_fallback_level_total",
    "Finished calls by the deepest fallback they reached (llm, offline, escalation, callback_promise)",
    ["level"],
)
CALL_OUTCOMES = Counter(
    "cloudgreet_calls_finished_total",
    "Finished calls by outcome (completed, booked, escalated, message, abandoned, voicemail, no_answer)",
    ["outcome"],
)
BOOKINGS = Counter("cloudgreet_bookings_total", "Appointments booked by the receptionist")
ESCALATIONS = Counter(
    "cloudgreet_escalations_total",
    "Escalations to a person, by result (transferring, connected, nobody_answered, caller_hung_up)",
    ["result"],
)
CALLBACKS = Counter("cloudgreet_callbacks_total", "Call-backs, by event (promised, made)", ["event"])
CALLBACKS_REFUSED = Counter(
    "cloudgreet_callbacks_refused_total",
    "Call-backs not promised or not dialled, by reason (the caps, no or an invalid number, a country not called)",
    ["reason"],
)
CLIENT_STATES_REFUSED = Counter(
    "cloudgreet_client_states_refused_total",
    "Webhooks acknowledged but routed to no call, their client_state not signed by us, by reason",
    ["reason"],
)

# The brains of a reply activity: the safety net and "none" answer without one and are not turns here.
REPLY_BRAINS = (Brain.LLM, Brain.OFFLINE)


def _known(value: str | None, allowed: Iterable[str], other: str = "other") -> str:
    return str(value) if value in set(allowed) else other


def webhook_received(event_type: str) -> None:
    WEBHOOKS_RECEIVED.labels(_known(event_type, USED_EVENT_TYPES)).inc()


def webhook_rejected(status_code: int) -> None:
    WEBHOOKS_REJECTED.labels(REJECTION_REASONS.get(status_code, f"http_{status_code // 100}xx")).inc()


def webhook_not_delivered_temporal_down() -> None:
    WEBHOOKS_REJECTED.labels("temporal_unavailable").inc()


def webhook_delivered(result: WebhookDelivery) -> None:
    WEBHOOK_DELIVERIES.labels(_known(result, WebhookDelivery)).inc()


def last_rung_step(step: str) -> None:
    LAST_RUNG.labels(_known(step, LAST_RUNG_STEPS)).inc()


def reply_finished(brain: Brain, round_index: int, first_speak_latency_ms: float | None) -> None:
    """A reply activity ended; only the first round of a turn (before any tool call) is the caller's turn."""
    if round_index != 0:
        return
    brain = _known(brain, REPLY_BRAINS)
    CALLER_TURNS.labels(brain).inc()
    if first_speak_latency_ms is not None:
        TURN_LATENCY.labels(brain).observe(first_speak_latency_ms / 1000)


class LLMTimer:
    """Started when the LLM request goes out; `first_sentence()` records the wait once per request."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._recorded = False

    def first_sentence(self) -> None:
        if not self._recorded:
            self._recorded = True
            LLM_FIRST_SENTENCE.observe(time.monotonic() - self._started)


def llm_request(kind: str) -> None:
    LLM_REQUESTS.labels(_known(kind, ("reply", "speculative"))).inc()


def llm_tokens_used(kind: str, prompt: int, completion: int) -> None:
    kind = _known(kind, ("reply", "speculative"))
    LLM_TOKENS.labels(kind, "prompt").inc(prompt)
    LLM_TOKENS.labels(kind, "completion").inc(completion)


def speculative_reply(outcome: str) -> None:
    SPECULATIVE_REPLIES.labels(_known(outcome, ("generated", "wanted_tool", "cancelled"))).inc()


def llm_failed(reason: str) -> None:
    LLM_FAILURES.labels(_known(reason, ("too_slow", "refused", "server_error", "unreachable"))).inc()


def call_finished(outcome: CallOutcome | None, fallback_level: FallbackLevel | None) -> None:
    CALL_OUTCOMES.labels(_known(outcome, CallOutcome)).inc()
    FALLBACK_LEVEL.labels(_known(fallback_level or FallbackLevel.LLM, FallbackLevel)).inc()


def booking_made(count: int = 1) -> None:
    BOOKINGS.inc(count)


def escalation_attempted(result: EscalationStatus) -> None:
    ESCALATIONS.labels(_known(result, EscalationStatus)).inc()


def callback_promised(count: int = 1) -> None:
    CALLBACKS.labels("promised").inc(count)


def callback_made() -> None:
    CALLBACKS.labels("made").inc()


def callback_refused(reason: CallbackRefusal) -> None:
    CALLBACKS_REFUSED.labels(_known(reason, CallbackRefusal)).inc()


def openai_webhook(result: str) -> None:
    OPENAI_WEBHOOKS.labels(_known(result, OPENAI_WEBHOOK_RESULTS)).inc()


def client_state_refused(reason: ClientStateRefusal) -> None:
    CLIENT_STATES_REFUSED.labels(_known(reason, ClientStateRefusal)).inc()


# Every label value that can occur exists from the start, so dashboards see zeros, not gaps.
for _reason in (*REJECTION_REASONS.values(), "temporal_unavailable"):
    WEBHOOKS_REJECTED.labels(_reason)
for _result in WebhookDelivery:
    WEBHOOK_DELIVERIES.labels(_result)
for _step in LAST_RUNG_STEPS:
    LAST_RUNG.labels(_step)
for _result in OPENAI_WEBHOOK_RESULTS:
    OPENAI_WEBHOOKS.labels(_result)
for _outcome in CallOutcome:
    CALL_OUTCOMES.labels(_outcome)
for _level in FallbackLevel:
    FALLBACK_LEVEL.labels(_level)
for _escalation in EscalationStatus:
    ESCALATIONS.labels(_escalation)
for _brain in REPLY_BRAINS:
    CALLER_TURNS.labels(_brain)
for _event in ("promised", "made"):
    CALLBACKS.labels(_event)
for _refusal in CallbackRefusal:
    CALLBACKS_REFUSED.labels(_refusal)
for _client_state_refusal in ClientStateRefusal:
    CLIENT_STATES_REFUSED.labels(_client_state_refusal)


# --- exposition ---------------------------------------------------------------------------------


def exposition() -> bytes:
    """The text format for one scrape of this process, or of every process of a multi-process server.

    With PROMETHEUS_MULTIPROC_DIR set (uvicorn with several worker processes), each process
    writes its samples there and any of them answers for all, as prometheus-client documents.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class ForwardedMetrics(Collector):
    """Re-exports the metrics another exporter of this process serves on loopback.

    The Temporal SDK's metrics come from its Rust core, which runs its own Prometheus
    endpoint; forwarding them lets the worker offer operators one scrape target.
    """

    def __init__(self, url: str, timeout_seconds: float = 2.0) -> None:
        self._url = url
        self._timeout = timeout_seconds

    def collect(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as response:
                text = response.read().decode("utf-8")
        except OSError:
            return  # the SDK exporter is not up yet: this scrape has only our own metrics
        yield from text_string_to_metric_families(text)


def serve_worker_metrics(port: int, host: str = "0.0.0.0") -> Runtime:
    """Serves the worker's metrics on `port` and returns the Temporal runtime whose SDK metrics join them.

    The worker's Temporal client must be created with the returned runtime.
    """
    sdk_port = _free_loopback_port()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{sdk_port}")))
    REGISTRY.register(ForwardedMetrics(f"http://127.0.0.1:{sdk_port}/metrics"))
    start_http_server(port, addr=host)
    return runtime


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

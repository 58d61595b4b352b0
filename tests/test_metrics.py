"""Prometheus metrics of the API and the worker, and the per-call metrics row, after real calls."""

from __future__ import annotations

import json
import sys
from datetime import UTC

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from database.engine import get_engine
from database.models import CallMetrics
from runtime.call_cost import CallPrices, estimated_cost_usd
from simulator.call_script import CallScript
from tests.conftest import ManagedProcess, free_port
from tests.test_phone_call import finished_workflow
from tests.test_webhook_input import reference_event, signed_headers
from tests.waiting import eventually

pytestmark = pytest.mark.database


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a scrape; 0 when the series does not exist yet."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def place_call(stack, lines: list[str]):
    call = stack.simulator.place_call(CallScript(lines=lines))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)
    return call


async def test_the_api_counts_webhooks_received_delivered_and_rejected_by_reason(stack) -> None:
    metrics_url = f"{stack.api_url}/metrics"
    before = await scrape(metrics_url)
    await place_call(stack, ["What are your opening hours?"])

    body = json.dumps(reference_event("call.initiated", "v3:metrics-forged")).encode()
    forged = signed_headers(stack.signing_seed, body)
    forged["telnyx-signature-ed25519"] = forged["telnyx-signature-ed25519"][::-1]
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        assert (await http.post("/api/telnyx/voice-handler", content=body, headers=forged)).status_code == 403
        unsigned = {"content-type": "application/json"}
        assert (await http.post("/api/telnyx/voice-handler", content=body, headers=unsigned)).status_code == 401

    after = await scrape(metrics_url)
    received = "cloudgreet_webhooks_received_total"
    assert (
        sample(after, received, event_type="call.initiated")
        >= sample(before, received, event_type="call.initiated") + 1
    )
    assert sample(after, received, event_type="call.transcription") > sample(
        before, received, event_type="call.transcription"
    )
    delivered = "cloudgreet_webhook_deliveries_total"
    assert sample(after, delivered, result="delivered") > sample(before, delivered, result="delivered")
    rejected = "cloudgreet_webhooks_rejected_total"
    assert sample(after, rejected, reason="bad_signature") == sample(before, rejected, reason="bad_signature") + 1
    assert sample(after, rejected, reason="unsigned") == sample(before, rejected, reason="unsigned") + 1
    # Every reason exists from the start, so a dashboard shows a zero rather than nothing.
    assert 'reason="too_large"' in after


async def test_an_ignored_webhook_is_counted_as_ignored(stack) -> None:
    """Event types no call uses are acknowledged and dropped."""
    metrics_url = f"{stack.api_url}/metrics"
    before = await scrape(metrics_url)
    await place_call(stack, ["Could you tell me when you are open on Saturday mornings?"])
    body = json.dumps(reference_event("call.playback.ended", "v3:metrics-not-used")).encode()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        unused = await http.post(
            "/api/telnyx/voice-handler", content=body, headers=signed_headers(stack.signing_seed, body)
        )
    assert unused.status_code == 200 and unused.json()["status"] == "ignored"

    after = await scrape(metrics_url)
    delivered = "cloudgreet_webhook_deliveries_total"
    assert sample(after, delivered, result="ignored") >= sample(before, delivered, result="ignored") + 1
    assert sample(after, delivered, result="other") == 0


async def test_the_worker_exports_its_metrics_and_the_temporal_sdks_on_one_port(stack, tmp_path) -> None:
    port = free_port()
    worker = ManagedProcess(
        "worker-with-metrics", [sys.executable, "-m", "cloudgreet.cli", "worker"], {**stack.env, "METRICS_PORT": str(port)},
        tmp_path / "worker.log", port,
    )  # fmt: skip
    # This worker alone serves the task queue for the call, so the call's work shows in its metrics.
    stack.worker.stop()
    worker.start()
    try:
        call = await place_call(stack, ["Do you do whitening?", "Thanks, bye"])
        text = await eventually(
            lambda: scrape(f"http://127.0.0.1:{port}/metrics"),
            lambda t: (
                sample(t, "cloudgreet_calls_finished_total", outcome="completed")
                + sum(
                    sample(t, "cloudgreet_calls_finished_total", outcome=o)
                    for o in ("booked", "message", "escalated", "abandoned")
                )
                >= 1
            ),
            what="the finished call counted by the worker",
        )
    finally:
        worker.stop()
        stack.ensure_worker()
    assert sample(text, "cloudgreet_caller_turns_total", brain="llm") >= 2
    assert sample(text, "cloudgreet_turn_latency_seconds_count", brain="llm") >= 2
    assert sample(text, "cloudgreet_turn_latency_seconds_sum", brain="llm") > 0
    assert sample(text, "cloudgreet_llm_first_sentence_seconds_count") >= 2
    assert sample(text, "cloudgreet_calls_by_fallback_level_total", level="llm") >= 1
    # The Temporal SDK's own metrics, forwarded from its exporter.
    temporal = {name for name in families(text) if name.startswith("temporal_")}
    assert {"temporal_workflow_completed", "temporal_activity_execution_latency"} & temporal, sorted(temporal)
    # Each activity's log lines name the call they work for (runtime.activity_log_context.LogContextInterceptor):
    # at INFO, the one line of the call's end.
    [finished] = [line for line in worker.log().splitlines() if "call finished" in line]
    assert f"call_id={call.call_control_id}" in finished
    assert "caller_turns=2" in finished


async def test_each_call_records_its_metrics_with_tokens_and_an_estimated_cost(stack) -> None:
    call = await place_call(stack, ["How much is a checkup?"])
    with Session(get_engine(stack.database_url)) as session:
        row = await eventually(
            lambda: session.get(CallMetrics, call.call_control_id, populate_existing=True),
            lambda r: r is not None and r.estimated_cost_usd is not None,
            what="the call's metrics row",
        )
    assert row.caller_turns == 1
    assert row.duration_seconds > 0
    assert row.reply_latency_p50_ms > 0 and row.reply_latency_max_ms >= row.reply_latency_p50_ms
    assert row.llm_prompt_tokens > 0 and row.llm_completion_tokens > 0  # the fake model reports usage like OpenAI
    assert row.fallback_level == "llm"
    # A started minute of telephony plus the tokens, at the default prices of the settings.
    expected = estimated_cost_usd(CallPrices(), row.duration_seconds, row.llm_prompt_tokens, row.llm_completion_tokens)
    assert row.estimated_cost_usd == pytest.approx(expected)
    assert row.estimated_cost_usd >= CallPrices().telnyx_per_minute_usd


def test_a_finished_call_counts_its_bookings_escalations_and_call_backs_from_its_records(database_url) -> None:
    from datetime import datetime, timedelta

    from prometheus_client import REGISTRY

    from activities.call_accounting import count_finished_call
    from database.models import Call, Callback
    from tests.records import add_business, add_call

    business_id, _ = add_business(database_url, "Counting Plumbing")
    started = datetime.now(UTC) - timedelta(minutes=5)
    call_id = add_call(database_url, business_id, started_at=started, outcome="escalated", fallback_level="escalation",
                       booking="Drain cleaning", escalation_attempts=[{"number": "+15555550199", "result": "answered"}])  # fmt: skip

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "bookings": value("cloudgreet_bookings_total"),
        "escalated": value("cloudgreet_calls_finished_total", outcome="escalated"),
        "level": value("cloudgreet_calls_by_fallback_level_total", level="escalation"),
        "connected": value("cloudgreet_escalations_total", result="connected"),
        "promised": value("cloudgreet_callbacks_total", event="promised"),
    }
    with Session(get_engine(database_url)) as session:
        session.add(Callback(business_id=business_id, call_id=call_id, caller_number="+15555550142", reason="quote",
                             due_at=started + timedelta(hours=1), idempotency_key=f"{call_id}/callback"))  # fmt: skip
        session.commit()
        count_finished_call(session, session.get(Call, call_id))
    assert value("cloudgreet_bookings_total") == before["bookings"] + 1
    assert value("cloudgreet_calls_finished_total", outcome="escalated") == before["escalated"] + 1
    assert value("cloudgreet_calls_by_fallback_level_total", level="escalation") == before["level"] + 1
    assert value("cloudgreet_escalations_total", result="connected") == before["connected"] + 1
    assert value("cloudgreet_callbacks_total", event="promised") == before["promised"] + 1

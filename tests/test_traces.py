"""Traces: one trace per caller turn, from the webhook through Temporal to the LLM and every Telnyx command.

The API and the worker export by OTLP over HTTP, as in production, to a collector the test serves:
it takes what a real collector takes (protobuf `ExportTraceServiceRequest`s on /v1/traces) and
keeps the spans.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.tracing import tracing_on
from simulator.call_script import CallScript
from simulator.serving import UvicornThread
from tests.conftest import running_stack
from tests.in_process import make_settings
from tests.waiting import eventually

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


class OtlpCollector:
    """The receiving end of OTLP/HTTP traces: protobuf in, an empty success out, nothing else accepted."""

    def __init__(self) -> None:
        self.spans: list[CollectedSpan] = []
        self._lock = threading.Lock()
        self.server = UvicornThread(Starlette(routes=[Route("/v1/traces", self._export, methods=["POST"])]))

    async def _export(self, request: Request) -> Response:
        if request.headers.get("content-type") != PROTOBUF:
            return Response(status_code=415)
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        with self._lock:
            for resource_spans in export.resource_spans:
                service = next(
                    (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
                )
                for scope_spans in resource_spans.scope_spans:
                    self.spans += [
                        CollectedSpan(service, s.name, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex())
                        for s in scope_spans.spans
                    ]
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)

    def trace_of(self, span: CollectedSpan) -> list[CollectedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == span.trace_id]

    def named(self, name: str) -> list[CollectedSpan]:
        with self._lock:
            return [s for s in self.spans if s.name == name]


@pytest.fixture(scope="module")
def collector() -> Iterator[OtlpCollector]:
    receiver = OtlpCollector()
    with receiver.server:
        yield receiver


def test_traces_are_off_unless_asked_for() -> None:
    assert not tracing_on(make_settings())
    assert not tracing_on(make_settings(OTEL_TRACES_EXPORTER="none", OTEL_EXPORTER_OTLP_ENDPOINT="http://x:4318"))
    assert tracing_on(make_settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318"))
    assert tracing_on(make_settings(OTEL_TRACES_EXPORTER="console"))


async def test_a_caller_turn_is_one_trace_from_the_webhook_to_the_llm_and_telnyx(
    collector, temporal, database_url, fake_llm, tmp_path
):
    traced = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.server.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a tenth of a second, not five
    }
    with running_stack(temporal, database_url, fake_llm, tmp_path, name="traced", llm=True, extra_env=traced) as stack:
        call = stack.simulator.place_call(CallScript(lines=["What are your opening hours?"]))
        await stack.simulator.wait_ended(call, 60)
        [turn] = await eventually(lambda: collector.named("caller turn"), lambda turns: len(turns) == 1, what="a turn")
        names = await eventually(
            lambda: {s.name for s in collector.trace_of(turn)},
            lambda names: {"llm first sentence", "telnyx speak"} <= names,
            what="the turn's LLM and Telnyx spans",
        )

    spans = collector.trace_of(turn)
    services = {s.service for s in spans}
    assert services == {"cloudgreet-api", "cloudgreet-worker"}, "one trace across the API and the worker"
    webhook = [s for s in spans if s.service == "cloudgreet-api" and s.parent_id == ""]
    assert len(webhook) == 1, "the trace starts at the webhook that carried the caller's words"
    assert any(name.startswith("HandleSignal:telnyx_event") for name in names), "the workflow task that heard them"
    assert any(name.startswith("RunActivity:reply_to_caller") for name in names)
    by_id = {s.span_id: s for s in spans}

    def ancestors(span: CollectedSpan) -> list[str]:
        chain = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            chain.append(span.name)
        return chain

    [first_sentence] = [s for s in spans if s.name == "llm first sentence"]
    assert "caller turn" in ancestors(first_sentence)
    assert all("caller turn" in ancestors(s) for s in spans if s.name == "telnyx speak")
    # The greeting belongs to the call's start, not to the turn.
    assert len([s for s in spans if s.name == "telnyx speak"]) == 2, "the two sentences of the reply"

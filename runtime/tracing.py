"""Traces of a caller turn across the API, Temporal and the activities, when asked for.

OpenTelemetry's own settings turn them on: `OTEL_TRACES_EXPORTER=otlp` (or an
`OTEL_EXPORTER_OTLP_ENDPOINT`) sends them by OTLP over HTTP, `console` prints them (what
`cloudgreet dev --traces` does), and nothing set costs nothing: the SDK is not even imported, and
the spans the code opens go to OpenTelemetry's no-op tracer.

Temporal's `OpenTelemetryPlugin` carries the context through signals and activities; the
tracer provider is Temporal's replay-safe one, so a workflow replayed on another worker does not
send its spans twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from runtime.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)


def tracing_on(settings: Settings) -> bool:
    exporter = settings.otel_traces_exporter
    if exporter == "none":
        return False
    return exporter in ("otlp", "console") or settings.otel_exporter_otlp_endpoint is not None


_started = False


def start_tracing(settings: Settings, service: str) -> bool:
    """Installs the process's tracer provider with the configured exporter; False when traces are off.

    Once per process: OpenTelemetry keeps the first provider it is given.
    """
    global _started
    if not tracing_on(settings):
        return False
    if _started:
        return True
    _started = True
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
    from temporalio.contrib.opentelemetry import create_tracer_provider

    provider = create_tracer_provider(resource=Resource.create({"service.name": settings.otel_service_name or service}))
    if settings.otel_traces_exporter == "console":
        # One line per span as it ends: for reading a turn in the terminal, not for production.
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(formatter=one_line)))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = (settings.otel_exporter_otlp_endpoint or "http://localhost:4318").rstrip("/")
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    # Every request the Telnyx and OpenAI SDKs send (they send with httpx), named for what it does.
    HTTPXClientInstrumentor().instrument(async_request_hook=name_the_request)
    log.info("traces on: %s", settings.otel_traces_exporter or "otlp")
    return True


def temporal_plugins(settings: Settings) -> list[Any]:
    """The Temporal client's plugins: the OpenTelemetry one when traces are on (it also serves the worker)."""
    if not tracing_on(settings):
        return []
    from temporalio.contrib.opentelemetry import OpenTelemetryPlugin

    # With its own spans: the signal handled, each activity started and run (the "workflow task" of a turn).
    return [OpenTelemetryPlugin(add_temporal_spans=True)]


def trace_requests(app: FastAPI, settings: Settings) -> None:
    """A span per HTTP request (the webhook), parent of the signal it sends."""
    if tracing_on(settings):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app)


async def name_the_request(span: Any, request: Any) -> None:
    """`telnyx speak` rather than `POST`: the last part of a Telnyx path is its command."""
    url = getattr(request, "url", None) or request[1]
    path = str(getattr(url, "path", "") or "")
    if "/v2/" in path and span.is_recording():
        span.update_name("telnyx " + path.rstrip("/").rsplit("/", 1)[-1])


def one_line(span: Any) -> str:
    """`cloudgreet dev --traces`: a span's name, trace, parent and duration, one line each."""
    context, parent = span.get_span_context(), span.parent
    milliseconds = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    return (
        f"trace {context.trace_id:032x} span {context.span_id:016x} "
        f"parent {parent.span_id if parent else 0:016x} {milliseconds:8.1f} ms  {span.name}\n"
    )

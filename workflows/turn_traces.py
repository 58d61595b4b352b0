"""One trace per caller turn: the turn is a child of the webhook that carried the caller's words.

The signal handler that hears those words runs in that webhook's trace context (Temporal's
OpenTelemetry plugin puts it there from the signal's header); the run loop that answers them
runs in the call's first context. So the handler keeps the context, and the turn opens its span
in it: the reply, the LLM's first sentence and every Telnyx command of the turn are then in the
webhook's trace. With traces off this is OpenTelemetry's no-op tracer, and costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from opentelemetry import context as otel_context
    from opentelemetry import trace


class TurnTraces:
    def __init__(self) -> None:
        self._words_context: otel_context.Context | None = None

    def heard_words(self) -> None:
        """In the handler of the words that end a turn: remember the trace they came in."""
        self._words_context = otel_context.get_current()

    @contextmanager
    def caller_turn(self, turn: int) -> Iterator[None]:
        tracer = trace.get_tracer(__name__)
        with tracer.start_as_current_span("caller turn", context=self._words_context, attributes={"turn": turn}):
            yield

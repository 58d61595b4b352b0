"""`POST /api/telnyx/voice-handler`: verify, parse, deduplicate, and hand the event to its call.

It answers fast and does no Telnyx or LLM work itself. Input problems get a 4xx that says what
is wrong (never a 5xx, which Telnyx would redeliver); a missing Temporal gets a 503, which
Telnyx should redeliver, until the call has rung LAST_RUNG_GRACE_SECONDS: then the API answers
it itself (api/last_rung.py), and acknowledges every later webhook of that call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.service import RPCError

from activities.call_recordings import SavedRecording
from api.call_routing import CallRouter
from api.dependencies import CallRouterDep, SettingsDep, WebhookVerifierDep
from api.last_rung import LastRung, LastRungFailed, last_rung_of
from api.telnyx_events import WebhookRejected, parse_webhook, to_call_event, to_saved_recording
from api.upstream_errors import upstream_failure
from domain.telnyx_event_types import RECORDING_SAVED, USED_EVENT_TYPES
from domain.vocabulary import WebhookDelivery
from runtime import metrics
from workflows.call_messages import CallEvent, call_workflow_id

router = APIRouter(tags=["telnyx"])
log = structlog.get_logger(__name__)


class WebhookAck(BaseModel):
    status: WebhookDelivery
    event_id: str | None = None
    detail: str | None = None


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise WebhookRejected(413, f"body of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise WebhookRejected(413, f"body is over the {limit}-byte limit")
    return bytes(body)


@router.post(
    "/api/telnyx/voice-handler",
    response_model=WebhookAck,
    responses={
        400: {"description": "Not UTF-8 or not JSON"},
        401: {"description": "Signature headers missing"},
        403: {"description": "Bad or stale signature"},
        413: {"description": "Body too large"},
        422: {"description": "JSON that is not a Telnyx call event"},
        503: {"description": "Temporal unreachable or verification not configured; Telnyx should redeliver"},
    },
)
async def voice_handler(
    request: Request,
    settings: SettingsDep,
    verifier: WebhookVerifierDep,
    calls: CallRouterDep,
    last_rung: Annotated[LastRung | None, Depends(last_rung_of)],
) -> WebhookAck | JSONResponse:
    received_at = time.time()
    try:
        body = await read_body(request, settings.webhook_max_body_bytes)
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected(400, "body is not UTF-8") from None
        verifier.verify(raw, request.headers)
        webhook = parse_webhook(raw)
        metrics.webhook_received(webhook.data.event_type)
        if webhook.data.event_type not in USED_EVENT_TYPES:
            metrics.webhook_delivered(WebhookDelivery.IGNORED)
            return WebhookAck(
                status=WebhookDelivery.IGNORED,
                event_id=webhook.data.id,
                detail=f"{webhook.data.event_type} is not used",
            )
        if webhook.data.event_type == RECORDING_SAVED:
            saved = to_saved_recording(webhook)
            return await kept_recording(calls, saved)
        event = to_call_event(webhook, received_at)
    except WebhookRejected as rejection:
        metrics.webhook_rejected(rejection.status_code)
        return JSONResponse(status_code=rejection.status_code, content={"detail": rejection.detail})
    structlog.contextvars.bind_contextvars(
        call_id=event.call_control_id, workflow_id=call_workflow_id(event.call_control_id)
    )
    log.debug("webhook", event_type=event.event_type, caller=event.caller_number, dialed=event.dialed_number)
    if last_rung is not None and await last_rung.owns(event):
        return await answered_by_api(event, last_rung.follow(event))
    try:
        delivery = await asyncio.wait_for(calls.deliver(event), settings.temporal_delivery_timeout_seconds)
    except (RPCError, TimeoutError) as error:
        if last_rung is not None and last_rung.should_answer(event):
            return await answered_by_api(event, last_rung.temporal_unreachable(event, lambda: calls.deliver(event)))
        metrics.webhook_not_delivered_temporal_down()
        failure = upstream_failure(503, "Temporal is unavailable; deliver the event again", "temporal", error)
        return JSONResponse(status_code=failure.status_code, content={"detail": failure.detail})
    metrics.webhook_delivered(delivery)
    return WebhookAck(status=delivery, event_id=event.event_id)


async def kept_recording(calls: CallRouter, saved: SavedRecording) -> WebhookAck | JSONResponse:
    try:
        delivery = await calls.keep_recording(saved)
    except RPCError as error:
        metrics.webhook_not_delivered_temporal_down()
        failure = upstream_failure(503, "Temporal is unavailable; deliver the event again", "temporal", error)
        return JSONResponse(status_code=failure.status_code, content={"detail": failure.detail})
    metrics.webhook_delivered(delivery)
    return WebhookAck(status=delivery, event_id=saved.event_id)


async def answered_by_api(event: CallEvent, work: Awaitable[bool]) -> WebhookAck | JSONResponse:
    """The last rung's part of a webhook: 2xx once the API has the call in hand, 503 to be redelivered."""
    try:
        answered = await work
    except LastRungFailed as failure:
        return JSONResponse(status_code=503, content={"detail": f"the API could not answer the call: {failure}"})
    if not answered:  # still within the grace period: Telnyx redelivers, or the API's timer answers
        metrics.webhook_not_delivered_temporal_down()
        return JSONResponse(status_code=503, content={"detail": "Temporal is unavailable"})
    metrics.webhook_delivered(WebhookDelivery.ANSWERED_BY_API)
    return WebhookAck(status=WebhookDelivery.ANSWERED_BY_API, event_id=event.event_id)

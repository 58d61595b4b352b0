"""`POST /api/telnyx/voice-handler`: verify, parse, deduplicate, and hand the event to its call.

It answers fast and does no Telnyx or LLM work itself. Input problems get a 4xx that says what
is wrong (never a 5xx, which Telnyx would redeliver); a missing Temporal gets a 503, which
Telnyx should redeliver.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import structlog
import telnyx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.service import RPCError

from api.dependencies import CallRouterDep, SettingsDep, WebhookVerifierDep
from api.telnyx_events import WebhookRejected, parse_webhook, to_call_event
from cloudgreet import metrics
from workflows.call_messages import USED_EVENT_TYPES, call_workflow_id

router = APIRouter(tags=["telnyx"])
log = structlog.get_logger(__name__)


class WebhookAck(BaseModel):
    status: str
    event_id: str | None = None
    detail: str | None = None


class WebhookVerifier:
    """Checks Telnyx's Ed25519 signature with the telnyx SDK (which also refuses stale timestamps)."""

    def __init__(self, public_key: str | None) -> None:
        self._public_key = public_key
        self._webhooks = telnyx.Telnyx(api_key="webhook-verification-only", public_key=public_key).webhooks

    def verify(self, raw: str, headers: Mapping[str, str]) -> None:
        if not self._public_key:
            raise WebhookRejected(503, "TELNYX_PUBLIC_KEY is not set: webhooks cannot be verified")
        lowered = {k.lower() for k in headers}
        if "telnyx-signature-ed25519" not in lowered or "telnyx-timestamp" not in lowered:
            raise WebhookRejected(401, "missing telnyx-signature-ed25519 or telnyx-timestamp header")
        try:
            # unwrap verifies before it parses; its parse is discarded, ours is permissive.
            self._webhooks.unwrap(raw, headers=dict(headers))
        except json.JSONDecodeError:
            return  # signed but not JSON: the parser says what is wrong
        except ValueError as error:
            raise WebhookRejected(403, f"signature rejected: {error}")


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
    request: Request, settings: SettingsDep, verifier: WebhookVerifierDep, calls: CallRouterDep
) -> WebhookAck | JSONResponse:
    received_at = time.time()
    try:
        body = await read_body(request, settings.webhook_max_body_bytes)
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected(400, "body is not UTF-8")
        verifier.verify(raw, request.headers)
        webhook = parse_webhook(raw)
        metrics.webhook_received(webhook.data.event_type)
        if webhook.data.event_type not in USED_EVENT_TYPES:
            return WebhookAck(status="ignored", event_id=webhook.data.id, detail=f"{webhook.data.event_type} is not used")
        event = to_call_event(webhook, received_at)
    except WebhookRejected as rejection:
        metrics.webhook_rejected(rejection.status_code)
        return JSONResponse(status_code=rejection.status_code, content={"detail": rejection.detail})
    structlog.contextvars.bind_contextvars(call_id=event.call_control_id, workflow_id=call_workflow_id(event.call_control_id))
    log.debug("webhook", event_type=event.event_type, caller=event.caller_number, dialed=event.dialed_number)
    try:
        delivery = await calls.deliver(event)
    except RPCError as error:
        metrics.webhook_not_delivered_temporal_down()
        return JSONResponse(status_code=503, content={"detail": f"Temporal is unavailable: {error.message}"})
    metrics.webhook_delivered(delivery.value)
    return WebhookAck(status=delivery.value, event_id=event.event_id)

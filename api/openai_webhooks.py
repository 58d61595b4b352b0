"""`POST /api/openai/webhooks`: OpenAI's signed webhooks; a `realtime.call.incoming` starts the call's workflow.

A business whose line is in Realtime-SIP mode has Telnyx send its calls to OpenAI's SIP URI
(`sip:<project-id>@sip.api.openai.com;transport=tls`); OpenAI announces each call here. The
signature is the Standard Webhooks one, checked by the SDK (`client.webhooks.unwrap` with
OPENAI_WEBHOOK_SECRET): a forged or stale (over five minutes) webhook gets 400 and starts nothing.
The call's `CallWorkflow` is `call-<call_id>`, started with REJECT_DUPLICATE: the same webhook
again (a replay, or a redelivery after our 200 was lost) finds it started and nothing starts twice.
It is answered 200 `duplicate`: OpenAI delivers again whatever is not 2xx, so a 4xx would only
bring the same webhook back until OpenAI gives up. The
workflow decides whether the call is accepted (its number is a line in Realtime mode) or declined.
"""

from __future__ import annotations

import time

import openai
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, SecretStr
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.realtime_calls import sip_number
from api.dependencies import SettingsDep
from api.telnyx_events import WebhookRejected
from api.telnyx_webhooks import read_body
from api.upstream_errors import upstream_failure
from domain.vocabulary import Channel, WebhookDelivery
from runtime import metrics
from runtime.realtime_sip import DIALED_NUMBER_HEADER, DIALED_SIGNATURE_HEADER, dialed_number_signed
from workflows.call_messages import CALL_WORKFLOW, CallStart, SipCall, call_workflow_id
from workflows.call_options import CALL_WORKFLOW_TASK_TIMEOUT

router = APIRouter(tags=["openai"])
log = structlog.get_logger(__name__)

INCOMING_CALL = "realtime.call.incoming"
# The SIP headers a call's numbers are read from: the caller's From; the number dialled is the header our
# Telnyx transfer adds (DIALED_NUMBER_HEADER), else the To's user part when Telnyx sends the number in it.


class OpenAIWebhookAck(BaseModel):
    status: WebhookDelivery
    call_id: str | None = None
    detail: str | None = None


def _header(headers: list, name: str) -> str | None:
    for header in headers:
        named, value = getattr(header, "name", None), getattr(header, "value", None)
        if isinstance(named, str) and named.lower() == name.lower() and isinstance(value, str):
            return value
    return None


def sip_call_of(sip_headers: list, received_at: float, secret_key: SecretStr | None) -> SipCall:
    dialed = sip_number(_header(sip_headers, DIALED_NUMBER_HEADER))
    if dialed and not dialed_number_signed(secret_key, dialed, _header(sip_headers, DIALED_SIGNATURE_HEADER) or ""):
        log.warning("Realtime call with an unsigned dialled-number header: the header is ignored", header=dialed)
        dialed = None
    dialed = dialed or sip_number(_header(sip_headers, "To"))
    return SipCall(
        caller_number=sip_number(_header(sip_headers, "From")), dialed_number=dialed, received_at=received_at
    )


def _webhooks(request: Request) -> openai.AsyncOpenAI:
    """A client only for unwrapping: no key is sent anywhere from here."""
    client = getattr(request.app.state, "openai_webhooks", None)
    if client is None:
        client = request.app.state.openai_webhooks = openai.AsyncOpenAI(api_key="unused-for-webhooks")
    return client


@router.post(
    "/api/openai/webhooks",
    response_model=OpenAIWebhookAck,
    responses={
        400: {"description": "Forged or stale signature, or not an OpenAI event"},
        413: {"description": "Body too large"},
        503: {"description": "OPENAI_WEBHOOK_SECRET not set, or Temporal unreachable: OpenAI delivers again"},
    },
)
async def openai_webhook(request: Request, settings: SettingsDep) -> OpenAIWebhookAck | JSONResponse:
    received_at = time.time()
    if settings.openai_webhook_secret is None:
        metrics.openai_webhook("cannot_verify")
        return JSONResponse(status_code=503, content={"detail": "OPENAI_WEBHOOK_SECRET is not set"})
    try:
        body = await read_body(request, settings.webhook_max_body_bytes)
    except WebhookRejected as rejection:
        metrics.openai_webhook("too_large")
        return JSONResponse(status_code=rejection.status_code, content={"detail": rejection.detail})
    try:
        event = _webhooks(request).webhooks.unwrap(
            body, request.headers, secret=settings.openai_webhook_secret.get_secret_value()
        )
    except openai.InvalidWebhookSignatureError:
        log.warning("OpenAI webhook refused: forged or stale signature")
        metrics.openai_webhook("bad_signature")
        return JSONResponse(status_code=400, content={"detail": "the webhook signature is forged or stale"})
    except (ValueError, UnicodeDecodeError):  # signed, but no JSON event: not OpenAI's
        metrics.openai_webhook("not_an_event")
        return JSONResponse(status_code=400, content={"detail": "the body is not an OpenAI event"})
    if event.type != INCOMING_CALL:
        metrics.openai_webhook("ignored")
        return OpenAIWebhookAck(status=WebhookDelivery.IGNORED, detail=f"{event.type} is not used")
    call_id = getattr(event.data, "call_id", None)
    if not isinstance(call_id, str) or not call_id:
        metrics.openai_webhook("not_an_event")
        return JSONResponse(status_code=400, content={"detail": "realtime.call.incoming without a call_id"})
    start = CallStart(
        call_control_id=call_id,
        channel=Channel.REALTIME_SIP,
        sip=sip_call_of(getattr(event.data, "sip_headers", None) or [], received_at, settings.secret_key),
        history_event_limit=settings.call_history_event_limit,
    )
    structlog.contextvars.bind_contextvars(call_id=call_id, workflow_id=call_workflow_id(call_id))
    try:
        client = await request.app.state.temporal.client()
        await client.start_workflow(
            CALL_WORKFLOW,
            start,
            id=call_workflow_id(call_id),
            task_queue=settings.temporal_task_queue,
            # One workflow per call, ever: a webhook sent again (or replayed by someone) starts nothing.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            task_timeout=CALL_WORKFLOW_TASK_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        log.warning("OpenAI webhook for a call already started: replayed or delivered again")
        metrics.openai_webhook("duplicate")
        return OpenAIWebhookAck(
            status=WebhookDelivery.DUPLICATE, call_id=call_id, detail="this call was already started; nothing new"
        )
    except (RPCError, TimeoutError) as error:
        metrics.openai_webhook("temporal_unavailable")
        failure = upstream_failure(503, "Temporal is unavailable; deliver the webhook again", "temporal", error)
        return JSONResponse(status_code=failure.status_code, content={"detail": failure.detail})
    metrics.openai_webhook("delivered")
    log.info("Realtime call handed to its workflow", caller=start.sip and start.sip.caller_number)
    return OpenAIWebhookAck(status=WebhookDelivery.DELIVERED, call_id=call_id)

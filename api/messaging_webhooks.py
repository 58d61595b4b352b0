"""`POST /api/telnyx/messaging-handler`: callers' texts (Telnyx messaging's message.received).

Signed like the call webhooks (api/webhook_verification.py): a forged or stale one is refused
before its body is read. A reply to a satisfaction survey is recorded here, in the database, keyed
by Telnyx's message id, so a redelivery changes nothing (database/satisfaction.py). Delivery reports
(message.sent, message.finalized) come to the same URL and are acknowledged and dropped.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session

from api.dependencies import SettingsDep, WebhookVerifierDep
from api.telnyx_events import WebhookRejected
from api.telnyx_webhooks import read_body
from database.engine import get_engine
from database.satisfaction import InboundText, take_reply
from domain.vocabulary import TextReplyOutcome

router = APIRouter(tags=["telnyx"])
log = structlog.get_logger(__name__)

MESSAGE_RECEIVED = "message.received"


class _Permissive(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Address(_Permissive):
    phone_number: str = ""


class _MessagePayload(_Permissive):
    # The telnyx SDK's MessagingInboundMessagePayload: `from` an object, `to` a list of them for SMS
    # (one number as a string for WhatsApp), `text` the message.
    id: str
    from_: _Address = Field(alias="from")
    to: list[_Address] | str
    text: str = ""
    received_at: datetime | None = None

    def to_number(self) -> str:
        return self.to if isinstance(self.to, str) else (self.to[0].phone_number if self.to else "")


class _MessageEvent(_Permissive):
    event_type: str
    id: str
    payload: dict


class _MessageWebhook(_Permissive):
    data: _MessageEvent


class TextAck(BaseModel):
    status: TextReplyOutcome
    message_id: str | None = None


@router.post(
    "/api/telnyx/messaging-handler",
    response_model=TextAck,
    responses={
        400: {"description": "Not UTF-8 or not JSON"},
        401: {"description": "Signature headers missing"},
        403: {"description": "Bad or stale signature"},
        413: {"description": "Body too large"},
        422: {"description": "JSON that is not a Telnyx messaging event"},
        503: {"description": "Database unreachable or verification not configured; Telnyx should redeliver"},
    },
)
async def messaging_handler(
    request: Request, settings: SettingsDep, verifier: WebhookVerifierDep
) -> TextAck | JSONResponse:
    try:
        body = await read_body(request, settings.webhook_max_body_bytes)
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected(400, "body is not UTF-8") from None
        verifier.verify(raw, request.headers)
        text = _inbound_text(raw)
    except WebhookRejected as rejection:
        return JSONResponse(status_code=rejection.status_code, content={"detail": rejection.detail})
    if text is None:
        return TextAck(status=TextReplyOutcome.IGNORED)
    outcome = await asyncio.to_thread(_take, settings.database_url, text)
    log.info("caller's text", outcome=outcome, message_id=text.message_id)
    return TextAck(status=outcome, message_id=text.message_id)


def _take(database_url: str, text: InboundText) -> TextReplyOutcome:
    with Session(get_engine(database_url)) as session:
        return take_reply(session, text)


def _inbound_text(raw: str) -> InboundText | None:
    """The caller's text of a message.received; None for the other messaging events."""
    try:
        webhook = _MessageWebhook.model_validate(json.loads(raw))
    except ValueError as error:  # json's and pydantic's errors alike
        status = 422 if isinstance(error, ValidationError) else 400
        raise WebhookRejected(status, f"not a Telnyx messaging webhook: {str(error)[:200]}") from None
    if webhook.data.event_type != MESSAGE_RECEIVED:
        return None
    try:
        payload = _MessagePayload.model_validate(webhook.data.payload)
    except ValidationError as error:
        raise WebhookRejected(422, f"message.received without a message: {str(error)[:200]}") from None
    if not payload.from_.phone_number or not payload.to_number():
        raise WebhookRejected(422, "message.received without from or to numbers")
    return InboundText(
        message_id=payload.id,
        from_number=payload.from_.phone_number,
        to_number=payload.to_number(),
        text=payload.text,
        received_at=(payload.received_at or datetime.now(UTC)).astimezone(UTC),
    )

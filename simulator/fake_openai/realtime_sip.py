"""The fake's SIP side of the Realtime API: an incoming phone call announced by a signed
`realtime.call.incoming` webhook, then `accept`/`reject`/`refer`/`hangup` on it, as OpenAI's SIP
endpoint does.

There is no SIP or RTP here. `POST /_fake/realtime/sip/incoming` stands for Telnyx routing a call
to OpenAI's SIP URI: the fake makes the call and posts the webhook (Standard Webhooks signature,
what `client.webhooks.unwrap` checks; `forged`/`stale` sign it wrong or late). Once accepted, the
call's conversation is reached only through its control channel (`connect(call_id=...)`), and
`POST /_fake/realtime/sip/{call_id}/say` is the caller speaking (audio into its server VAD).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from simulator.fake_openai.realtime_conversation import RealtimeConversation
from simulator.fake_openai.realtime_state import FakeRealtime, FakeRealtimeCall


class IncomingSipCall(BaseModel):
    """What `POST /_fake/realtime/sip/incoming` is asked: who calls whom, and where the webhook goes."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str
    secret: str = Field(description="The project's webhook secret (whsec_...), as OPENAI_WEBHOOK_SECRET holds it")
    from_number: str = "+15550100"
    to_number: str = "+15550199"
    to_uri: str | None = Field(
        default=None,
        description="The To header's URI when it is not the number's (a Telnyx transfer to sip:<project-id>@...)",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Custom SIP headers the caller's side added (X-...), passed on as sent"
    )
    forged: bool = Field(default=False, description="Sign with another secret")
    stale: bool = Field(default=False, description="Sign with a timestamp ten minutes old")


def signed_webhook(payload: str, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers for `payload`, as OpenAI signs its webhooks."""
    webhook_id = f"wh_{uuid.uuid4().hex}"
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    signature = base64.b64encode(hmac.new(key, f"{webhook_id}.{stamp}.{payload}".encode(), hashlib.sha256).digest())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{signature.decode()}",
        "content-type": "application/json",
    }


def incoming_event(call_id: str, request: IncomingSipCall) -> dict[str, Any]:
    """The `realtime.call.incoming` event (the SDK's `RealtimeCallIncomingWebhookEvent`)."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "realtime.call.incoming",
        "created_at": int(time.time()),
        "data": {
            "call_id": call_id,
            "sip_headers": [
                {"name": "From", "value": f"<sip:{request.from_number}@pstn.example>;tag=fake"},
                {"name": "To", "value": f"<{request.to_uri or f'sip:{request.to_number}@sip.api.openai.com'}>"},
                {"name": "Call-ID", "value": f"{uuid.uuid4().hex}@fake-telnyx"},
                *({"name": name, "value": value} for name, value in request.headers.items()),
            ],
        },
    }


class SipCall:
    """One phone call at OpenAI's SIP endpoint: ringing until accepted or rejected."""

    def __init__(self, realtime: FakeRealtime, llm: Any, record: FakeRealtimeCall) -> None:
        self.realtime = realtime
        self.llm = llm
        self.record = record
        self.conversation: RealtimeConversation | None = None  # once accepted

    def accept(self, session: dict[str, Any]) -> None:
        # The caller's audio is on RTP, so events go only to control channels (a no-op sink here).
        self.conversation = RealtimeConversation(
            self.realtime, self.llm, self.record, session, lambda _text: None, webrtc=True
        )
        self.record.channel_open = True
        self.conversation.opened()

    async def close(self) -> None:
        if self.conversation is not None:
            await self.conversation.close()


def webhook_body(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))

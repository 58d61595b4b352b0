"""A person's texts to our numbers: Telnyx messaging's message.received webhook, signed and retried.

The body has the keys and shapes of the telnyx SDK's `InboundMessageWebhookEvent` (its
`MessagingInboundMessagePayload`): `from` an object with the sender's number, `to` a list of
recipients for SMS, `text`, `received_at`. It goes to the messaging profile's webhook URL (ours:
/api/telnyx/messaging-handler), signed as call webhooks are, and is posted again while not
answered 2xx, after the same retry delays.

A STOP (or its kin) also stops the sender's texts from that number, as carriers and Telnyx's
opt-out management do, until START or UNSTOP: `blocked` says so for a message our app sends.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import nacl.signing

from simulator.telnyx import webhook_bodies
from simulator.telnyx.signing import sign_webhook

# The carriers' (CTIA) keywords, the whole text in any case.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
MESSAGING_PROFILE_ID = "40017f8e-49bd-4f5a-9d1b-3b8c7a1e2f55"


class TextTarget(Protocol):
    signing_key: nacl.signing.SigningKey
    webhook_retries_ms: tuple[int, ...]

    async def post_webhook(
        self, url: str, content: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]: ...


@dataclass
class ReceivedText:
    """One text a person sent to our number, and what our API answered to each delivery."""

    from_number: str
    to_number: str
    text: str
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: float = field(default_factory=time.time)
    statuses: list[int | None] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)


def keyword(text: str) -> str:
    return text.strip().upper() if len(text.split()) == 1 else ""


def message_received(text: ReceivedText, webhook_url: str) -> dict[str, Any]:
    """The webhook's `data`: a message.received event about one SMS."""
    word = keyword(text.text)
    payload = {
        "id": text.message_id,
        "record_type": "message",
        "direction": "inbound",
        "type": "SMS",
        "messaging_profile_id": MESSAGING_PROFILE_ID,
        "from": {"phone_number": text.from_number, "carrier": "T-Mobile USA", "line_type": "Wireless"},
        "to": [
            {
                "phone_number": text.to_number,
                "status": "webhook_delivered",
                "carrier": "Telnyx",
                "line_type": "Wireless",
            }
        ],
        "cc": [],
        "text": text.text,
        "media": [],
        "encoding": "GSM-7",
        "parts": 1,
        "num_chars": len(text.text),
        "tags": [],
        "errors": [],
        "received_at": webhook_bodies.iso_time(text.at),
        "sent_at": None,
        "completed_at": None,
        "valid_until": None,
        "webhook_url": webhook_url,
        "webhook_failover_url": None,
        "autoresponse_type": word if word in STOP_WORDS | START_WORDS else None,
    }
    return webhook_bodies.event("message.received", payload)


async def deliver(target: TextTarget, url: str, text: ReceivedText, *, duplicate: bool = False) -> None:
    """Posts the webhook until answered 2xx or the retries run out; `duplicate` posts it once more after."""
    data = message_received(text, url)
    attempt, delivered = 0, False
    for delay_ms in (0, *target.webhook_retries_ms):
        await asyncio.sleep(delay_ms / 1000)
        attempt += 1
        delivered = await _post(target, url, text, data, attempt)
        if delivered:
            break
    if duplicate:
        await _post(target, url, text, data, attempt + 1)


async def _post(target: TextTarget, url: str, text: ReceivedText, data: dict[str, Any], attempt: int) -> bool:
    raw = json.dumps({"data": data, "meta": {"attempt": attempt, "delivered_to": url}}, sort_keys=True)
    status, error = await target.post_webhook(
        url, raw.encode(), sign_webhook(target.signing_key, raw, str(int(time.time())))
    )
    text.statuses.append(status)
    text.answers.append(error or "")
    return status is not None and 200 <= status < 300

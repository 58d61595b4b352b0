"""The webhooks about one call leg, signed and posted to our API in order, as Telnyx does.

Telnyx delivers at least once: a webhook our API does not answer with 2xx is posted again
(meta.attempt + 1) after each delay of the retry policy, then given up. The call's script can make it worse, as real traffic sometimes is:
duplicated deliveries and swapped neighbours (`Misbehaviour`). A leg's `ended` event is set once
its outbox is drained, so whoever waits for the call sees every delivery in its record.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import nacl.signing

from simulator.call_script import Misbehaviour
from simulator.telnyx import webhook_bodies
from simulator.telnyx.records import SimulatedCall, WebhookDelivery, note_final_transcript_sent
from simulator.telnyx.signing import sign_webhook

# With reorder_events, how long an event is held back waiting for one to swap with.
REORDER_WINDOW_SECONDS = 0.05


class WebhookTarget(Protocol):
    """Where the webhooks go and how: the simulator's settings and its HTTP client."""

    webhook_url: str
    signing_key: nacl.signing.SigningKey
    webhook_retries_ms: tuple[int, ...]  # the delays before each redelivery

    async def send_webhook(self, content: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]: ...


@dataclass(frozen=True)
class QueuedWebhook:
    event_type: str
    data: dict[str, Any]
    turn_index: int | None = None  # set on the webhook that closes a caller turn


_CLOSE = None  # end-of-call marker in the queue


class WebhookOutbox:
    """Queues a leg's webhooks and delivers them, one at a time, from its own task."""

    def __init__(self, target: WebhookTarget, call: SimulatedCall, misbehaviour: Misbehaviour) -> None:
        self.target = target
        self.call = call
        self.misbehaviour = misbehaviour
        self.closed = False
        self._queue: asyncio.Queue[QueuedWebhook | None] = asyncio.Queue()
        self._delivery: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._delivery = asyncio.get_running_loop().create_task(self._deliver_events())

    def post(self, event_type: str, payload: dict[str, Any], turn_index: int | None = None) -> None:
        """Queue a webhook (nothing once closed); the delivery task sends them in order."""
        if self.closed:
            return
        self._queue.put_nowait(QueuedWebhook(event_type, webhook_bodies.event(event_type, payload), turn_index))

    def close(self) -> None:
        """No more webhooks: deliver what is queued, then mark the call ended."""
        self.closed = True
        self._queue.put_nowait(_CLOSE)

    def abort(self) -> asyncio.Task[None] | None:
        """Simulator shutdown: stop delivering now."""
        if self._delivery is not None:
            self._delivery.cancel()
        return self._delivery

    async def _deliver_events(self) -> None:
        try:
            closing = False
            while not closing:
                batch, closing = await self._next_batch()
                for webhook in batch:
                    await self._deliver(webhook)
        finally:
            self.call.ended.set()

    async def _next_batch(self) -> tuple[list[QueuedWebhook], bool]:
        webhook = await self._queue.get()
        if webhook is _CLOSE:
            return [], True
        if not self.misbehaviour.reorder_events:
            return [webhook], False
        await asyncio.sleep(REORDER_WINDOW_SECONDS)
        try:
            follower = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return [webhook], False
        if follower is _CLOSE:
            return [webhook], True
        return [follower, webhook], False

    async def _deliver(self, webhook: QueuedWebhook) -> None:
        """At least once: retry non-2xx answers (and no answer) with meta.attempt + 1 after each delay
        of the retry policy, like Telnyx, then give up."""
        attempt = 1
        delivered = await self._post(webhook, attempt)
        for delay_ms in self.target.webhook_retries_ms:
            if delivered:
                break
            await asyncio.sleep(delay_ms / 1000)
            attempt += 1
            delivered = await self._post(webhook, attempt)
        if self.misbehaviour.duplicate_events:
            await self._post(webhook, attempt + 1)

    async def _post(self, webhook: QueuedWebhook, attempt: int) -> bool:
        body = {"data": webhook.data, "meta": {"attempt": attempt, "delivered_to": self.target.webhook_url}}
        raw = json.dumps(body, sort_keys=True)
        headers = sign_webhook(self.target.signing_key, raw, str(int(time.time())))
        sent_at = time.time()
        if webhook.turn_index is not None:
            note_final_transcript_sent(self.call, webhook.turn_index, sent_at)
        status, error = await self.target.send_webhook(raw.encode(), headers)
        self.call.deliveries.append(
            WebhookDelivery(webhook.event_type, webhook.data["id"], attempt, status, sent_at, time.time(), body, error)
        )
        return status is not None and 200 <= status < 300

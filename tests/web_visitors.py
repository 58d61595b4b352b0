"""A web visitor as a stranger on the internet is one: an HTTP client of `/api/web-calls`, with the
conversation token its start gave (or another, or none), against the API served in-process on a
stack's Temporal, task queue and database, so the stack's worker (offline or LLM brain) answers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.in_process import make_settings, served_api
from tests.test_realtime_session import UNLIMITED


@contextmanager
def web_api(stack: Any, **overrides: object) -> Iterator[str]:
    """An API replica (SECRET_KEY set) on the stack's Temporal, task queue and database; its URL."""
    values: dict[str, object] = {
        "DATABASE_URL": stack.database_url,
        "TEMPORAL_ADDRESS": stack.env["TEMPORAL_ADDRESS"],
        "TEMPORAL_TASK_QUEUE": stack.env["TEMPORAL_TASK_QUEUE"],
        **UNLIMITED,
    }
    with served_api(make_settings(**(values | overrides))) as url:
        yield url


def loopback_client(url: str) -> httpx.AsyncClient:
    """A client from an address of the loopback range of its own, so limits per client count it alone."""
    address = f"127.{random.randrange(10, 250)}.{random.randrange(0, 250)}.{random.randrange(1, 250)}"
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=30)


class WebVisitor:
    """One browser's conversation: started, spoken in, hung up, with its own token unless told otherwise."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.call: dict[str, Any] = {}

    async def start(self, business_id: int) -> httpx.Response:
        response = await self.http.post("/api/web-calls", json={"business_id": business_id})
        if response.status_code == 201:
            self.call = response.json()
        return response

    @property
    def call_id(self) -> str:
        return str(self.call["call_id"])

    @property
    def token(self) -> str:
        return str(self.call["conversation_token"])

    async def say(
        self, text: str, *, call_id: str | None = None, token: str | None = "mine", key: str | bytes | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"text": text}
        if token is not None:
            body["conversation_token"] = self.token if token == "mine" else token
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await self.http.post(f"/api/web-calls/{call_id or self.call_id}/turns", json=body, headers=headers)

    async def reply_to(self, text: str) -> dict[str, Any]:
        response = await self.say(text)
        assert response.status_code == 200, response.text
        reply: dict[str, Any] = response.json()
        return reply

    async def hang_up(self, *, call_id: str | None = None, token: str | None = "mine") -> httpx.Response:
        url = f"/api/web-calls/{call_id or self.call_id}/hangup"
        if token is None:
            return await self.http.post(url)
        return await self.http.post(url, json={"conversation_token": self.token if token == "mine" else token})

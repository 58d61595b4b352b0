"""The fake's SIP side, driven by the real `openai` SDK: a phone call announced by a signed
`realtime.call.incoming` webhook (checked with `client.webhooks.unwrap`), accepted with a session,
its tools run over the control channel while the caller speaks, and transferred with `refer`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest
from websockets.exceptions import ConnectionClosed

from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReplyRule, FakeToolCall
from simulator.fake_openai.server import FakeOpenAIServer
from tests.test_fake_realtime import took_refusals, until

SECRET = "whsec_" + "c2VjcmV0LW9mLXRoZS1wcm9qZWN0LWZvci13ZWJob29rcw=="
TOOL = {
    "type": "function",
    "name": "check_availability",
    "description": "Free times for a service.",
    "parameters": {"type": "object", "properties": {"service": {"type": "string"}}},
}


class Project:
    """The project's webhook endpoint: unwraps with the SDK, 400 for a bad signature."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        client = openai.OpenAI(api_key="server-key", webhook_secret=SECRET)
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                try:
                    events.append(client.webhooks.unwrap(body, dict(self.headers.items())))
                    self.send_response(200)
                except openai.InvalidWebhookSignatureError:
                    self.send_response(400)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/openai/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def project() -> Iterator[Project]:
    endpoint = Project()
    yield endpoint
    endpoint.server.shutdown()


async def ring(fake: FakeOpenAIServer, project: Project, **how: object) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{fake.url}/_fake/realtime/sip/incoming", json={"webhook_url": project.url, "secret": SECRET, **how}
        )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


async def test_an_incoming_call_is_accepted_its_tools_run_over_the_control_channel_and_it_is_referred(
    fake_realtime: FakeOpenAIServer, project: Project
) -> None:
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(
            rules=[
                FakeReplyRule(
                    contains="free times",
                    tool_call=FakeToolCall(name="check_availability", arguments={"service": "Cleaning"}),
                )
            ]
        )
    )
    rang = await ring(fake_realtime, project)
    assert rang["webhook_status"] == 200
    [event] = project.events
    assert event.type == "realtime.call.incoming" and event.data.call_id == rang["call_id"]
    call_id = event.data.call_id

    server = openai.AsyncOpenAI(api_key="server-key", base_url=fake_realtime.base_url, max_retries=0)
    await server.realtime.calls.accept(
        call_id,
        type="realtime",
        instructions="You are the receptionist of Bright Smile Dental.",
        audio={"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
        tools=[TOOL],  # type: ignore[list-item]
    )
    async with server.realtime.connect(call_id=call_id) as control:
        async with httpx.AsyncClient() as client:
            said = await client.post(
                f"{fake_realtime.url}/_fake/realtime/sip/{call_id}/say",
                json={"words": "Do you have free times for a cleaning?"},
            )
        assert said.json() == {"heard": True}
        heard = await until(control, "response.done")
        asked = next(e for e in heard if e["type"] == "response.function_call_arguments.done")
        assert (asked["name"], json.loads(asked["arguments"])) == ("check_availability", {"service": "Cleaning"})
        await control.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": asked["call_id"], "output": "Tuesday 10:00"},
            }
        )
        await control.send({"type": "response.create"})
        done = [e for e in await until(control, "response.done") if e["type"] == "response.done"][-1]
        assert done["response"]["output"][0]["content"][0]["transcript"] == "Done: Tuesday 10:00."

        await server.realtime.calls.refer(call_id, target_uri="tel:+15550123")
        with pytest.raises(ConnectionClosed):
            await until(control, "never.sent")

    [call] = fake_realtime.fake.realtime.snapshot()["calls"]
    assert (call["created_with"], call["sip_status"], call["referred_to"]) == ("sip", "referred", "tel:+15550123")


@pytest.mark.parametrize("how", [{"forged": True}, {"stale": True}])
async def test_a_forged_or_stale_webhook_is_refused_by_the_sdk(
    fake_realtime: FakeOpenAIServer, project: Project, how: dict
) -> None:
    rang = await ring(fake_realtime, project, **how)
    assert rang["webhook_status"] == 400 and project.events == []


async def test_accepting_with_a_beta_shaped_session_is_refused(
    fake_realtime: FakeOpenAIServer, project: Project
) -> None:
    call_id = (await ring(fake_realtime, project))["call_id"]
    server = openai.AsyncOpenAI(api_key="server-key", base_url=fake_realtime.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        await server.realtime.calls.accept(call_id, type="realtime", extra_body={"voice": "alloy"})
    assert refused.value.param == "voice"
    took_refusals(fake_realtime)
    await server.realtime.calls.reject(call_id)
    [call] = fake_realtime.fake.realtime.snapshot()["calls"]
    assert call["sip_status"] == "rejected"


async def test_a_reject_or_refer_outside_the_sdks_parameters_is_refused(
    fake_realtime: FakeOpenAIServer, project: Project
) -> None:
    """`CallRejectParams` and `CallReferParams`, strictly: an unknown parameter, a status code as a string and a
    refer with no target are what the service refuses; the call is left as it was."""
    call_id = (await ring(fake_realtime, project))["call_id"]
    server = openai.AsyncOpenAI(api_key="server-key", base_url=fake_realtime.base_url, max_retries=0)
    refused = []
    for send in (
        lambda: server.realtime.calls.reject(call_id, extra_body={"reason": "busy"}),
        lambda: server.realtime.calls.reject(call_id, extra_body={"status_code": "603"}),
        lambda: server.post(f"/realtime/calls/{call_id}/refer", body={}, cast_to=httpx.Response),
    ):
        with pytest.raises(openai.BadRequestError) as error:
            await send()
        refused.append(error.value.param)
    assert refused == ["reason", "status_code", "target_uri"]
    took_refusals(fake_realtime)
    [call] = fake_realtime.fake.realtime.snapshot()["calls"]
    assert call["sip_status"] == "ringing"

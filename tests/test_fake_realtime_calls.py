"""The fake's unified interface, driven by the real `openai` SDK: a server creates a WebRTC call
from a browser's SDP offer with its own key (`calls.create`, multipart), learns the call id from
`Location`, joins the call's control channel (`realtime.connect(call_id=...)`) and hangs up
(`calls.hangup`). The "browser" is an aiortc peer in the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from websockets.exceptions import ConnectionClosed, InvalidStatus

from simulator.fake_openai.server import FakeOpenAIServer
from tests.test_fake_realtime import took_refusals, until

SESSION = {"type": "realtime", "instructions": "You are the receptionist of Bright Smile Dental."}


class Browser:
    """The page's side: a peer connection with the "oai-events" data channel, events as they come."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.channel.on("message", lambda message: self.events.put_nowait(json.loads(message)))
        self.channel.on("close", self.closed.set)

    async def offer(self) -> str:
        self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def next(self, kind: str) -> dict[str, Any]:
        async with asyncio.timeout(30):
            while (event := await self.events.get())["type"] != kind:
                pass
        return event


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    page = Browser()
    yield page
    await page.pc.close()


@pytest.fixture
def server_client(fake_realtime: FakeOpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="server-key", base_url=fake_realtime.base_url, max_retries=0)


async def test_the_server_creates_the_call_joins_its_control_channel_and_hangs_up(
    browser: Browser, server_client: openai.AsyncOpenAI, fake_realtime: FakeOpenAIServer
) -> None:
    created = await server_client.realtime.calls.with_raw_response.create(sdp=await browser.offer(), session=SESSION)
    assert created.status_code == 201
    call_id = created.headers["location"].rsplit("/", 1)[-1]
    await browser.answer(created.text)
    session = (await browser.next("session.created"))["session"]
    assert session["instructions"] == SESSION["instructions"]

    async with server_client.realtime.connect(call_id=call_id) as control:
        # The control channel's events reach the call: the browser hears the session change...
        await control.send({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}})
        assert (await until(control, "session.updated"))[-1]["session"]["instructions"] == "Be brief."
        assert (await browser.next("session.updated"))["session"]["instructions"] == "Be brief."
        # ...and what the browser starts, the control channel hears.
        browser.channel.send(
            json.dumps({"type": "response.create", "response": {"instructions": "Say exactly these words: Hello."}})
        )
        done = (await until(control, "response.done"))[-1]
        assert done["response"]["output"][0]["content"][0]["transcript"] == "Hello."

        await server_client.realtime.calls.hangup(call_id)
        async with asyncio.timeout(30):
            await browser.closed.wait()
        with pytest.raises(ConnectionClosed):
            await until(control, "never.sent")

    [call] = fake_realtime.fake.realtime.snapshot()["calls"]
    assert (call["created_with"], call["control_channels"], call["hung_up"]) == ("api_key", 1, True)
    assert call["secret"] is None  # no client secret was ever made
    assert fake_realtime.fake.realtime.secrets == {}


async def test_a_beta_shaped_session_is_refused_and_no_call_starts(
    browser: Browser, server_client: openai.AsyncOpenAI, fake_realtime: FakeOpenAIServer
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await server_client.realtime.calls.create(sdp=await browser.offer(), session={**SESSION, "voice": "alloy"})  # type: ignore[typeddict-unknown-key]
    assert refused.value.param == "session.voice" and refused.value.code == "unknown_parameter"
    assert [c["status_code"] for c in fake_realtime.fake.realtime.snapshot()["calls"]] == [400]
    took_refusals(fake_realtime)


async def test_no_control_channel_or_hangup_for_an_unknown_call(server_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await server_client.realtime.calls.hangup("rtc_nobody")
    with pytest.raises(InvalidStatus):  # the upgrade itself is refused
        async with server_client.realtime.connect(call_id="rtc_nobody"):
            pass

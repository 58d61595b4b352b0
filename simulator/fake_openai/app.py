"""The fake OpenAI server's app: the OpenAI endpoints it fakes and the ``/_fake/...`` control API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from simulator.fake_openai.behaviour import FakeLLMBehaviour
from simulator.fake_openai.chat_completions import install_chat_completions
from simulator.fake_openai.outage import OutageRequest
from simulator.fake_openai.realtime_api import install_realtime_api
from simulator.fake_openai.state import FakeOpenAI


def create_fake_openai_app(behaviour: FakeLLMBehaviour | None = None) -> FastAPI:
    """Builds the fake server; its state is on ``app.state.fake`` (a ``FakeOpenAI``)."""
    app = FastAPI(title="CloudGreet fake OpenAI", docs_url=None, redoc_url=None, openapi_url=None)
    fake = FakeOpenAI(behaviour)
    app.state.fake = fake

    install_chat_completions(app, fake)
    install_realtime_api(app, fake)

    @app.get("/_fake/requests")
    async def get_requests() -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in list(fake.requests)]

    @app.delete("/_fake/requests")
    async def clear_requests() -> dict[str, Any]:
        fake.clear_requests()
        return {"cleared": True}

    @app.get("/_fake/behaviour")
    async def get_behaviour() -> FakeLLMBehaviour:
        return fake.behaviour

    @app.put("/_fake/behaviour")
    async def put_behaviour(new: FakeLLMBehaviour) -> FakeLLMBehaviour:
        fake.set_behaviour(new)
        return new

    @app.post("/_fake/outage", status_code=201)
    async def begin_outage(request: OutageRequest) -> dict[str, Any]:
        outage = fake.begin_outage(request)
        return {"kind": outage.kind, "started_at": outage.started_at, "seconds": request.seconds}

    @app.delete("/_fake/outage")
    async def end_outage() -> dict[str, Any]:
        fake.end_outage()
        return {"ended": True}

    return app

"""The FastAPI application: `create_app(settings)` builds it; `cloudgreet api` serves it."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import admin_api, admin_pages, health, metrics_endpoint, telnyx_webhooks, web_conversations
from api import demo_pages, realtime_session, realtime_tools
from api.dependencies import TemporalConnection
from api.telnyx_webhooks import WebhookVerifier
from cloudgreet.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        yield

    app = FastAPI(title="CloudGreet", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.temporal = TemporalConnection(settings)
    app.state.call_router = None
    app.state.webhook_verifier = WebhookVerifier(settings.telnyx_public_key)
    app.include_router(telnyx_webhooks.router)
    app.include_router(health.router)
    app.include_router(web_conversations.router)
    # Operations (issue 5): /metrics, the admin JSON API, the admin pages and their static files.
    app.include_router(metrics_endpoint.router)
    app.include_router(admin_api.router)
    app.include_router(admin_pages.public)
    app.include_router(admin_pages.pages)
    app.mount("/admin/static", StaticFiles(directory=admin_pages.STATIC_DIR), name="admin-static")
    # The browser path (issue 4): Realtime sessions, their tools, the /demo and /test-agent-simple pages.
    app.include_router(realtime_session.router)
    app.include_router(realtime_tools.router)
    app.include_router(demo_pages.api)
    app.include_router(demo_pages.pages)
    app.mount("/demo/static", StaticFiles(directory=demo_pages.STATIC_DIR), name="demo-static")
    return app

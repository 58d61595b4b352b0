"""The FastAPI application: `create_app(settings)` builds it; `cloudgreet api` serves it."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import (
    admin_api,
    admin_calendar,
    admin_numbers,
    admin_pages,
    admin_recordings,
    admin_replays,
    call_me,
    demo_pages,
    health,
    messaging_webhooks,
    metrics_endpoint,
    openai_webhooks,
    realtime_session,
    realtime_tools,
    reply_playback,
    telnyx_webhooks,
    web_conversations,
)
from api.browser_calls import BrowserCalls
from api.database_errors import answer_database_outages_with_503
from api.input_bounds import MAX_BODY_BYTES
from api.last_rung import running_last_rung
from api.reply_windows import ReplyWindows
from api.temporal_client import TemporalConnection
from api.upstream_errors import answer_upstream_failures_plainly
from api.webhook_verification import WebhookVerifier
from runtime.collector import collect_from_here
from runtime.settings import Settings, get_settings
from runtime.tracing import start_tracing, trace_requests


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Issue 10: the API answers calls itself while Temporal is unreachable, and hands the promises over.
        async with running_last_rung(app):
            collect_from_here()  # the app is built and started: what exists now lives as long as the process
            yield
            await app.state.browser_calls.close()  # the browser demo's calls: hung up, not left running
            if app.state.call_router is not None:
                await app.state.call_router.close()  # held webhooks (api/held_events.py)

    # Any route answers these before it sees the body: the schema says so.
    bad_body = {
        400: {"description": "The body is not JSON (or not UTF-8)"},
        413: {"description": f"The body is over {MAX_BODY_BYTES} bytes (webhooks: WEBHOOK_MAX_BODY_BYTES)"},
    }
    app = FastAPI(
        title="CloudGreet",
        version="0.1.0",
        lifespan=lifespan,
        responses=bad_body,
        max_body_size=max(MAX_BODY_BYTES, settings.webhook_max_body_bytes),
    )
    app.state.settings = settings
    start_tracing(settings, "cloudgreet-api")
    trace_requests(app, settings)
    app.state.temporal = TemporalConnection(settings)
    app.state.call_router = None
    app.state.reply_windows = ReplyWindows()  # shared by the call router and api/reply_playback.py
    app.state.browser_calls = BrowserCalls()
    app.state.webhook_verifier = WebhookVerifier(settings.telnyx_public_key)
    answer_upstream_failures_plainly(app)
    app.state.last_rung = None  # set while the app runs (lifespan)
    answer_database_outages_with_503(app)
    app.include_router(telnyx_webhooks.router)
    app.include_router(messaging_webhooks.router)
    app.include_router(openai_webhooks.router)
    app.include_router(health.router)
    app.include_router(web_conversations.router)
    # Operations (issue 5): /metrics, the admin JSON API, the admin pages and their static files.
    app.include_router(metrics_endpoint.router)
    app.include_router(admin_api.router)
    app.include_router(admin_pages.public)
    app.include_router(admin_pages.pages)
    app.include_router(admin_numbers.api)
    app.include_router(admin_recordings.api)
    app.include_router(admin_recordings.pages)
    app.include_router(admin_replays.api)
    app.include_router(admin_calendar.api)
    app.include_router(admin_calendar.pages)
    app.mount("/admin/static", StaticFiles(directory=admin_pages.STATIC_DIR), name="admin-static")
    # The browser path (issue 4): Realtime sessions, their tools, the /demo and /test-agent-simple pages.
    app.include_router(realtime_session.router)
    app.include_router(realtime_tools.router)
    app.include_router(reply_playback.router)
    app.include_router(call_me.router)
    app.include_router(demo_pages.api)
    app.include_router(demo_pages.pages)
    app.mount("/demo/static", StaticFiles(directory=demo_pages.STATIC_DIR), name="demo-static")
    return app

"""Typed FastAPI dependencies: the settings, the database session, the call router, webhook verification."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.call_routing import CallRouter
from api.webhook_verification import WebhookVerifier
from database.engine import get_engine
from runtime.settings import Settings


# Dependencies that only read app.state are `async def`: FastAPI runs a plain `def` one in a thread
# of its pool, a hop per dependency per webhook (~14% of the API's CPU under load, py-spy).
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with Session(get_engine(request.app.state.settings.database_url)) as session:
        yield session


async def get_call_router(request: Request) -> CallRouter:
    state = request.app.state
    if state.call_router is None:
        # Connects on first delivery, so a webhook is verified and parsed even while Temporal is down.
        state.call_router = CallRouter(
            state.temporal,
            state.settings.temporal_task_queue,
            state.settings.secret_key,
            history_event_limit=state.settings.call_history_event_limit,
            hold_playback=state.settings.hold_playback_events,
            reply_windows=state.reply_windows,
        )
    return state.call_router


async def get_webhook_verifier(request: Request) -> WebhookVerifier:
    return request.app.state.webhook_verifier


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_db)]
CallRouterDep = Annotated[CallRouter, Depends(get_call_router)]
WebhookVerifierDep = Annotated[WebhookVerifier, Depends(get_webhook_verifier)]

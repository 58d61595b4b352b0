"""Typed FastAPI dependencies: the settings, the database session, Temporal, webhook verification."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cloudgreet.settings import Settings
from cloudgreet.temporal_connection import connect_temporal
from database.engine import get_engine

if TYPE_CHECKING:
    from api.call_routing import CallRouter
    from api.telnyx_webhooks import WebhookVerifier


class TemporalConnection:
    """Connects on first use and again after a failure, so the API starts even while Temporal is down."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    try:
                        self._client = await connect_temporal(self._settings)
                    except RuntimeError as error:  # the SDK reports a failed connection as RuntimeError
                        raise RPCError(str(error), RPCStatusCode.UNAVAILABLE, b"") from error
        return self._client


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with Session(get_engine(request.app.state.settings.database_url)) as session:
        yield session


async def get_call_router(request: Request) -> "CallRouter":
    from api.call_routing import CallRouter

    state = request.app.state
    if state.call_router is None:
        # Connects on first delivery, so a webhook is verified and parsed even while Temporal is down.
        state.call_router = CallRouter(state.temporal, state.settings.temporal_task_queue)
    return state.call_router


def get_webhook_verifier(request: Request) -> "WebhookVerifier":
    return request.app.state.webhook_verifier


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_db)]
CallRouterDep = Annotated["CallRouter", Depends(get_call_router)]
WebhookVerifierDep = Annotated["WebhookVerifier", Depends(get_webhook_verifier)]

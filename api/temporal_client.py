"""The API's one Temporal client, connected on first use, so the API starts even while Temporal is down."""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from runtime.settings import Settings
from runtime.temporal_connection import connect_temporal


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

"""`GET /api/health`: Temporal, the database, Telnyx and OpenAI, each with its status."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from database.engine import get_engine

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0


class DependencyHealth(BaseModel):
    status: Literal["up", "down", "not configured", "configured"]
    latency_ms: float | None = None
    detail: str | None = None


class Health(BaseModel):
    status: Literal["up", "down"]
    dependencies: dict[str, DependencyHealth]


async def _timed(check) -> DependencyHealth:  # noqa: ANN001
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001  (any failure of a dependency is reported, not raised)
        detail = f"no answer within {CHECK_TIMEOUT_SECONDS:.0f}s" if isinstance(error, TimeoutError) else str(error)
        return DependencyHealth(status="down", latency_ms=_ms(started), detail=detail[:300])
    return DependencyHealth(status="up", latency_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@router.get("/api/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    temporal = request.app.state.temporal

    async def temporal_check() -> None:
        client = await temporal.client()
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=settings.temporal_namespace))

    async def database_check() -> None:
        def query() -> None:
            with get_engine(settings.database_url).connect() as connection:
                connection.execute(text("SELECT 1"))

        await asyncio.to_thread(query)

    temporal_health, database_health = await asyncio.gather(_timed(temporal_check), _timed(database_check))
    dependencies = {
        "temporal": temporal_health,
        "database": database_health,
        # Reaching Telnyx and OpenAI with the key is checked by the operations work; here: is a key set.
        "telnyx": DependencyHealth(status="configured" if settings.telnyx_api_key else "not configured"),
        "openai": DependencyHealth(status="configured" if settings.openai_api_key else "not configured"),
    }
    required_up = temporal_health.status == "up" and database_health.status == "up"
    body = Health(status="up" if required_up else "down", dependencies=dependencies)
    return JSONResponse(status_code=200 if required_up else 503, content=body.model_dump())

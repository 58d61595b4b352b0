"""Health for monitors and orchestrators.

* `GET /api/health`: Temporal (the namespace answers), the database (a query), Telnyx (the
  balance, an authenticated GET) and OpenAI (the model list), checked at once, each within
  HEALTH_CHECK_TIMEOUT_SECONDS. 200 when everything required is up, 503 naming what is down.
  Telnyx and OpenAI are required when they are configured; without a key they are
  "not configured", which is a choice, not an outage (no key: the offline responder answers).
* `GET /api/health/ready`: can this replica take webhooks? Temporal and the database only, so
  a Telnyx or OpenAI outage does not take every replica out of the load balancer.
* `GET /api/health/live`: the process answers; no dependency is asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Literal

import openai
import telnyx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from cloudgreet.settings import Settings
from database.engine import get_engine

router = APIRouter(tags=["operations"])

Status = Literal["up", "down", "not configured"]


class DependencyHealth(BaseModel):
    status: Status
    required: bool = Field(description="Whether this dependency being down makes the whole service down")
    latency_ms: float | None = None
    detail: str | None = None


class Health(BaseModel):
    status: Literal["up", "down"]
    down: list[str] = Field(default_factory=list, description="The required dependencies that are down")
    dependencies: dict[str, DependencyHealth]


class Liveness(BaseModel):
    status: Literal["up"] = "up"


class DependencyChecks:
    """One check per dependency, with SDK clients made once per app and never retried."""

    def __init__(self, app: FastAPI) -> None:
        settings: Settings = app.state.settings
        self._settings = settings
        self._temporal = app.state.temporal
        self._timeout = settings.health_check_timeout_seconds
        # The SDKs' own retries would outlast the check's deadline; one attempt says what we need.
        self._telnyx = (
            telnyx.AsyncTelnyx(
                api_key=settings.telnyx_api_key, base_url=settings.telnyx_base_url, max_retries=0, timeout=self._timeout
            )
            if settings.telnyx_api_key
            else None
        )
        self._openai = (
            openai.AsyncOpenAI(
                api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=0, timeout=self._timeout
            )
            if settings.openai_api_key
            else None
        )

    @classmethod
    def of(cls, app: FastAPI) -> "DependencyChecks":
        checks = getattr(app.state, "dependency_checks", None)
        if checks is None:
            checks = app.state.dependency_checks = cls(app)
        return checks

    async def temporal(self) -> None:
        client = await self._temporal.client()
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=self._settings.temporal_namespace), timeout=timedelta(seconds=self._timeout)
        )

    async def database(self) -> None:
        def query() -> None:
            with get_engine(self._settings.database_url).connect() as connection:
                connection.execute(text("SELECT 1"))

        await asyncio.to_thread(query)

    async def telnyx(self) -> None:
        await self._telnyx.balance.retrieve()

    async def openai(self) -> None:
        await self._openai.models.list()

    async def run(self, names: tuple[str, ...]) -> dict[str, DependencyHealth]:
        configured = {"temporal": True, "database": True, "telnyx": self._telnyx is not None, "openai": self._openai is not None}
        results = await asyncio.gather(
            *(self._timed(getattr(self, name)) if configured[name] else _not_configured() for name in names)
        )
        return dict(zip(names, results, strict=True))

    async def _timed(self, check: Callable[[], Awaitable[None]]) -> DependencyHealth:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), self._timeout)
        except Exception as error:  # noqa: BLE001  (any failure of a dependency is reported, not raised)
            return DependencyHealth(status="down", required=True, latency_ms=_ms(started), detail=self._explain(error))
        return DependencyHealth(status="up", required=True, latency_ms=_ms(started))

    def _explain(self, error: Exception) -> str:
        if isinstance(error, (TimeoutError, openai.APITimeoutError, telnyx.APITimeoutError)):
            return f"no answer within {self._timeout:g}s"
        if isinstance(error, (openai.AuthenticationError, telnyx.AuthenticationError)):
            return "the API key was refused (HTTP 401)"
        if isinstance(error, (openai.APIStatusError, telnyx.APIStatusError)):
            return f"answered HTTP {error.status_code}"
        if isinstance(error, (openai.APIConnectionError, telnyx.APIConnectionError)):
            cause = error.__cause__ or error
            return f"unreachable: {cause}"[:300]
        return (str(error) or type(error).__name__)[:300]


async def _not_configured() -> DependencyHealth:
    return DependencyHealth(status="not configured", required=False, detail="no API key is set")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _answer(dependencies: dict[str, DependencyHealth]) -> JSONResponse:
    down = [name for name, health in dependencies.items() if health.required and health.status != "up"]
    body = Health(status="down" if down else "up", down=down, dependencies=dependencies)
    return JSONResponse(status_code=503 if down else 200, content=body.model_dump())


@router.get(
    "/api/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A required dependency is down; `down` names it"}},
)
async def health(request: Request) -> JSONResponse:
    """Temporal, database, Telnyx and OpenAI, each with its status and latency."""
    return _answer(await DependencyChecks.of(request.app).run(("temporal", "database", "telnyx", "openai")))


@router.get(
    "/api/health/ready",
    response_model=Health,
    responses={503: {"model": Health, "description": "Temporal or the database is down"}},
)
async def readiness(request: Request) -> JSONResponse:
    """Whether this replica can take webhooks: Temporal and the database answer."""
    return _answer(await DependencyChecks.of(request.app).run(("temporal", "database")))


@router.get("/api/health/live", response_model=Liveness)
async def liveness() -> Liveness:
    """The process is alive and serving; no dependency is asked."""
    return Liveness()

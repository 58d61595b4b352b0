"""Health for monitors and orchestrators, and its details for the admin.

* `GET /api/health` (public): Temporal (the namespace answers), the database (a query), Telnyx
  (the balance, an authenticated GET) and OpenAI (the model list), checked at once, each within
  HEALTH_CHECK_TIMEOUT_SECONDS. 200 when everything required is up, 503 naming what is down.
  It says only up, down or "not configured" per dependency, and answers every caller from one
  result at most HEALTH_CACHE_SECONDS old, checked by one request at a time: anonymous requests
  cannot make the server call Telnyx and OpenAI with its keys on every hit, nor read why a
  dependency failed (error text names hosts, ports and the like).
  Telnyx and OpenAI are required when they are configured; without a key they are
  "not configured", which is a choice, not an outage (no key: the offline responder answers).
* `GET /api/admin/health` (admin only, api/admin_api.py): the same checks, run now, with each
  dependency's latency and why it is down.
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

from database.engine import get_engine
from runtime.settings import Settings

router = APIRouter(tags=["operations"])

Status = Literal["up", "down", "not configured"]
EVERY_DEPENDENCY = ("temporal", "database", "telnyx", "openai")


class DependencyHealth(BaseModel):
    status: Status
    required: bool = Field(description="Whether this dependency being down makes the whole service down")
    latency_ms: float | None = None
    detail: str | None = None


class Health(BaseModel):
    status: Literal["up", "down"]
    down: list[str] = Field(default_factory=list, description="The required dependencies that are down")
    dependencies: dict[str, DependencyHealth]


class PublicHealth(BaseModel):
    status: Literal["up", "down"]
    down: list[str] = Field(default_factory=list, description="The required dependencies that are down")
    dependencies: dict[str, Status] = Field(description="Each dependency's status, without details")


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
    def of(cls, app: FastAPI) -> DependencyChecks:
        checks = getattr(app.state, "dependency_checks", None)
        if checks is None:
            checks = app.state.dependency_checks = cls(app)
        return checks

    async def temporal(self) -> None:
        client = await self._temporal.client()
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=self._settings.temporal_namespace),
            timeout=timedelta(seconds=self._timeout),
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
        configured = {
            "temporal": True,
            "database": True,
            "telnyx": self._telnyx is not None,
            "openai": self._openai is not None,
        }
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


class CachedHealth:
    """The last check of every dependency, shared by all public callers while it is fresh.

    One request checks while the others wait for its result (a lock, not a check each), so a
    burst of anonymous requests costs one call to Telnyx and one to OpenAI per HEALTH_CACHE_SECONDS.
    A few lines of our own rather than a caching library: the one thing cached is this result.
    """

    def __init__(self, checks: DependencyChecks, max_age_seconds: float) -> None:
        self._checks = checks
        self._max_age = max_age_seconds
        self._lock = asyncio.Lock()
        self._result: dict[str, DependencyHealth] | None = None
        self._checked_at = 0.0

    @classmethod
    def of(cls, app: FastAPI) -> CachedHealth:
        cached = getattr(app.state, "cached_health", None)
        if cached is None:
            cached = app.state.cached_health = cls(DependencyChecks.of(app), app.state.settings.health_cache_seconds)
        return cached

    def _fresh(self) -> dict[str, DependencyHealth] | None:
        if self._result is not None and time.monotonic() - self._checked_at < self._max_age:
            return self._result
        return None

    async def result(self) -> dict[str, DependencyHealth]:
        if (fresh := self._fresh()) is not None:
            return fresh
        async with self._lock:
            if (fresh := self._fresh()) is not None:  # checked by the request this one waited for
                return fresh
            self._result = await self._checks.run(EVERY_DEPENDENCY)
            self._checked_at = time.monotonic()
            return self._result


async def _not_configured() -> DependencyHealth:
    return DependencyHealth(status="not configured", required=False, detail="no API key is set")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def health_report(dependencies: dict[str, DependencyHealth]) -> Health:
    down = [name for name, health in dependencies.items() if health.required and health.status != "up"]
    return Health(status="down" if down else "up", down=down, dependencies=dependencies)


def _answer(dependencies: dict[str, DependencyHealth]) -> JSONResponse:
    body = health_report(dependencies)
    return JSONResponse(status_code=503 if body.down else 200, content=body.model_dump())


@router.get(
    "/api/health",
    response_model=PublicHealth,
    responses={503: {"model": PublicHealth, "description": "A required dependency is down; `down` names it"}},
)
async def health(request: Request) -> JSONResponse:
    """Temporal, database, Telnyx and OpenAI: up, down or not configured, checked at most every
    HEALTH_CACHE_SECONDS. The details (latency, why) are at /api/admin/health."""
    report = health_report(await CachedHealth.of(request.app).result())
    body = PublicHealth(
        status=report.status,
        down=report.down,
        dependencies={name: dependency.status for name, dependency in report.dependencies.items()},
    )
    return JSONResponse(status_code=503 if body.down else 200, content=body.model_dump())


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

"""What a client hears when Temporal, OpenAI, the database or Telnyx fails: a plain sentence about
its request or "try again later", with a reference. The upstream's own words (hosts and ports,
account, project and model names, SQL) go only to the log, under the same reference, where an
operator finds them from what the visitor reports.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from temporalio.service import RPCError

TRY_AGAIN_LATER = "try again later"
RETRY_AFTER_SECONDS = 5
SERVICE_DOWN = f"The service is busy or down; {TRY_AGAIN_LATER}"


def _log_failure(upstream: str, error: BaseException, **context: Any) -> str:
    reference = uuid.uuid4().hex[:12]
    # A logger fetched per failure: rare, and it always goes through the configuration in force.
    structlog.get_logger(__name__).warning(
        "upstream failed",
        upstream=upstream,
        reference=reference,
        error=f"{type(error).__name__}: {error}",
        cause=repr(error.__cause__) if error.__cause__ else None,
        **context,
    )
    return reference


def upstream_failure(
    status_code: int, sentence: str, upstream: str, error: BaseException, **context: Any
) -> HTTPException:
    """The HTTPException to raise: `sentence` and a reference for the client, `error` in the log."""
    reference = _log_failure(upstream, error, **context)
    return HTTPException(status_code, f"{sentence} (reference {reference})")


def unavailable(upstream: str, sentence: str):
    async def handler(request: Request, error: Exception) -> JSONResponse:
        reference = _log_failure(upstream, error, method=request.method, path=request.url.path)
        return JSONResponse(
            status_code=503,
            content={"detail": f"{sentence} (reference {reference})"},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    return handler


def answer_upstream_failures_plainly(app: FastAPI) -> None:
    """For a Temporal or database failure that no route catches: 503 and a sentence, not a bare 500."""
    app.add_exception_handler(RPCError, unavailable("temporal", f"The service is busy or down; {TRY_AGAIN_LATER}"))
    app.add_exception_handler(
        OperationalError, unavailable("database", f"The service is busy or down; {TRY_AGAIN_LATER}")
    )

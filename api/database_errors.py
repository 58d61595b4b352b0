"""A database that cannot answer in time is a 503 that says so, not a 500 and not a request that hangs.

database/engine.py bounds every call (connecting, each statement, the wait for a pooled connection);
what those bounds raise, and a database that refuses us, ends up in the same answer as any upstream
failure (api/upstream_errors.py): a sentence, a reference and Retry-After for the client, the driver's
reason in the log.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.upstream_errors import SERVICE_DOWN, unavailable


def answer_database_outages_with_503(app: FastAPI) -> None:
    for error_type in (OperationalError, PoolTimeout):
        app.add_exception_handler(error_type, unavailable("database", SERVICE_DOWN))

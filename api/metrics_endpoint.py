"""`GET /metrics`: this API process's Prometheus metrics (webhooks received and rejected)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from runtime.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics() -> Response:
    """Prometheus text format. Scrape it from inside the deployment; the proxy does not publish it."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

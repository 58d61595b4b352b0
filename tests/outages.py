"""Tools for doing damage in tests: a Temporal dev server the test stops and starts again on the same
data, and a load balancer that spreads requests over API replicas, one request each in turn.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloudgreet.dev_stack import temporal_cli, wait_for_temporal
from simulator.serving import UvicornThread
from tests.conftest import free_port

STOP_TIMEOUT_SECONDS = 20


class TemporalDevServer:
    """`temporal server start-dev` on a database file that outlives a stop, on the same ports each time."""

    def __init__(self, db_file: Path, log_file: Path) -> None:
        self.db_file = db_file
        self.log_file = log_file
        self.port = free_port()
        self._other_ports = [free_port(), free_port()]
        self._process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        http_port, metrics_port = self._other_ports
        command = [
            temporal_cli(), "server", "start-dev", "--headless", "--log-level", "error",
            "--db-filename", str(self.db_file), "--ip", "127.0.0.1", "--port", str(self.port),
            "--http-port", str(http_port), "--metrics-port", str(metrics_port),
        ]  # fmt: skip
        log = open(self.log_file, "ab")  # noqa: SIM115  (the server writes it for its whole life)
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for_temporal(self.port, timeout=60, process=self._process)

    def stop(self) -> None:
        """As an outage: the server goes away and every connection to it with it."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class RoundRobinBalancer:
    """An HTTP load balancer in front of API replicas: each request goes to the next replica in turn,
    as a proxy spreading Telnyx's webhooks over replicas would. `served` says who got what."""

    def __init__(self, backends: list[str]) -> None:
        self._backends = itertools.cycle(backends)
        self.served: list[tuple[str, str]] = []  # (path, backend)
        self._client: httpx.AsyncClient | None = None
        app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])
        self._server = UvicornThread(app, name="round-robin")

    @property
    def url(self) -> str:
        return self._server.url

    async def _forward(self, request: Request) -> Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60)
        backend = next(self._backends)
        self.served.append((request.url.path, backend))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = await self._client.request(
            request.method, backend + request.url.path, content=await request.body(), headers=headers
        )
        return Response(answer.content, answer.status_code, media_type=answer.headers.get("content-type"))

    def __enter__(self) -> RoundRobinBalancer:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._client is not None:
            self._server.submit(self._client.aclose()).result(10)
        self._server.stop()

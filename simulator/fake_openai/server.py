"""Serving the fake: beside a test in a background thread, or until interrupted for the dev stack."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import uvicorn

from simulator.fake_openai.app import create_fake_openai_app
from simulator.fake_openai.behaviour import FakeLLMBehaviour
from simulator.fake_openai.state import FakeOpenAI
from simulator.serving import UvicornThread


def run_fake_openai(host: str, port: int, behaviour: FakeLLMBehaviour | None = None) -> None:
    """Serves the fake until interrupted; for the local dev stack (``python -m simulator.fake_openai``)."""
    uvicorn.run(create_fake_openai_app(behaviour), host=host, port=port, log_level="info", lifespan="off")


class FakeOpenAIServer:
    """Runs the fake on a free port of 127.0.0.1 in a background thread, for tests and benchmarks.

    Use as ``with FakeOpenAIServer() as server:`` (or ``async with``, which starts and stops off
    the event loop) and point the SDK at ``server.base_url``.
    """

    def __init__(
        self,
        behaviour: FakeLLMBehaviour | None = None,
        *,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 2.0,
        log_level: str = "warning",
    ) -> None:
        self.app = create_fake_openai_app(behaviour)
        self.fake: FakeOpenAI = self.app.state.fake
        self._startup_timeout = startup_timeout
        # Bounds how long stop() waits for in-flight requests (e.g. a simulated hang) before cancelling them.
        self._shutdown_timeout = shutdown_timeout
        self._runner = UvicornThread(
            self.app,
            name="fake-openai",
            log_level=log_level,
            log_config=None,  # leaves the host process's logging set-up (e.g. pytest's) untouched
            lifespan="off",
            timeout_graceful_shutdown=shutdown_timeout,
        )

    @property
    def host(self) -> str:
        return self._runner.host

    @property
    def port(self) -> int:
        return self._runner.port

    @property
    def url(self) -> str:
        """The server root, where the ``/_fake/...`` control endpoints live."""
        return self._runner.url

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``."""
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAIServer:
        self._runner.start(self._startup_timeout)
        return self

    def stop(self) -> None:
        # A client still waiting on a simulated hang would otherwise hold up the shutdown.
        self.fake.release_hangs()
        self._runner.stop(self._shutdown_timeout + 5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.fake_openai", description="Serve a fake OpenAI-compatible chat API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--first-token-delay-ms", type=float, default=0.0)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    behaviour = FakeLLMBehaviour(first_token_delay_ms=args.first_token_delay_ms, chunk_delay_ms=args.chunk_delay_ms)
    run_fake_openai(args.host, args.port, behaviour)


if __name__ == "__main__":
    main()

"""Serving an ASGI app with uvicorn in a background thread, on a loopback port the OS picks.

The Telnyx simulator, the fake OpenAI server and the tests' in-process API all run this way:
next to a test (or `cloudgreet dev`) on the same process, on their own event loop, so a test's
loop never blocks them and they never block it. The socket is bound before uvicorn starts, so
the port is known up front and nothing else can take it in between: no free-port guessing.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Self, TypeVar

import uvicorn

T = TypeVar("T")

# What every app served here gets unless its caller says otherwise: quiet, and with the app's
# lifespan run (the simulator closes its calls there).
DEFAULT_CONFIG: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "on"}


class UvicornThread:
    """One ASGI app served by uvicorn in a daemon thread with its own asyncio event loop.

    `config` goes to `uvicorn.Config` as it is (over DEFAULT_CONFIG). Usable as `with` or
    `async with` (which starts and stops it off the caller's event loop). Code on other threads
    runs coroutines on the server's loop through `submit`.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, name: str = "uvicorn", **config: Any):
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._config = {**DEFAULT_CONFIG, **config}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        """Bind the port, start serving, and return once uvicorn accepts connections."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running on {self.url}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._error = None
        self._server = uvicorn.Server(uvicorn.Config(self.app, **self._config))
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True, name=f"{self.name}:{self.port}")
        self._thread.start()
        self._wait_started(timeout)
        return self

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        except BaseException as error:  # noqa: BLE001  (reported to start(), which would otherwise wait in vain)
            self._error = error
        finally:
            _cancel_leftover_tasks(loop)
            loop.close()
            sock.close()

    def _wait_started(self, timeout: float) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._thread = None
                raise RuntimeError(f"{self.name} did not start on {self.url}: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"{self.name} did not start on {self.url} within {timeout} s")
            self._thread.join(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish (in-flight requests get `timeout_graceful_shutdown`, if set) and
        wait for the thread; past `timeout`, close what is still open."""
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        self._thread = None

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the server's loop from any thread."""
        if self.loop is None or self._thread is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)


def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the app left running (as asyncio.run does) so no task dies with the loop
    unawaited; unlike asyncio.run, threads still busy in the default executor (a database driver
    stuck on a dependency that hangs) are not waited for."""
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())

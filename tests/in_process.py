"""The API built with chosen settings and served on loopback inside the test process, and a
server that accepts connections and never answers (a dependency that hangs).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from api.app import create_app
from runtime.settings import Settings
from simulator.serving import UvicornThread

ADMIN_KEY = "test-admin-key-0123456789abcdef"
SECRET_KEY = "tests-sign-with-this-0123456789-abcdefghij"


def make_settings(**overrides: Any) -> Settings:
    """Settings from these values only: nothing from the environment or a .env file leaks in."""
    values: dict[str, Any] = {
        "TELNYX_API_KEY": None,
        "TELNYX_PUBLIC_KEY": None,
        "OPENAI_API_KEY": None,
        "ADMIN_API_KEY": None,
        "SECRET_KEY": SECRET_KEY,
        "METRICS_PORT": None,
        "TEMPORAL_NAMESPACE": "default",
        "TEMPORAL_UI_URL": "http://localhost:8233",
        "HEALTH_CHECK_TIMEOUT_SECONDS": 2.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@contextmanager
def served_api(settings: Settings) -> Iterator[str]:
    """The real app over real HTTP on 127.0.0.1; yields its base URL."""
    with UvicornThread(create_app(settings)) as server:
        yield server.url


class SilentServer:
    """Accepts TCP connections and never says a word: a dependency that hangs."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._accepted.append(connection)

    def close(self) -> None:
        # Closing the held connections ends whatever still waits on them (a blocked database driver).
        self._listener.close()
        for connection in self._accepted:
            connection.close()

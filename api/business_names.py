"""The businesses' names by the number callers dial, kept by the API for when the database is down.

The last rung names the business it answers for ("Thank you for calling Bright Smile Dental")
without asking the database: this cache is refreshed from the database every few minutes while
it answers, and written to a JSON file in LAST_RUNG_DIR, so an API restarted during an outage
still knows the names. A number it does not know gets the generic sentence.
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from sqlmodel import Session

from database.business_queries import list_businesses
from database.engine import get_engine

NAMES_FILE = "business-names.json"
REFRESH_SECONDS = 300.0
RETRY_SECONDS = 30.0

log = structlog.get_logger(__name__)


class BusinessNames:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / NAMES_FILE
        self._names: dict[str, str] = self._read()
        # A thread of its own: a refresh stuck on a hanging database (until its timeouts) holds no
        # thread the requests need, and never delays the API's shutdown.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="business-names")

    def name_for(self, dialed_number: str | None) -> str | None:
        return self._names.get(dialed_number or "")

    def refresh(self, database_url: str) -> None:
        """Reads the names from the database and keeps them on disk; blocks: run it in a thread."""
        with Session(get_engine(database_url)) as session:
            names = {b.phone_number: b.name for b in list_businesses(session) if b.phone_number}
        if names != self._names:
            self._names = names
            self._write(names)

    async def keep_fresh(self, database_url: str) -> None:
        """Refreshes now and then every REFRESH_SECONDS; a database that is down is tried again sooner."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._thread, self.refresh, database_url)
            except Exception as error:  # noqa: BLE001  (the names on disk serve until the database is back)
                log.warning("business names not refreshed", error=str(error))
                await asyncio.sleep(RETRY_SECONDS)
            else:
                await asyncio.sleep(REFRESH_SECONDS)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _read(self) -> dict[str, str]:
        try:
            names = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(number): str(name) for number, name in names.items()} if isinstance(names, dict) else {}

    def _write(self, names: dict[str, str]) -> None:
        # Written whole to a file beside it, then renamed over it: a reader never sees half a file.
        partial = self.path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(names, indent=1, sort_keys=True))
        os.replace(partial, self.path)

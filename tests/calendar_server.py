"""A real CalDAV server for the calendar tests: Radicale (from PyPI) in a process of its own, on a
free loopback port, its collections in a temporary folder, one user in a plain htpasswd file.

The owner's side of the calendar (their phone's calendar app) is the `caldav` library here too:
events added, moved and deleted as any CalDAV client would.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import caldav
import httpx
from caldav.elements import dav

from cloudgreet.dev_stack import wait_for_port
from tests.conftest import free_port

USERNAME = "brightsmile"
PASSWORD = "calendar-app-password-9f3k2"


class CalendarServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        (folder / "users").write_text(f"{USERNAME}:{PASSWORD}\n")
        self.server_url = f"http://127.0.0.1:{self.port}/"
        self.url = f"{self.server_url}{USERNAME}/practice/"

    def start(self) -> None:
        """Starts Radicale (again, on the same port and storage after `stop`)."""
        log = open(self.folder / "radicale.log", "ab")  # noqa: SIM115  (written by the server for its life)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radicale",
                "--server-hosts",
                f"127.0.0.1:{self.port}",
                "--storage-filesystem-folder",
                str(self.folder / "collections"),
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-filename",
                str(self.folder / "users"),
                "--auth-htpasswd-encryption",
                "plain",
                "--auth-delay",
                "0",
                "--logging-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout=30, process=self.process, name="radicale")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self) -> caldav.DAVClient:
        return caldav.DAVClient(url=self.url, username=USERNAME, password=PASSWORD, timeout=10)

    def make_calendar(self) -> None:
        """The calendar "Practice" (its display name, as a calendar app shows it)."""
        response = self.client().mkcalendar(self.url)
        assert response.status == 201, response.status
        self.calendar().set_properties([dav.DisplayName("Practice")])

    def calendar(self) -> caldav.Calendar:
        return self.client().calendar(url=self.url)

    def add_event(self, uid: str, starts_at: datetime, ends_at: datetime, summary: str, *, daily: bool = False) -> None:
        """An event; `daily`: repeated every day for a week, as a lunch break is kept."""
        repeat = {"rrule": {"FREQ": "DAILY", "COUNT": 7}} if daily else {}
        self.calendar().save_event(dtstart=starts_at, dtend=ends_at, summary=summary, uid=uid, **repeat)

    def events(self) -> dict[str, tuple[datetime, datetime, str]]:
        """Every event by UID: (start, end, summary)."""
        found = {}
        for event in self.calendar().events():
            component = event.icalendar_component
            found[str(component["uid"])] = (component["dtstart"].dt, component["dtend"].dt, str(component["summary"]))
        return found

    def event_count(self, uid: str) -> int:
        return sum(1 for event in self.calendar().events() if str(event.icalendar_component["uid"]) == uid)

    def move_event(self, uid: str, starts_at: datetime, ends_at: datetime) -> None:
        """As a calendar app moves an event: the same UID, new times."""
        event = self.calendar().event_by_uid(uid)
        component = event.icalendar_component
        for name, moment in (("dtstart", starts_at), ("dtend", ends_at)):
            del component[name]
            component.add(name, moment)
        event.save()

    def delete_event(self, uid: str) -> None:
        self.calendar().event_by_uid(uid).delete()

    def answers(self) -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{self.port}/", timeout=2)
        except httpx.HTTPError:
            return False
        return True

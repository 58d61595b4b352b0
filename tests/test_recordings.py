"""Recorded calls through the real path: the greeting says so or asks, Telnyx records, the recording is kept."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlmodel import Session, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from database.engine import get_engine
from database.recording_models import CallRecording
from domain.vocabulary import RecordingDeletion
from simulator.call_script import CallScript
from tests.businesses import open_every_day, store_business
from tests.conftest import ROOT
from tests.in_process import ADMIN_KEY, make_settings, served_api
from tests.test_admin_pages import log_in
from tests.test_phone_call import fake_reply, finished_workflow, place, spoken
from tests.waiting import eventually
from workflows.call import CallWorkflow
from workflows.call_messages import call_workflow_id
from workflows.call_recording import AGREED, CONSENT_QUESTION, NOT_RECORDED, RECORDING_NOTICE
from workflows.callback import CallbackWorkflow
from workflows.recording_saved import RecordingSavedWorkflow, recording_saved_workflow_id

pytestmark = pytest.mark.database

RECORDING = "+15555550121"
RECORDING_WITH_CONSENT = "+15555550122"
SAN_FRANCISCO = "+14155550142"
NEW_YORK = "+12125550142"


def recording_commands(call) -> list[dict]:
    return [c.body for c in call.commands if c.action == "start_recording" and c.status_code == 200]


def recordings_of(database_url: str, call_id: str) -> list[CallRecording]:
    with Session(get_engine(database_url)) as session:
        return list(session.exec(select(CallRecording).where(CallRecording.call_id == call_id)).all())


async def kept_recording(stack, call) -> CallRecording:
    [kept] = await eventually(
        lambda: recordings_of(stack.database_url, call.call_control_id), bool, what="the recording kept"
    )
    return kept


@pytest.fixture(scope="module")
def businesses(stack):
    store_business(stack.database_url, open_every_day(RECORDING, record_calls=True))
    store_business(
        stack.database_url,
        open_every_day(RECORDING_WITH_CONSENT, record_calls=True, recording_consent_regions=["US-CA", "DE"]),
    )


async def test_a_recorded_call_is_announced_recorded_on_both_channels_and_kept(stack, businesses):
    call = await place(stack, CallScript(to_number=RECORDING, lines=["What are your opening hours?"]))
    await finished_workflow(stack, call)

    assert spoken(call)[0].startswith(f"{RECORDING_NOTICE} ")
    [command] = recording_commands(call)
    assert command["channels"] == "dual" and command["format"] == "mp3"
    assert command["command_id"].endswith("/record")
    assert stack.simulator.simulator.refusals == []

    kept = await kept_recording(stack, call)
    [saved] = [r for r in stack.simulator.simulator.recordings.values() if r.call_control_id == call.call_control_id]
    assert kept.telnyx_recording_id == saved.id
    assert (kept.audio_format, kept.channels) == ("mp3", "dual")
    assert kept.duration_seconds is not None and kept.duration_seconds > 0
    assert kept.deleted_at is None


async def test_a_caller_from_a_consent_region_who_agrees_is_recorded(stack, businesses):
    script = CallScript(
        from_number=SAN_FRANCISCO, to_number=RECORDING_WITH_CONSENT, lines=["Yes, that's fine.", "Do you do whitening?"]
    )
    call = await place(stack, script)
    await finished_workflow(stack, call)

    said = spoken(call)
    assert said[0] == CONSENT_QUESTION
    assert said[1].startswith(f"{AGREED} ")
    assert said[2:] == fake_reply("Do you do whitening?")
    assert len(recording_commands(call)) == 1
    await kept_recording(stack, call)


async def test_a_caller_from_a_consent_region_who_says_no_is_not_recorded(stack, businesses):
    script = CallScript(
        from_number=SAN_FRANCISCO,
        to_number=RECORDING_WITH_CONSENT,
        lines=["No, I'd rather not.", "Do you do whitening?"],
    )
    call = await place(stack, script)
    await finished_workflow(stack, call)

    said = spoken(call)
    assert said[0] == CONSENT_QUESTION
    assert said[1].startswith(f"{NOT_RECORDED} ")
    assert said[2:] == fake_reply("Do you do whitening?")
    assert recording_commands(call) == []
    assert not any(r.call_control_id == call.call_control_id for r in stack.simulator.simulator.recordings.values())


async def test_a_caller_who_answers_something_else_is_not_recorded_and_is_answered(stack, businesses):
    script = CallScript(from_number=SAN_FRANCISCO, to_number=RECORDING_WITH_CONSENT, lines=["Do you do whitening?"])
    call = await place(stack, script)
    await finished_workflow(stack, call)

    assert spoken(call) == [CONSENT_QUESTION, NOT_RECORDED, *fake_reply("Do you do whitening?")]
    assert recording_commands(call) == []


async def test_a_caller_who_says_nothing_is_not_recorded(stack, businesses):
    # No line, and no hang-up: the caller is silent past the question until the line's guard ends the call.
    script = CallScript(
        from_number=SAN_FRANCISCO, to_number=RECORDING_WITH_CONSENT, hang_up_at_end=False, max_call_seconds=30
    )
    call = await place(stack, script)
    await finished_workflow(stack, call)

    said = spoken(call)
    assert said[0] == CONSENT_QUESTION
    assert said[1].startswith(f"{NOT_RECORDED} Thank you for calling")
    assert recording_commands(call) == []


async def test_recorded_calls_replay_on_this_code(stack, businesses):
    scripts = [
        CallScript(from_number=SAN_FRANCISCO, to_number=RECORDING_WITH_CONSENT, lines=["Yes", "Do you do whitening?"]),
        CallScript(from_number=SAN_FRANCISCO, to_number=RECORDING_WITH_CONSENT, lines=["No", "Do you do whitening?"]),
        CallScript(to_number=RECORDING, lines=["Do you do whitening?"]),
    ]
    calls = [await place(stack, script) for script in scripts]
    histories = []
    for call in calls:
        await finished_workflow(stack, call)
        handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
        histories.append(await handle.fetch_history())
    for call in (calls[0], calls[2]):
        kept = await kept_recording(stack, call)
        handle = stack.temporal_client.get_workflow_handle(recording_saved_workflow_id(kept.telnyx_recording_id))
        histories.append(await handle.fetch_history())

    replayer = Replayer(
        workflows=[CallWorkflow, CallbackWorkflow, RecordingSavedWorkflow], data_converter=pydantic_data_converter
    )
    for history in histories:
        await replayer.replay_workflow(history)


async def test_a_caller_from_outside_the_consent_regions_hears_the_notice_and_is_recorded(stack, businesses):
    script = CallScript(from_number=NEW_YORK, to_number=RECORDING_WITH_CONSENT, lines=["Do you do whitening?"])
    call = await place(stack, script)
    await finished_workflow(stack, call)

    assert spoken(call)[0].startswith(f"{RECORDING_NOTICE} ")
    assert len(recording_commands(call)) == 1
    await kept_recording(stack, call)


async def test_a_business_that_does_not_record_sends_no_record_start(stack):
    call = await place(stack, CallScript(lines=["What are your opening hours?"]))
    await finished_workflow(stack, call)

    assert not spoken(call)[0].startswith(RECORDING_NOTICE)
    assert recording_commands(call) == []


# --- kept, played and deleted ---------------------------------------------------------------------

BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def admin(stack) -> Iterator[str]:
    """An API with the admin key, on the stack's database, Temporal and Telnyx simulator."""
    settings = make_settings(
        DATABASE_URL=stack.database_url,
        ADMIN_API_KEY=ADMIN_KEY,
        TEMPORAL_ADDRESS=stack.env["TEMPORAL_ADDRESS"],
        TELNYX_API_KEY=stack.env["TELNYX_API_KEY"],
        TELNYX_BASE_URL=stack.env["TELNYX_BASE_URL"],
    )
    with served_api(settings) as url:
        yield url


async def recorded_call(stack) -> tuple[str, CallRecording]:
    call = await place(stack, CallScript(to_number=RECORDING, lines=["What are your opening hours?"]))
    await finished_workflow(stack, call)
    return call.call_control_id, await kept_recording(stack, call)


def at_telnyx(stack, kept: CallRecording):
    return stack.simulator.simulator.recordings[kept.telnyx_recording_id]


def cloudgreet(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cloudgreet.cli", *args],
        env={**stack.env, "NO_COLOR": "1", "COLUMNS": "220"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_admin_api_shows_plays_with_a_fresh_url_and_deletes_a_recording(stack, businesses, admin):
    call_id, kept = await recorded_call(stack)
    path = f"/api/admin/calls/{call_id}/recording"
    async with httpx.AsyncClient(base_url=admin, headers=BEARER) as http:
        shown = (await http.get(f"/api/admin/calls/{call_id}")).json()["recording"]
        assert (shown["audio_format"], shown["channels"], shown["deleted_at"]) == ("mp3", "dual", None)
        assert (await http.get(path)).json() == shown
        saved_at = datetime.fromisoformat(shown["saved_at"])
        assert datetime.fromisoformat(shown["delete_after"]) == saved_at + timedelta(days=30)

        played = await http.get(f"{path}/audio")
        assert played.status_code == 307
        url = played.headers["location"]
        assert url.startswith(stack.simulator.control_url)
        audio = await http.get(url)
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
        assert len(at_telnyx(stack, kept).tokens) == 2, "the webhook's URL, and a fresh one for this play"

        deleted = await http.delete(path)
        assert deleted.status_code == 200
        assert deleted.json()["recording"]["deleted_because"] == "requested"
        assert at_telnyx(stack, kept).deleted
        assert (await http.get(url)).status_code == 403, "a URL handed out before no longer plays"
        assert (await http.get(f"{path}/audio")).status_code == 404
        assert (await http.delete(path)).status_code == 404
    assert recordings_of(stack.database_url, call_id)[0].deleted_because == RecordingDeletion.REQUESTED


async def test_cloudgreet_recordings_delete_deletes_at_telnyx_and_here(stack, businesses):
    call_id, kept = await recorded_call(stack)

    done = await asyncio.to_thread(cloudgreet, stack, "recordings", "delete", call_id)
    assert done.returncode == 0, done.stderr
    assert at_telnyx(stack, kept).deleted
    [row] = recordings_of(stack.database_url, call_id)
    assert row.deleted_because == RecordingDeletion.REQUESTED and row.deleted_at is not None

    again = await asyncio.to_thread(cloudgreet, stack, "recordings", "delete", call_id)
    assert again.returncode == 1 and "was deleted" in again.stderr


async def test_cloudgreet_recordings_prune_deletes_those_past_their_business_retention(stack, businesses):
    call_id, kept = await recorded_call(stack)
    days_later = (kept.saved_at + timedelta(days=29)).isoformat()
    kept_on = await asyncio.to_thread(cloudgreet, stack, "recordings", "prune", "--now", days_later)
    assert kept_on.returncode == 0, kept_on.stderr
    assert not at_telnyx(stack, kept).deleted, "29 days: within the 30 days of retention"

    month_later = (kept.saved_at + timedelta(days=30, minutes=1)).isoformat()
    pruned = await asyncio.to_thread(cloudgreet, stack, "recordings", "prune", "--now", month_later)
    assert pruned.returncode == 0, pruned.stderr
    assert call_id in pruned.stdout
    assert at_telnyx(stack, kept).deleted
    [row] = recordings_of(stack.database_url, call_id)
    assert row.deleted_because == RecordingDeletion.RETENTION


async def test_the_call_page_plays_the_recording_and_deletes_it_on_request(stack, businesses, admin, page: Page):
    call_id, kept = await recorded_call(stack)
    call_page = f"/admin/calls/{call_id}"
    await log_in(page, admin, call_page)

    section = page.locator("#recording")
    await expect(section.get_by_role("heading", name="Recording")).to_be_visible()
    source = await section.locator("audio").get_attribute("src")
    assert source is not None
    # As the browser's player loads it, with the page's session: our route, redirected to Telnyx's audio.
    played = await page.request.get(f"{admin}{source}")
    assert played.ok and played.headers["content-type"] == "audio/mpeg"
    assert played.url.startswith(stack.simulator.control_url)

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await section.get_by_role("button", name="Delete the recording").click()
    await page.wait_for_url(f"{admin}{call_page}")
    await expect(section).to_contain_text("on request")
    await expect(section.locator("audio")).to_have_count(0)
    assert at_telnyx(stack, kept).deleted

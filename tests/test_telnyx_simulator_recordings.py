"""The simulator's recordings through the telnyx SDK: record_start checked against the SDK's types,
call.recording.saved after the hang-up in the SDK's shape, and the recording retrieved with a
fresh URL, downloaded while the URL is good, and deleted."""

from __future__ import annotations

import json

import httpx
import pytest
import telnyx
from telnyx.types.call_recording_saved import CallRecordingSaved

from api.telnyx_events import WebhookRejected, parse_webhook, to_saved_recording
from simulator.call_script import CallScript
from tests.test_telnyx_simulator import TIMEOUT, phone_network, sdk_client
from tests.test_webhook_input import REFERENCE


async def answered_call(server, receptionist):
    call = server.place_call(CallScript(hang_up_at_end=False, max_call_seconds=10))
    await receptionist.wait_for(lambda bodies: any(b["data"]["event_type"] == "call.initiated" for b in bodies))
    return call


async def test_a_recorded_call_is_saved_at_hangup_retrieved_with_a_fresh_url_and_deleted() -> None:
    async with phone_network(answer=False) as (server, receptionist):
        call = await answered_call(server, receptionist)
        async with sdk_client(server) as client:
            await client.calls.actions.answer(call.call_control_id)
            with pytest.raises(telnyx.UnprocessableEntityError) as refused:
                await client.calls.actions.start_recording(
                    call.call_control_id, channels="dual", format="mp3", extra_body={"channels": "stereo"}
                )
            await client.calls.actions.start_recording(
                call.call_control_id, channels="dual", format="mp3", command_id="rec-1"
            )
            await client.calls.actions.start_recording(
                call.call_control_id, channels="dual", format="mp3", command_id="rec-1"
            )
            await client.calls.actions.hangup(call.call_control_id)
            await server.wait_ended(call, TIMEOUT)

            types = [e["event_type"] for e in receptionist.events(call.call_control_id)]
            assert types[-2:] == ["call.hangup", "call.recording.saved"]
            [saved] = receptionist.events(call.call_control_id, "call.recording.saved")
            payload = CallRecordingSaved.model_validate(saved).payload
            assert payload is not None and payload.channels == "dual"
            assert payload.recording_started_at and payload.recording_ended_at
            assert payload.recording_started_at <= payload.recording_ended_at
            raw = saved["payload"]
            assert (raw["call_control_id"], raw["format"]) == (call.call_control_id, "mp3")
            webhook_url = raw["recording_urls"]["mp3"]

            retrieved = (await client.recordings.retrieve(raw["recording_id"])).data
            assert retrieved is not None and retrieved.download_urls is not None
            fresh_url = retrieved.download_urls.mp3
            assert fresh_url and fresh_url != webhook_url
            assert (retrieved.call_control_id, retrieved.status, retrieved.source) == (
                call.call_control_id,
                "completed",
                "call",
            )
            async with httpx.AsyncClient() as http:
                for url in (webhook_url, fresh_url):
                    audio = await http.get(url)
                    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
                assert (await http.get(fresh_url.split("?")[0] + "?token=guessed")).status_code == 403

                await client.recordings.delete(raw["recording_id"])
                with pytest.raises(telnyx.NotFoundError):
                    await client.recordings.retrieve(raw["recording_id"])
                with pytest.raises(telnyx.NotFoundError):
                    await client.recordings.delete(raw["recording_id"])
                assert (await http.get(fresh_url)).status_code == 403, "a deleted recording no longer downloads"

    assert refused.value.body["errors"][0]["source"]["pointer"] == "/channels"
    assert len(server.simulator.recordings) == 1, "a repeated command_id records once"


async def test_a_call_never_recorded_posts_no_recording() -> None:
    async with phone_network(answer=False) as (server, receptionist):
        call = await answered_call(server, receptionist)
        async with sdk_client(server) as client:
            await client.calls.actions.answer(call.call_control_id)
            await client.calls.actions.hangup(call.call_control_id)
        await server.wait_ended(call, TIMEOUT)

    assert receptionist.events(call.call_control_id, "call.recording.saved") == []
    assert server.simulator.recordings == {}


def test_the_api_reads_a_recording_saved_webhook_as_telnyx_sends_it() -> None:
    raw = (REFERENCE / "call.recording.saved.json").read_text()
    saved = to_saved_recording(parse_webhook(raw))
    assert saved.call_control_id.startswith("v3:")
    assert (saved.recording_id, saved.audio_format, saved.channels) == (
        "7a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0",
        "mp3",
        "dual",
    )
    assert saved.started_at is not None and saved.ended_at is not None
    assert (saved.ended_at - saved.started_at).total_seconds() == 300
    CallRecordingSaved.model_validate(json.loads(raw)["data"])  # the SDK's shape too


async def test_the_simulators_recording_saved_carries_every_key_of_telnyxs() -> None:
    reference = json.loads((REFERENCE / "call.recording.saved.json").read_text())["data"]["payload"]
    async with phone_network(answer=False) as (server, receptionist):
        call = await answered_call(server, receptionist)
        async with sdk_client(server) as client:
            await client.calls.actions.answer(call.call_control_id)
            await client.calls.actions.start_recording(call.call_control_id, channels="dual", format="mp3")
            await client.calls.actions.hangup(call.call_control_id)
        await server.wait_ended(call, TIMEOUT)
    [saved] = receptionist.events(call.call_control_id, "call.recording.saved")
    assert set(reference) <= set(saved["payload"])


def test_a_recording_saved_webhook_without_its_recording_id_is_refused() -> None:
    document = json.loads((REFERENCE / "call.recording.saved.json").read_text())
    del document["data"]["payload"]["recording_id"]
    with pytest.raises(WebhookRejected) as rejected:
        to_saved_recording(parse_webhook(json.dumps(document)))
    assert (rejected.value.status_code, rejected.value.detail) == (
        422,
        "data.payload.recording_id is required for call.recording.saved",
    )

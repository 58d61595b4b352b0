"""The fake Realtime API is as strict as the service: the real `openai` SDK talks to it over a real
WebSocket (`client.realtime.connect`) and over HTTP (`client_secrets`), and every server event it
sends must parse as the SDK's `RealtimeServerEvent` union.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime.realtime_error_event import RealtimeErrorEvent

from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReplyRule
from simulator.fake_openai.fake_speech import VoiceActivity, append_events, silence, spoken, words_in
from simulator.fake_openai.realtime_rules import check_server_event
from simulator.fake_openai.realtime_state import FakeRealtimeBehaviour
from simulator.fake_openai.server import FakeOpenAIServer

TYPED = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "How much is a cleaning?"}]}


@pytest.fixture
async def connection(fake_realtime: FakeOpenAIServer) -> AsyncIterator[AsyncRealtimeConnection]:
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(rules=[FakeReplyRule(contains="cleaning", reply="A cleaning costs ninety dollars.")])
    )
    client = openai.AsyncOpenAI(api_key="test-key", base_url=fake_realtime.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        assert (await receive(conn))["type"] == "session.created"
        yield conn


async def receive(conn: AsyncRealtimeConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await conn.recv_bytes())
    check_server_event(event)  # what the SDK's types say the service sends
    return event


async def until(conn: AsyncRealtimeConnection, kind: str) -> list[dict[str, Any]]:
    """Every event up to and including the first of type `kind` (a missing one fails, not hangs)."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        seen.append(await receive(conn))
        while seen[-1]["type"] != kind:
            seen.append(await receive(conn))
    return seen


def took_refusals(fake: FakeOpenAIServer) -> list[dict[str, Any]]:
    """The refusals the test provoked, taken so the fixture does not count them as bugs."""
    refusals, fake.fake.realtime.refusals[:] = list(fake.fake.realtime.refusals), []
    return refusals


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        (
            {"type": "session.update", "session": {"instructions": "Be brief."}},
            "missing_required_parameter",
            "session.type",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}},  # the beta shape
            "unknown_parameter",
            "session.voice",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "turn_detection": None}},
            "unknown_parameter",
            "session.turn_detection",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "max_output_tokens": 5000}},
            "integer_above_max_value",
            "session.max_output_tokens",
        ),
        ({"type": "response.create", "response": {"modalities": ["text"]}}, "unknown_parameter", "response.modalities"),
        (
            {"type": "conversation.item.create", "item": {**TYPED, "content": [{"type": "text", "text": "hi"}]}},
            "invalid_value",
            "item.content[0].type",
        ),
        ({"type": "input_audio_buffer.append"}, "missing_required_parameter", "audio"),
        ({"type": "response.speak"}, "invalid_value", "type"),
    ],
)
async def test_a_malformed_event_is_answered_with_the_services_error_and_changes_nothing(
    connection: AsyncRealtimeConnection, fake_realtime: FakeOpenAIServer, event: dict, code: str, param: str
) -> None:
    await connection.send_raw(json.dumps({**event, "event_id": "evt_page_1"}))
    answer = await receive(connection)
    error = RealtimeErrorEvent.model_validate(answer).error
    assert (error.type, error.code, error.param, error.event_id) == ("invalid_request_error", code, param, "evt_page_1")
    assert error.message
    [refused] = took_refusals(fake_realtime)
    assert refused["error"]["code"] == code

    # The session goes on: a well-formed event after it is served.
    await connection.send({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}})
    updated = await receive(connection)
    assert updated["type"] == "session.updated" and updated["session"]["instructions"] == "Be brief."


async def test_a_second_response_while_one_is_active_is_refused(
    connection: AsyncRealtimeConnection, fake_realtime: FakeOpenAIServer
) -> None:
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(hold_replies=True))
    await connection.send({"type": "conversation.item.create", "item": TYPED})
    await until(connection, "conversation.item.done")
    await connection.send({"type": "response.create"})
    created = (await until(connection, "response.output_audio_transcript.delta"))[0]
    assert created["type"] == "response.created"

    await connection.send({"type": "response.create", "event_id": "evt_again"})
    error = RealtimeErrorEvent.model_validate(await receive(connection)).error
    assert error.code == "conversation_already_has_active_response"
    assert error.type == "invalid_request_error" and error.event_id == "evt_again"
    assert created["response"]["id"] in error.message
    [refused] = took_refusals(fake_realtime)
    assert refused["event"]["type"] == "response.create"

    # Once the first response is done, the next response.create is served.
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour())
    done = (await until(connection, "response.done"))[-1]
    assert done["response"]["status"] == "completed"
    assert done["response"]["output"][0]["content"] == [
        {"type": "output_audio", "transcript": "A cleaning costs ninety dollars."}
    ]
    await connection.send({"type": "response.create"})
    assert (await until(connection, "response.done"))[-1]["response"]["status"] == "completed"


async def test_a_typed_item_is_only_added_the_client_asks_for_the_answer(connection: AsyncRealtimeConnection) -> None:
    await connection.send({"type": "conversation.item.create", "item": TYPED})
    added = await until(connection, "conversation.item.done")
    item_id = added[-1]["item"]["id"]
    # Events are served in order: when the item comes back, nothing else was started.
    await connection.send({"type": "conversation.item.retrieve", "item_id": item_id})
    events = added + await until(connection, "conversation.item.retrieved")
    assert [e["type"] for e in events] == [
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.retrieved",
    ]

    await connection.send({"type": "response.create"})
    answer = await until(connection, "response.done")
    kinds = [e["type"] for e in answer]
    assert "input_audio_buffer.speech_started" not in kinds
    assert answer[-1]["response"]["output"][0]["content"][0]["transcript"] == "A cleaning costs ninety dollars."
    parts = [e["part"] for e in answer if e["type"].startswith("response.content_part")]
    assert [p["type"] for p in parts] == ["audio", "audio"]  # the SDK's part type, not the item's "output_audio"


async def test_spoken_audio_is_detected_answered_and_transcribed_after_the_response(
    connection: AsyncRealtimeConnection,
) -> None:
    await connection.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}},
        }
    )
    await until(connection, "session.updated")
    for event in append_events(spoken("How much is a cleaning?") + silence(700)):
        await connection.send(event)  # type: ignore[arg-type]
    events = await until(connection, "conversation.item.input_audio_transcription.completed")
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
    ]
    # Server VAD started the response by itself; the transcription came after it.
    assert kinds.index("response.created") < kinds.index("response.done") < len(kinds) - 1
    done = next(e for e in events if e["type"] == "response.done")
    assert done["response"]["output"][0]["content"][0]["transcript"] == "A cleaning costs ninety dollars."
    assert events[-1]["transcript"] == "How much is a cleaning?"
    assert events[-1]["item_id"] == events[0]["item_id"]
    heard = (await until(connection, "conversation.item.done"))[-1]
    assert heard["item"]["content"] == [{"type": "input_audio", "transcript": "How much is a cleaning?"}]


async def test_without_turn_detection_the_client_commits_and_asks(connection: AsyncRealtimeConnection) -> None:
    await connection.send(
        {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}}
    )
    await until(connection, "session.updated")
    for event in append_events(spoken("How much is a cleaning?") + silence(700)):
        await connection.send(event)  # type: ignore[arg-type]
    await connection.send({"type": "input_audio_buffer.commit"})
    events = await until(connection, "conversation.item.done")
    assert [e["type"] for e in events] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    await connection.send({"type": "response.create"})
    done = (await until(connection, "response.done"))[-1]
    assert done["response"]["output"][0]["content"][0]["transcript"] == "A cleaning costs ninety dollars."


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"expires_after": {"anchor": "created_at", "seconds": 7201}}, "expires_after.seconds"),
        ({"expires_after": {"anchor": "created_at", "seconds": 9}}, "expires_after.seconds"),
        ({"session": {"type": "realtime", "voice": "alloy"}}, "session.voice"),
        ({"session": {"model": "gpt-realtime"}}, "session.type"),
    ],
)
async def test_client_secrets_out_of_shape_or_range_are_refused(
    fake_realtime: FakeOpenAIServer, body: dict, param: str
) -> None:
    client = openai.AsyncOpenAI(api_key="test-key", base_url=fake_realtime.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        await client.realtime.client_secrets.create(**body)
    assert refused.value.param == param
    assert fake_realtime.fake.realtime.secrets == {}
    took_refusals(fake_realtime)


async def test_speaking_during_a_reply_cuts_it_off_and_the_new_turn_is_answered(
    connection: AsyncRealtimeConnection, fake_realtime: FakeOpenAIServer
) -> None:
    transcribed = {"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}
    await connection.send({"type": "session.update", "session": transcribed})
    await until(connection, "session.updated")
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(hold_replies=True))
    greet = {"instructions": "Say exactly these words: Hello there, welcome."}
    await connection.send({"type": "response.create", "response": greet})
    first = (await until(connection, "response.output_audio_transcript.delta"))[0]["response"]["id"]

    for event in append_events(spoken("How much is a cleaning?") + silence(700)):
        await connection.send(event)  # type: ignore[arg-type]
    events = await until(connection, "response.created")  # server VAD's response to the new turn
    assert events[0]["type"] == "input_audio_buffer.speech_started"
    cut = next(e for e in events if e["type"] == "response.done")
    assert cut["response"]["id"] == first and cut["response"]["status"] == "cancelled"
    assert cut["response"]["output"][0]["status"] == "incomplete"

    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour())
    events = await until(connection, "conversation.item.input_audio_transcription.completed")
    [answered] = [e for e in events if e["type"] == "response.done"]
    assert answered["response"]["status"] == "completed"
    assert answered["response"]["output"][0]["content"][0]["transcript"] == "A cleaning costs ninety dollars."


def test_server_vad_finds_each_turn_once_however_the_audio_is_chunked() -> None:
    audio = spoken("Hello") + silence(1500) + spoken("Goodbye") + silence(600)
    for chunk_ms in (10, 100, 3000, 10_000):
        vad = VoiceActivity()
        events = [e for i in range(0, len(audio), 48 * chunk_ms) for e in vad.feed(audio[i : i + 48 * chunk_ms])]
        assert [(kind, at) for kind, at, _ in events] == [
            ("started", 0),
            ("stopped", 600),
            ("started", 1800),
            ("stopped", 2700),
        ]
        assert [words_in(turn.audio) for _, _, turn in events if turn is not None] == ["Hello", "Goodbye"]

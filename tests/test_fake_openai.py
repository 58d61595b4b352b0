"""The fake OpenAI server, driven by the real ``openai`` SDK over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import openai
import pytest

from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReplyRule, FakeToolCall
from simulator.fake_openai.server import FakeOpenAIServer
from simulator.fake_openai.state import FakeRequestRecord

QUESTION = "Do you have any openings on Tuesday?"
EXPECTED = "Thanks for asking about Do you have any openings on Tuesday. I can help you with that."
BOOK_TOOL = {
    "type": "function",
    "function": {
        "name": "book_appointment",
        "description": "Books an appointment.",
        "parameters": {"type": "object", "properties": {"day": {"type": "string"}, "time": {"type": "string"}}},
    },
}
BOOK_RULE = FakeReplyRule(
    contains="BOOK",
    reply="I would book that for you.",
    tool_call=FakeToolCall(name="book_appointment", arguments={"day": "tuesday", "time": "10:00"}),
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_state(server: FakeOpenAIServer) -> None:
    server.fake.reset()


@pytest.fixture
async def client(server: FakeOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
    yield sdk
    await sdk.close()


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are a receptionist."}, {"role": "user", "content": text}]


async def until(condition, what: str) -> None:
    """Waits for a server-side effect that follows a client-side one (e.g. noticing a hang-up)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_non_streaming_reply(client: openai.AsyncOpenAI, server: FakeOpenAIServer) -> None:
    completion = await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION))

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == EXPECTED
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(EXPECTED.split())
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    [record] = server.fake.requests
    assert record.status_code == 200 and record.model == "fake-gpt" and record.messages == user(QUESTION)


async def test_streaming_assembles_same_text_in_several_chunks(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="fake-gpt", messages=user(QUESTION), stream=True, stream_options={"include_usage": True}
    )
    pieces: list[str] = []
    finish_reasons: list[str | None] = []
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            finish_reasons.append(choice.finish_reason)

    assert "".join(pieces) == EXPECTED
    assert len(pieces) == len(EXPECTED.split()) > 5
    assert finish_reasons[-1] == "stop"
    assert usage is not None and usage.completion_tokens == len(EXPECTED.split())


async def test_streaming_response_is_server_sent_events(server: FakeOpenAIServer) -> None:
    body = {"model": "fake-gpt", "messages": user("Hi."), "stream": True}
    async with (
        httpx.AsyncClient() as http,
        http.stream(
            "POST", f"{server.base_url}/chat/completions", json=body, headers={"Authorization": "Bearer k"}
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = (await response.aread()).decode()

    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    first = json.loads(events[0].removeprefix("data: "))
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}


async def test_rule_makes_a_tool_call_when_the_tool_is_offered(
    client: openai.AsyncOpenAI, server: FakeOpenAIServer
) -> None:
    server.fake.behaviour.rules = [BOOK_RULE]
    completion = await client.chat.completions.create(
        model="fake-gpt", messages=user("Please book me in"), tools=[BOOK_TOOL]
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "book_appointment"
    assert json.loads(call.function.arguments) == {"day": "tuesday", "time": "10:00"}


async def test_rule_makes_a_streamed_tool_call(client: openai.AsyncOpenAI, server: FakeOpenAIServer) -> None:
    server.fake.behaviour.rules = [BOOK_RULE]
    stream = await client.chat.completions.create(
        model="fake-gpt", messages=user("book me in"), tools=[BOOK_TOOL], stream=True
    )
    ids, names, arguments, finish_reasons = [], [], [], []
    async for chunk in stream:
        choice = chunk.choices[0]
        finish_reasons.append(choice.finish_reason)
        for delta in choice.delta.tool_calls or []:
            assert delta.index == 0
            ids.append(delta.id)
            if delta.function and delta.function.name:
                names.append(delta.function.name)
            if delta.function and delta.function.arguments:
                arguments.append(delta.function.arguments)

    assert ids[0] is not None and ids[0].startswith("call_")
    assert names == ["book_appointment"]
    assert len(arguments) > 1
    assert json.loads("".join(arguments)) == {"day": "tuesday", "time": "10:00"}
    assert finish_reasons[-1] == "tool_calls"


async def test_rule_replies_with_text_when_the_tool_is_not_offered(
    client: openai.AsyncOpenAI, server: FakeOpenAIServer
) -> None:
    server.fake.behaviour.rules = [BOOK_RULE]
    completion = await client.chat.completions.create(model="fake-gpt", messages=user("book me in"))
    assert completion.choices[0].message.content == "I would book that for you."
    assert completion.choices[0].message.tool_calls is None


async def test_fail_next_fails_once_then_succeeds(client: openai.AsyncOpenAI, server: FakeOpenAIServer) -> None:
    server.fake.behaviour.fail_next = 1

    with pytest.raises(openai.InternalServerError) as failure:
        await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION))
    assert failure.value.status_code == 500
    assert isinstance(failure.value.body, dict) and failure.value.body["type"] == "server_error"

    completion = await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION))
    assert completion.choices[0].message.content == EXPECTED
    assert [r.status_code for r in server.fake.requests] == [500, 200]
    assert server.fake.behaviour.fail_next == 0


async def test_fail_next_is_consumed_once_under_concurrency(
    client: openai.AsyncOpenAI, server: FakeOpenAIServer
) -> None:
    server.fake.behaviour.fail_next = 2
    results = await asyncio.gather(
        *(client.chat.completions.create(model="fake-gpt", messages=user(QUESTION)) for _ in range(6)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, openai.InternalServerError) for r in results) == 2


async def test_hang_is_abandoned_when_the_client_gives_up(client: openai.AsyncOpenAI, server: FakeOpenAIServer) -> None:
    server.fake.behaviour.hang_next = 1
    server.fake.behaviour.hang_seconds = 60

    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION), timeout=0.3)
    hung = server.fake.requests[0]
    await until(lambda: hung.client_disconnected, "the server to notice the hang-up")
    assert hung.injected == "hang"

    completion = await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION))
    assert completion.choices[0].message.content == EXPECTED


async def test_unauthorized_without_bearer_token(server: FakeOpenAIServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        chat = await http.post("/chat/completions", json={"model": "fake-gpt", "messages": user("Hi")})
        models = await http.get("/models")
        empty = await http.get("/models", headers={"Authorization": "Bearer"})

    for response in (chat, models, empty):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_models_list(client: openai.AsyncOpenAI) -> None:
    page = await client.models.list()
    assert [m.id for m in page.data] == ["fake-gpt"]
    assert page.data[0].owned_by == "cloudgreet"


async def test_empty_messages_is_a_bad_request(client: openai.AsyncOpenAI, server: FakeOpenAIServer) -> None:
    with pytest.raises(openai.BadRequestError) as failure:
        await client.chat.completions.create(model="fake-gpt", messages=[])
    assert failure.value.status_code == 400

    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": "Bearer k"}) as http:
        response = await http.post("/chat/completions", json={"model": "fake-gpt", "messages": []})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "messages"


async def test_log_records_first_sentence_after_the_first_token_delay(
    client: openai.AsyncOpenAI, server: FakeOpenAIServer
) -> None:
    server.fake.behaviour.first_token_delay_ms = 80
    server.fake.behaviour.chunk_delay_ms = 2
    stream = await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION), stream=True)
    async for _ in stream:
        pass

    [record] = server.fake.requests
    assert record.first_content_at is not None and record.first_sentence_at is not None
    assert record.completed_at is not None
    assert record.first_sentence_at >= record.received_at + 0.080
    assert record.received_at <= record.first_content_at <= record.first_sentence_at <= record.completed_at
    assert record.stream and record.status_code == 200 and not record.client_disconnected


async def test_control_endpoints(client: openai.AsyncOpenAI, server: FakeOpenAIServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        behaviour = FakeLLMBehaviour(rules=[FakeReplyRule(contains="hours", reply="We open at nine.")])
        put = await http.put("/_fake/behaviour", json=behaviour.model_dump(mode="json"))
        assert put.status_code == 200
        assert FakeLLMBehaviour.model_validate((await http.get("/_fake/behaviour")).json()) == behaviour

        completion = await client.chat.completions.create(model="fake-gpt", messages=user("What are your hours?"))
        assert completion.choices[0].message.content == "We open at nine."

        [logged] = (await http.get("/_fake/requests")).json()
        record = FakeRequestRecord.model_validate(logged)
        assert record.messages == user("What are your hours?") and record.status_code == 200

        assert (await http.delete("/_fake/requests")).status_code == 200
        assert (await http.get("/_fake/requests")).json() == []

        bad = await http.put("/_fake/behaviour", json={"fail_nxt": 1, "chunk_delay_ms": -5})
        assert bad.status_code == 422
        problems = {tuple(d["loc"]) for d in bad.json()["detail"]}
        assert ("body", "fail_nxt") in problems and ("body", "chunk_delay_ms") in problems


def test_reply_rules_without_a_server() -> None:
    behaviour = FakeLLMBehaviour()
    assert behaviour.reply_for([{"role": "system", "content": "Be nice."}], None).text == "How can I help you?"
    tool_result = [*user("book me"), {"role": "tool", "tool_call_id": "call_1", "content": "booked for 10:00"}]
    assert behaviour.reply_for(tool_result, [BOOK_TOOL]).text == "Done: booked for 10:00."
    parts = [{"role": "user", "content": [{"type": "text", "text": "Are you open?"}]}]
    assert behaviour.reply_for(parts, None).text == "Thanks for asking about Are you open. I can help you with that."


async def test_released_hang_answers_normally(client: openai.AsyncOpenAI, server: FakeOpenAIServer) -> None:
    server.fake.behaviour.hang_next = 1
    server.fake.behaviour.hang_seconds = 60
    pending = asyncio.create_task(client.chat.completions.create(model="fake-gpt", messages=user(QUESTION)))
    await until(lambda: bool(server.fake.requests) and server.fake.requests[0].injected == "hang", "the hang")
    assert not pending.done()

    server.fake.release_hangs()
    completion = await pending
    assert completion.choices[0].message.content == EXPECTED
    assert server.fake.requests[0].status_code == 200


# --- what the service refuses, the fake refuses -----------------------------------------------

ASKED_TO_BOOK = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "book_appointment", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "book_appointment", "arguments": "{}"}},
    ],
}


def answer(call_id: str) -> dict[str, str]:
    return {"role": "tool", "tool_call_id": call_id, "content": "booked"}


async def refused(client: openai.AsyncOpenAI, **request) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(**{"model": "fake-gpt", "messages": user(QUESTION), **request})
    return caught.value


async def test_a_tool_message_must_answer_a_tool_call_of_the_assistant_message_before_it(client) -> None:
    error = await refused(client, messages=[*user(QUESTION), answer("call_1")])
    assert "must be a response to a preceeding message with 'tool_calls'" in error.message
    assert error.param == "messages.[2].role"
    stray = await refused(client, messages=[*user(QUESTION), ASKED_TO_BOOK, answer("call_1"), answer("call_9")])
    assert stray.param == "messages.[4].role"


async def test_every_tool_call_is_answered_before_anything_else_is_said(client) -> None:
    error = await refused(client, messages=[*user(QUESTION), ASKED_TO_BOOK, answer("call_1"), *user("and?")[1:]])
    assert "did not have response messages: call_2" in error.message
    assert error.param == "messages.[2].role"
    last = await refused(client, messages=[*user(QUESTION), ASKED_TO_BOOK])
    assert "call_1, call_2" in last.message
    # Answered in any order, the conversation is taken.
    taken = await client.chat.completions.create(
        model="fake-gpt", messages=[*user(QUESTION), ASKED_TO_BOOK, answer("call_2"), answer("call_1")]
    )
    assert taken.choices[0].finish_reason == "stop"


async def test_messages_of_the_wrong_shape_are_refused_with_the_parameter_named(client) -> None:
    missing_id = await refused(client, messages=[*user(QUESTION), {"role": "tool", "content": "x"}])
    assert (missing_id.param, missing_id.code) == ("messages.[2].tool_call_id", "missing_required_parameter")
    null_content = await refused(client, messages=[{"role": "user", "content": None}])
    assert null_content.message.endswith("Invalid value for 'content': expected a string, got null.")
    no_words = await refused(client, messages=[*user(QUESTION), {"role": "assistant", "content": None}])
    assert no_words.param == "messages.[2].content"
    robot = await refused(client, messages=[{"role": "robot", "content": "beep"}])
    assert robot.code == "invalid_value"


async def test_arguments_the_api_does_not_know_or_take_alone_are_refused(client) -> None:
    unknown = await refused(client, extra_body={"temprature": 0.2})
    assert unknown.message.endswith("Unrecognized request argument supplied: temprature")
    assert (await refused(client, tool_choice="auto")).param == "tool_choice"
    assert (await refused(client, stream_options={"include_usage": True})).param == "stream_options"
    bad_name = await refused(client, tools=[{**BOOK_TOOL, "function": {**BOOK_TOOL["function"], "name": "book it"}}])
    assert bad_name.param == "tools[0].function.name"
    no_tools = await refused(client, tools=[])
    assert (no_tools.param, no_tools.code) == ("tools", "empty_array")


async def test_max_tokens_cuts_the_reply_short_with_finish_reason_length(client) -> None:
    cut = await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION), max_tokens=4)
    assert cut.choices[0].message.content == " ".join(EXPECTED.split()[:4])
    assert cut.choices[0].finish_reason == "length"
    stream = await client.chat.completions.create(
        model="fake-gpt", messages=user(QUESTION), max_completion_tokens=4, stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == cut.choices[0].message.content
    )
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_an_outage_is_a_window_of_the_fakes_clock_failing_or_holding_every_request_in_it(server, client):
    http = httpx.AsyncClient(base_url=server.url)
    try:
        begun = await http.post("/_fake/outage", json={"seconds": 30, "kind": "fail"})
        assert begun.status_code == 201
        for _ in range(3):  # not a count of requests: every one in the window fails
            with pytest.raises(openai.InternalServerError):
                await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION))
        assert all(r.during_outage and r.status_code == 500 for r in server.fake.requests)

        # A hang holds the request until the window closes; then it is answered.
        await http.post("/_fake/outage", json={"seconds": 0.5, "kind": "hang"})
        answer = await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION))
        assert answer.choices[0].message.content == EXPECTED
        assert server.fake.requests[-1].injected == "hang" and server.fake.requests[-1].during_outage

        await http.post("/_fake/outage", json={"seconds": 30, "kind": "fail"})
        assert (await http.delete("/_fake/outage")).status_code == 200
        answer = await client.chat.completions.create(model="fake-gpt", messages=user(QUESTION))
        assert answer.choices[0].message.content == EXPECTED
        assert (await http.post("/_fake/outage", json={"seconds": 1, "kind": "bad"})).status_code == 422
    finally:
        await http.aclose()

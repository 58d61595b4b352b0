"""The Chat Completions and Models API of the fake: what the receptionist's LLM client calls.

It speaks the real wire protocol (JSON, and Server-Sent Events when streamed) so the official
``openai`` SDK, its retries, timeouts and stream parsing run unchanged; only the model is fake.
A streamed answer comes one word at a time, roughly as a real model tokenises running text, so
a sentence splitter gets many small pieces to reassemble. Record times are stamped before the
bytes they describe leave, so a client that has read a response finds its record complete.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReply, text_of
from simulator.fake_openai.chat_request_rules import refusal_of
from simulator.fake_openai.errors import openai_error, unauthorized
from simulator.fake_openai.state import FakeOpenAI, FakeRequestRecord, sleep_unless_disconnected

FAKE_MODEL_ID = "fake-gpt"

# A streamed piece is one word plus the white space after it, which is roughly how a real model
# tokenises running text and gives a sentence splitter many small pieces to reassemble.
_PIECE = re.compile(r"\s*\S+\s*")


def _word_count(text: str) -> int:
    return len(text.split())


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith((".", "!", "?"))


def _chunk(
    completion_id: str, created: int, model: str, delta: dict[str, Any], finish_reason: str | None, include_usage: bool
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if include_usage:
        # OpenAI sends "usage": null on every chunk but the last when usage is requested.
        chunk["usage"] = None
    return chunk


def _sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


def install_chat_completions(app: FastAPI, fake: FakeOpenAI) -> None:
    """Adds ``/v1/models`` and ``/v1/chat/completions`` to the fake app."""

    @app.get("/v1/models")
    async def list_models(request: Request) -> Any:
        if (denied := unauthorized(request)) is not None:
            return denied
        return {"object": "list", "data": [_model_object()]}

    @app.get("/v1/models/{model_id}")
    async def retrieve_model(model_id: str, request: Request) -> Any:
        if (denied := unauthorized(request)) is not None:
            return denied
        if model_id != FAKE_MODEL_ID:
            return openai_error(
                404,
                f"The model '{model_id}' does not exist",
                type="invalid_request_error",
                param="model",
                code="model_not_found",
            )
        return _model_object()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        record = fake._new_record(time.time())

        def fail(response: JSONResponse) -> JSONResponse:
            record.status_code = response.status_code
            record.completed_at = time.time()
            return response

        if (denied := unauthorized(request)) is not None:
            return fail(denied)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return fail(
                openai_error(400, "We could not parse the JSON body of your request.", type="invalid_request_error")
            )
        if not isinstance(body, dict):
            return fail(openai_error(400, "The request body must be a JSON object.", type="invalid_request_error"))
        messages, tools = body.get("messages"), body.get("tools")
        record.body, record.messages, record.tools = body, messages, tools
        record.model, record.stream = body.get("model"), bool(body.get("stream"))
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return fail(
                openai_error(
                    400,
                    "'messages' must be a non-empty array of message objects.",
                    type="invalid_request_error",
                    param="messages",
                    code="empty_array" if messages == [] else "invalid_type",
                )
            )
        if (refused := refusal_of(body)) is not None:
            fake.refusals.append(f"{refused.param or 'request'}: {refused.message}")
            return fail(
                openai_error(400, refused.message, type="invalid_request_error", param=refused.param, code=refused.code)
            )

        if (outage := fake.outage_now()) is not None:
            record.during_outage = True
            if outage.kind == "fail":
                record.injected = "fail"
                return fail(
                    openai_error(500, "The server had an error while processing your request.", type="server_error")
                )
            if await fake._hang(request, record, outage.seconds_left()):
                record.client_disconnected = True
                return fail(openai_error(499, "Client closed the request.", type="server_error"))
        if (status := fake._take_failure()) is not None:
            record.injected = "fail"
            return fail(
                openai_error(
                    status,
                    "The server had an error while processing your request. (injected by the fake OpenAI server)",
                    type="server_error",
                )
            )
        if (hang := fake._take_hang()) is not None and await fake._hang(request, record, hang):
            record.client_disconnected = True
            return fail(openai_error(499, "Client closed the request.", type="server_error"))

        behaviour = fake.behaviour
        offered = None if body.get("tool_choice") == "none" else tools
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        reply = behaviour.reply_for(messages, offered).within(limit if isinstance(limit, int) else None)
        record.reply = reply
        record.status_code = 200
        model = str(body.get("model") or FAKE_MODEL_ID)
        completion_id = f"chatcmpl-fake-{record.seq}"
        tool_call_id = fake._next_tool_call_id() if reply.tool_call is not None else None
        headers = {"x-request-id": f"req_fake_{record.seq}"}
        if record.stream:
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            events = _stream(record, behaviour, reply, messages, model, completion_id, tool_call_id, include_usage)
            return StreamingResponse(
                events, media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"}
            )
        return await _complete(request, record, behaviour, reply, messages, model, completion_id, tool_call_id, headers)


def _model_object() -> dict[str, Any]:
    return {"id": FAKE_MODEL_ID, "object": "model", "created": 0, "owned_by": "cloudgreet"}


def _usage(messages: list[dict[str, Any]], reply: FakeReply) -> dict[str, int]:
    """Word counts stand in for tokens: stable, and proportional enough for cost accounting tests."""
    prompt = sum(_word_count(text_of(m.get("content"))) for m in messages)
    if reply.tool_call is not None:
        completion = _word_count(json.dumps(reply.tool_call.arguments)) + 1
    else:
        completion = _word_count(reply.text or "")
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _complete(
    request: Request,
    record: FakeRequestRecord,
    behaviour: FakeLLMBehaviour,
    reply: FakeReply,
    messages: list[dict[str, Any]],
    model: str,
    completion_id: str,
    tool_call_id: str | None,
    headers: dict[str, str],
) -> JSONResponse:
    """A non-streamed answer arrives only once fully generated, so it waits for every simulated chunk."""
    if reply.tool_call is not None:
        arguments = json.dumps(reply.tool_call.arguments)
        pieces = _PIECE.findall(arguments) or [arguments]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": f"{tool_call_id}_{n}" if n else tool_call_id,
                    "type": "function",
                    "function": {"name": reply.tool_call.name, "arguments": arguments},
                }
                for n in range(reply.tool_call.repeat)
            ],
        }
        finish_reason = "tool_calls"
    else:
        pieces = _PIECE.findall(reply.text or "")
        message = {"role": "assistant", "content": reply.text or "", "refusal": None}
        finish_reason = "length" if reply.cut_short else "stop"
    delay = behaviour.first_token_delay_ms + behaviour.chunk_delay_ms * max(len(pieces) - 1, 0)
    if await sleep_unless_disconnected(request, delay / 1000):
        record.client_disconnected = True
        record.status_code = 499
        record.completed_at = time.time()
        return openai_error(499, "Client closed the request.", type="server_error")
    now = time.time()
    record.first_content_at = now
    if reply.tool_call is None and any(_ends_sentence(piece) for piece in pieces):
        record.first_sentence_at = now
    record.completed_at = now
    return JSONResponse(
        headers=headers,
        content={
            "id": completion_id,
            "object": "chat.completion",
            "created": int(now),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": _usage(messages, reply),
        },
    )


async def _stream(
    record: FakeRequestRecord,
    behaviour: FakeLLMBehaviour,
    reply: FakeReply,
    messages: list[dict[str, Any]],
    model: str,
    completion_id: str,
    tool_call_id: str | None,
    include_usage: bool,
) -> AsyncIterator[str]:
    """Yields the SSE events of one streamed completion, in the order and shape OpenAI uses.

    Starlette cancels this generator when the client disconnects; the record then says so.
    """
    created = int(time.time())
    chunk_delay = behaviour.chunk_delay_ms / 1000

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        return _sse(_chunk(completion_id, created, model, delta, finish_reason, include_usage))

    try:
        # The role chunk comes with the first token, as with OpenAI, so it waits too.
        await asyncio.sleep(behaviour.first_token_delay_ms / 1000)
        if reply.tool_call is not None:
            record.first_content_at = time.time()
            for n in range(reply.tool_call.repeat):
                yield chunk(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "index": n,
                                "id": f"{tool_call_id}_{n}" if n else tool_call_id,
                                "type": "function",
                                "function": {"name": reply.tool_call.name, "arguments": ""},
                            }
                        ],
                    }
                )
                for piece in _PIECE.findall(json.dumps(reply.tool_call.arguments)):
                    await asyncio.sleep(chunk_delay)
                    yield chunk({"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
            finish_reason = "tool_calls"
        else:
            yield chunk({"role": "assistant", "content": ""})
            sent = ""
            for i, piece in enumerate(_PIECE.findall(reply.text or "")):
                if i:
                    await asyncio.sleep(chunk_delay)
                sent += piece
                now = time.time()
                if record.first_content_at is None:
                    record.first_content_at = now
                if record.first_sentence_at is None and _ends_sentence(sent):
                    record.first_sentence_at = now
                yield chunk({"content": piece})
            finish_reason = "length" if reply.cut_short else "stop"
        await asyncio.sleep(chunk_delay)
        yield chunk({}, finish_reason)
        if include_usage:
            yield _sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": _usage(messages, reply),
                }
            )
        record.completed_at = time.time()
        yield _sse("[DONE]")
    except (asyncio.CancelledError, GeneratorExit):
        if record.completed_at is None:
            record.client_disconnected = True
            record.completed_at = time.time()
        raise

"""A fake OpenAI-compatible chat server, so tests, benchmarks and the local stack never need OpenAI.

It is a real HTTP server speaking the real wire protocol (JSON and Server-Sent Events), so the
production code path -- the official ``openai`` SDK, its retries, timeouts and stream parsing --
is exercised unchanged; only the model is fake. Replies are deterministic (derived from the last
user message or from configured rules), and knobs inject latency, failures and hangs so the
receptionist's time-to-first-sentence and its failure handling can be measured and tested.

In-process code reaches the state through ``app.state.fake`` (or ``FakeOpenAIServer.fake``);
out-of-process code uses the ``/_fake/...`` control endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from simulator.fake_realtime import FakeRealtime, install_realtime_calls

FAKE_MODEL_ID = "fake-gpt"

# A streamed piece is one word plus the white space after it, which is roughly how a real model
# tokenises running text and gives a sentence splitter many small pieces to reassemble.
_PIECE = re.compile(r"\s*\S+\s*")


class FakeToolCall(BaseModel):
    """A function call the fake model makes; ``arguments`` is sent JSON-encoded, as OpenAI does."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # A model may ask for the same function many times in one answer ("book 50 slots").
    repeat: int = Field(default=1, ge=1, le=100)


class FakeReplyRule(BaseModel):
    """Scripts the answer to a user message that contains ``contains`` (case-insensitive).

    ``tool_call`` wins when the request offers a function of that name; otherwise ``reply`` is
    used. A rule with neither usable is skipped, so a tool rule can be followed by a text rule
    for requests that offer no tools. An empty ``contains`` matches every message.
    """

    model_config = ConfigDict(extra="forbid")

    contains: str
    reply: str | None = None
    tool_call: FakeToolCall | None = None


class FakeReply(BaseModel):
    """What the fake model answers: either text or a single tool call."""

    text: str | None = None
    tool_call: FakeToolCall | None = None


class FakeLLMBehaviour(BaseModel):
    """How the fake model answers, how fast, and how it misbehaves.

    The counters ``fail_next`` and ``hang_next`` are consumed (decremented) by the requests
    they affect, so ``GET /_fake/behaviour`` shows what is still pending. Unknown keys are
    rejected so a typo in a ``PUT /_fake/behaviour`` body fails loudly instead of doing nothing.

    Injected failures are checked before hangs, and both after authentication and validation. A
    hang ends early when the client disconnects (recorded as status 499) or when
    ``FakeOpenAI.release_hangs()`` is called (the request then answers normally).
    """

    model_config = ConfigDict(extra="forbid")

    rules: list[FakeReplyRule] = Field(default_factory=list)
    first_token_delay_ms: float = Field(default=0.0, ge=0)
    chunk_delay_ms: float = Field(default=0.0, ge=0)
    fail_next: int = Field(default=0, ge=0)
    fail_status: int = Field(default=500, ge=400, le=599)
    fail_always: bool = False
    hang_next: int = Field(default=0, ge=0)
    hang_seconds: float = Field(default=30.0, ge=0)

    def reply_for(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> FakeReply:
        """Decides the reply deterministically, so tests can predict it without scripting every turn.

        Order: a trailing tool result is acknowledged ("Done: <result>.") -- checked first so a
        tool-call rule cannot loop forever; with no user text, "How can I help you?"; then the
        first matching rule; else an echo of the last user message in two sentences, so a
        sentence-by-sentence speaker sees two sentences.
        """
        if messages and messages[-1].get("role") == "tool":
            return FakeReply(text=f"Done: {_text_of(messages[-1].get('content'))}.")
        user_texts = [_text_of(m.get("content")).strip() for m in messages if m.get("role") == "user"]
        if not user_texts or not user_texts[-1]:
            return FakeReply(text="How can I help you?")
        last_user = user_texts[-1]
        offered = _offered_function_names(tools)
        for rule in self.rules:
            if rule.contains.lower() not in last_user.lower():
                continue
            if rule.tool_call is not None and rule.tool_call.name in offered:
                return FakeReply(tool_call=rule.tool_call)
            if rule.reply is not None:
                return FakeReply(text=rule.reply)
        return FakeReply(text=f"Thanks for asking about {last_user.rstrip('.?!')}. I can help you with that.")


class FakeRequestRecord(BaseModel):
    """One chat request as the server saw it; times are ``time.time()`` seconds.

    Times are stamped before the bytes they describe are handed to the server, so a client that
    has just finished reading a response always finds its record complete.
    """

    seq: int
    received_at: float
    first_content_at: float | None = None
    first_sentence_at: float | None = None
    completed_at: float | None = None
    model: str | None = None
    messages: Any = None
    tools: Any = None
    stream: bool = False
    body: Any = None
    status_code: int | None = None
    injected: Literal["fail", "hang"] | None = None
    client_disconnected: bool = False
    reply: FakeReply | None = None


class FakeOpenAI:
    """The mutable state of one fake server: its behaviour and its request log.

    The server mutates it from its own event loop while tests may read or replace it from another
    thread, so the few read-modify-write steps take a lock.
    """

    def __init__(self, behaviour: FakeLLMBehaviour | None = None) -> None:
        self.behaviour = behaviour or FakeLLMBehaviour()
        self.requests: list[FakeRequestRecord] = []
        self._lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self._tool_call_ids = itertools.count(1)
        self._hang_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        # The Realtime API (client secrets and WebRTC calls): simulator/fake_realtime.py.
        self.realtime = FakeRealtime()

    def set_behaviour(self, behaviour: FakeLLMBehaviour) -> None:
        with self._lock:
            self.behaviour = behaviour

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def reset(self) -> None:
        """Default behaviour and an empty log, for reusing one server across tests."""
        with self._lock:
            self.behaviour = FakeLLMBehaviour()
            self.requests.clear()
        self.realtime.reset()

    def release_hangs(self) -> None:
        """Ends every hang in progress now; those requests then answer normally.

        Safe to call from any thread. Lets a test "unstick" the LLM at a moment of its choosing, and
        lets ``FakeOpenAIServer.stop()`` shut down promptly while a client still waits on a hang.
        """
        with self._lock:
            waiters = list(self._hang_waiters)
            self._hang_waiters.clear()
        for loop, waiter in waiters:
            try:
                loop.call_soon_threadsafe(lambda w=waiter: w.done() or w.set_result(None))
            except RuntimeError:  # that loop is already closed; nothing is waiting any more
                pass

    async def _hang(self, request: Request, record: FakeRequestRecord, seconds: float) -> bool:
        """Sleeps for a simulated stuck LLM; True if the client hung up meanwhile.

        The record is marked only once the hang can be released, so a test that sees
        ``injected == "hang"`` may call ``release_hangs()`` without a race.
        """
        loop = asyncio.get_running_loop()
        entry = (loop, loop.create_future())
        with self._lock:
            self._hang_waiters.add(entry)
            record.injected = "hang"
        try:
            return await _sleep_unless_disconnected(request, seconds, wake=entry[1])
        finally:
            with self._lock:
                self._hang_waiters.discard(entry)

    def _new_record(self, received_at: float) -> FakeRequestRecord:
        with self._lock:
            record = FakeRequestRecord(seq=next(self._request_ids), received_at=received_at)
            self.requests.append(record)
            return record

    def _next_tool_call_id(self) -> str:
        with self._lock:
            return f"call_{next(self._tool_call_ids)}"

    def _take_failure(self) -> int | None:
        """The status to fail this request with, consuming one ``fail_next`` if that applies."""
        with self._lock:
            b = self.behaviour
            if b.fail_always:
                return b.fail_status
            if b.fail_next > 0:
                b.fail_next -= 1
                return b.fail_status
            return None

    def _take_hang(self) -> float | None:
        with self._lock:
            b = self.behaviour
            if b.hang_next > 0:
                b.hang_next -= 1
                return b.hang_seconds
            return None


def _text_of(content: Any) -> str:
    """Message content as plain text; OpenAI allows a string or a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return str(content)


def _offered_function_names(tools: Sequence[Mapping[str, Any]] | None) -> set[str]:
    names: set[str] = set()
    for tool in tools or []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names


def _word_count(text: str) -> int:
    return len(text.split())


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith((".", "!", "?"))


def openai_error(
    status_code: int, message: str, *, type: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    """An error in OpenAI's shape, which the SDK turns into the matching ``openai.APIStatusError``."""
    return JSONResponse(
        status_code=status_code,
        content={"error": {"message": message, "type": type, "param": param, "code": code}},
    )


def _unauthorized(request: Request) -> JSONResponse | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return None
    return openai_error(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header "
        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        type="invalid_request_error",
        code="invalid_api_key",
    )


async def _sleep_unless_disconnected(
    request: Request, seconds: float, wake: asyncio.Future[None] | None = None
) -> bool:
    """Sleeps until ``seconds`` pass or ``wake`` resolves; returns True early if the client hangs up.

    Uvicorn does not cancel a handler whose client has gone, so a simulated stuck LLM would
    otherwise hold its task (and delay server shutdown) for the full hang.
    """
    if seconds <= 0:
        return False

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({watcher} if wake is None else {watcher, wake}, timeout=seconds,
                           return_when=asyncio.FIRST_COMPLETED)
        return watcher.done() and not watcher.cancelled() and watcher.exception() is None
    finally:
        watcher.cancel()


def _chunk(completion_id: str, created: int, model: str, delta: dict[str, Any], finish_reason: str | None,
           include_usage: bool) -> dict[str, Any]:
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


def create_fake_openai_app(behaviour: FakeLLMBehaviour | None = None) -> FastAPI:
    """Builds the fake server; its state is on ``app.state.fake`` (a ``FakeOpenAI``)."""
    app = FastAPI(title="CloudGreet fake OpenAI", docs_url=None, redoc_url=None, openapi_url=None)
    fake = FakeOpenAI(behaviour)
    app.state.fake = fake

    @app.get("/v1/models")
    async def list_models(request: Request) -> Any:
        if (denied := _unauthorized(request)) is not None:
            return denied
        return {"object": "list", "data": [_model_object()]}

    @app.get("/v1/models/{model_id}")
    async def retrieve_model(model_id: str, request: Request) -> Any:
        if (denied := _unauthorized(request)) is not None:
            return denied
        if model_id != FAKE_MODEL_ID:
            return openai_error(404, f"The model '{model_id}' does not exist", type="invalid_request_error",
                                param="model", code="model_not_found")
        return _model_object()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        record = fake._new_record(time.time())

        def fail(response: JSONResponse) -> JSONResponse:
            record.status_code = response.status_code
            record.completed_at = time.time()
            return response

        if (denied := _unauthorized(request)) is not None:
            return fail(denied)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return fail(openai_error(400, "We could not parse the JSON body of your request.",
                                     type="invalid_request_error"))
        if not isinstance(body, dict):
            return fail(openai_error(400, "The request body must be a JSON object.", type="invalid_request_error"))
        messages, tools = body.get("messages"), body.get("tools")
        record.body, record.messages, record.tools = body, messages, tools
        record.model, record.stream = body.get("model"), bool(body.get("stream"))
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return fail(openai_error(400, "'messages' must be a non-empty array of message objects.",
                                     type="invalid_request_error", param="messages",
                                     code="empty_array" if messages == [] else "invalid_type"))

        if (status := fake._take_failure()) is not None:
            record.injected = "fail"
            return fail(openai_error(status, "The server had an error while processing your request. "
                                     "(injected by the fake OpenAI server)", type="server_error"))
        if (hang := fake._take_hang()) is not None:
            if await fake._hang(request, record, hang):
                record.client_disconnected = True
                return fail(openai_error(499, "Client closed the request.", type="server_error"))

        behaviour = fake.behaviour
        offered = None if body.get("tool_choice") == "none" else tools
        reply = behaviour.reply_for(messages, offered)
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
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={**headers, "cache-control": "no-cache"})
        return await _complete(request, record, behaviour, reply, messages, model, completion_id, tool_call_id,
                               headers)

    @app.post("/v1/realtime/client_secrets")
    async def create_realtime_client_secret(request: Request) -> Any:
        """An ephemeral key for a browser's Realtime session, answered as OpenAI's GA API does."""
        if (denied := _unauthorized(request)) is not None:
            return denied
        try:
            body = json.loads(await request.body())
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.", type="invalid_request_error")
        if not isinstance(body, dict):
            return openai_error(400, "The request body must be a JSON object.", type="invalid_request_error")
        session = body.get("session")
        if session is not None and (not isinstance(session, dict) or session.get("type") not in ("realtime", "transcription")):
            return openai_error(400, "Invalid value for 'session.type': expected 'realtime' or 'transcription'.",
                                type="invalid_request_error", param="session.type")
        if (status := fake.realtime.take_secret_refusal()) is not None:
            return openai_error(status, fake.realtime.behaviour.refuse_secrets_message, type="invalid_request_error",
                                param="session.model")
        return fake.realtime.issue_secret(body)

    install_realtime_calls(app, fake)

    @app.get("/_fake/requests")
    async def get_requests() -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in list(fake.requests)]

    @app.delete("/_fake/requests")
    async def clear_requests() -> dict[str, Any]:
        fake.clear_requests()
        return {"cleared": True}

    @app.get("/_fake/behaviour")
    async def get_behaviour() -> FakeLLMBehaviour:
        return fake.behaviour

    @app.put("/_fake/behaviour")
    async def put_behaviour(new: FakeLLMBehaviour) -> FakeLLMBehaviour:
        fake.set_behaviour(new)
        return new

    return app


def _model_object() -> dict[str, Any]:
    return {"id": FAKE_MODEL_ID, "object": "model", "created": 0, "owned_by": "cloudgreet"}


def _usage(messages: list[dict[str, Any]], reply: FakeReply) -> dict[str, int]:
    """Word counts stand in for tokens: stable, and proportional enough for cost accounting tests."""
    prompt = sum(_word_count(_text_of(m.get("content"))) for m in messages)
    if reply.tool_call is not None:
        completion = _word_count(json.dumps(reply.tool_call.arguments)) + 1
    else:
        completion = _word_count(reply.text or "")
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _complete(request: Request, record: FakeRequestRecord, behaviour: FakeLLMBehaviour, reply: FakeReply,
                    messages: list[dict[str, Any]], model: str, completion_id: str, tool_call_id: str | None,
                    headers: dict[str, str]) -> JSONResponse:
    """A non-streamed answer arrives only once fully generated, so it waits for every simulated chunk."""
    if reply.tool_call is not None:
        arguments = json.dumps(reply.tool_call.arguments)
        pieces = _PIECE.findall(arguments) or [arguments]
        message: dict[str, Any] = {
            "role": "assistant", "content": None, "refusal": None,
            "tool_calls": [{"id": f"{tool_call_id}_{n}" if n else tool_call_id, "type": "function",
                            "function": {"name": reply.tool_call.name, "arguments": arguments}}
                           for n in range(reply.tool_call.repeat)],
        }
        finish_reason = "tool_calls"
    else:
        pieces = _PIECE.findall(reply.text or "")
        message = {"role": "assistant", "content": reply.text or "", "refusal": None}
        finish_reason = "stop"
    delay = behaviour.first_token_delay_ms + behaviour.chunk_delay_ms * max(len(pieces) - 1, 0)
    if await _sleep_unless_disconnected(request, delay / 1000):
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


async def _stream(record: FakeRequestRecord, behaviour: FakeLLMBehaviour, reply: FakeReply,
                  messages: list[dict[str, Any]], model: str, completion_id: str, tool_call_id: str | None,
                  include_usage: bool) -> AsyncIterator[str]:
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
                yield chunk({"role": "assistant", "content": None, "tool_calls": [{
                    "index": n, "id": f"{tool_call_id}_{n}" if n else tool_call_id, "type": "function",
                    "function": {"name": reply.tool_call.name, "arguments": ""}}]})
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
            finish_reason = "stop"
        await asyncio.sleep(chunk_delay)
        yield chunk({}, finish_reason)
        if include_usage:
            yield _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": "fp_fake", "choices": [], "usage": _usage(messages, reply)})
        record.completed_at = time.time()
        yield _sse("[DONE]")
    except (asyncio.CancelledError, GeneratorExit):
        if record.completed_at is None:
            record.client_disconnected = True
            record.completed_at = time.time()
        raise


def run_fake_openai(host: str, port: int, behaviour: FakeLLMBehaviour | None = None) -> None:
    """Serves the fake until interrupted; for the local dev stack (``python -m simulator.fake_openai``)."""
    uvicorn.run(create_fake_openai_app(behaviour), host=host, port=port, log_level="info", lifespan="off")


class FakeOpenAIServer:
    """Runs the fake on a free port of 127.0.0.1 in a background thread, for tests and benchmarks.

    The socket is bound here, before the server starts, so the port is known up front and no other
    process can grab it in between. Use as ``with FakeOpenAIServer() as server:`` (or ``async with``,
    which starts and stops off the event loop) and point the SDK at ``server.base_url``.
    """

    def __init__(self, behaviour: FakeLLMBehaviour | None = None, *, startup_timeout: float = 10.0,
                 shutdown_timeout: float = 2.0, log_level: str = "warning") -> None:
        self.app = create_fake_openai_app(behaviour)
        self.fake: FakeOpenAI = self.app.state.fake
        self.host = "127.0.0.1"
        self.port = 0
        self._startup_timeout = startup_timeout
        # Bounds how long stop() waits for in-flight requests (e.g. a simulated hang) before cancelling them.
        self._shutdown_timeout = shutdown_timeout
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The server root, where the ``/_fake/...`` control endpoints live."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``."""
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAIServer:
        if self._thread is not None:
            raise RuntimeError("FakeOpenAIServer is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        # log_config=None leaves the host process's logging set-up (e.g. pytest's) untouched.
        config = uvicorn.Config(self.app, log_level=self._log_level, log_config=None, lifespan="off",
                                timeout_graceful_shutdown=self._shutdown_timeout)  # type: ignore[arg-type]
        self._server = server = uvicorn.Server(config)

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported to start(), which would otherwise wait in vain
                self._error = exc

        self._thread = thread = threading.Thread(target=serve, name=f"fake-openai-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + self._startup_timeout
        # Uvicorn only listens once started; until then connecting to the bound socket is refused.
        while not (server.started and self._accepts_connections()):
            if not thread.is_alive():
                self._thread = None
                raise RuntimeError(f"fake OpenAI server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"fake OpenAI server did not start within {self._startup_timeout}s")
            thread.join(0.01)
        return self

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        self.fake.release_hangs()
        server.should_exit = True
        thread.join(self._shutdown_timeout + 5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI-compatible chat API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--first-token-delay-ms", type=float, default=0.0)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    behaviour = FakeLLMBehaviour(first_token_delay_ms=args.first_token_delay_ms, chunk_delay_ms=args.chunk_delay_ms)
    run_fake_openai(args.host, args.port, behaviour)


if __name__ == "__main__":
    main()

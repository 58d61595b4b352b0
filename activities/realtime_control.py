"""The server's side of a Realtime call: its control channel ("sideband" WebSocket).

A call created by the server (`client.realtime.calls.create`, the browser demo) or accepted by it
(`calls.accept`, SIP) has a control channel the server joins with its own key
(`client.realtime.connect(call_id=...)`). Over it the server hears every event of the call and
runs the model's function calls itself, so no browser or phone ever holds a key or a tool token:

* a response that ends with function calls has each one run by `run_tool` (the project's one tool
  dispatcher, wrapped by the caller), its result sent as a `function_call_output` item, then one
  `response.create`, never while a response is active (the service refuses that with
  `conversation_already_has_active_response`: a refused one is asked again after the active one);
* a tool that ends the call (`ToolReply.end_call`) lets the agent answer, then hangs up;
* at `hang_up_at` the agent says `goodbye` (a response with those words), then the call is hung
  up (`calls.hangup`): the length cap is the server's, not a page timer;
* a dropped WebSocket is joined again while the call lives; when the call is over the service
  refuses the upgrade, and `run` returns.

Generic: nothing here knows a business, a browser or a phone line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import openai
import structlog
from websockets.exceptions import ConnectionClosed, InvalidStatus

log = structlog.get_logger(__name__)

# How long the agent may take to finish its last words (goodbye) before the call is hung up anyway.
LAST_WORDS_SECONDS = 20.0
# Joins of the control channel after a drop, in a row without an event between them.
REJOINS = 2
REJOIN_PAUSE_SECONDS = 0.5


class ControlChannelUnreachable(RuntimeError):
    """The call's control channel could not be joined (again) for network reasons: the call may go on
    without its tools and cap, so whoever owns it retries or hangs it up."""

    def __init__(self, call_id: str, cause: BaseException | None) -> None:
        super().__init__(f"the control channel of {call_id} is unreachable: {cause!r}")


ACTIVE_RESPONSE = "conversation_already_has_active_response"


@dataclass(frozen=True)
class FunctionCall:
    """One function call the model made: its call_id (for the output), name and arguments JSON."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolReply:
    """What the tool answered (sent back as the function_call_output), and whether the call ends after."""

    output: str
    end_call: bool = False


@dataclass(frozen=True)
class TranscriptLine:
    """A finished line of the conversation: the caller's (transcribed or typed) or the agent's."""

    role: Literal["caller", "agent"]
    text: str
    item_id: str


class ControlEnd(StrEnum):
    """Why the control of a call ended."""

    CALL_ENDED = "call_ended"  # the other side hung up, or the call ended by itself
    CAP_REACHED = "cap_reached"  # hang_up_at came: goodbye, then hung up by the server
    TOOL_ENDED_CALL = "tool_ended_call"  # a tool said the call is over: hung up after the answer
    HUNG_UP = "hung_up"  # hang_up() was called from outside


@dataclass
class ControlOutcome:
    ended: ControlEnd
    started_at: datetime
    ended_at: datetime
    tool_calls: list[FunctionCall] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


RunTool = Callable[[FunctionCall], Awaitable[ToolReply]]
OnTranscript = Callable[[TranscriptLine], Awaitable[None]]
OnUsage = Callable[[dict[str, Any]], Awaitable[None]]


class RealtimeControl:
    """The control channel of one call. `run` until the call ends; `hang_up` from anywhere."""

    def __init__(self, client: openai.AsyncOpenAI, call_id: str) -> None:
        self.client = client
        self.call_id = call_id
        self._connection: Any = None  # the SDK's AsyncRealtimeConnection while joined
        self._response_active = False
        self._response_wanted: tuple[dict[str, Any], bool] | None = None  # held: (response, last words)
        self._our_request: str | None = None  # event_id of our last response.create
        self._requests = 0
        self._ending: ControlEnd | None = None  # why the call ends after the agent's last words
        self._last_words_sent = False  # the response.create of the last words went out
        self._said_last_words = False  # and its response is done
        self._last_request: tuple[dict[str, Any], bool] = ({}, False)
        self._audio_playing = False
        self._hung_up = asyncio.Event()
        self._ended_by: ControlEnd | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._run_tool: RunTool | None = None
        self._on_transcript: OnTranscript | None = None
        self._on_usage: OnUsage | None = None
        self._goodbye = "Our time is up. Thank you for calling, goodbye."
        self._tool_calls: list[FunctionCall] = []
        self._keep: dict[str, Any] | None = None

    # --- from outside -----------------------------------------------------------------------

    async def hang_up(self, why: ControlEnd = ControlEnd.HUNG_UP) -> None:
        """Ends the call for everybody (`calls.hangup`); an already ended call is no error."""
        if self._ended_by is None:
            self._ended_by = why
        if self._hung_up.is_set():
            return
        self._hung_up.set()
        try:
            await self.client.realtime.calls.hangup(self.call_id)
        except openai.NotFoundError:
            pass  # over already
        except openai.APIError as error:
            log.warning("realtime.hangup_failed", call_id=self.call_id, error=str(error))
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    # --- the channel ------------------------------------------------------------------------

    async def run(
        self,
        run_tool: RunTool,
        *,
        hang_up_at: datetime | None = None,
        goodbye: str | None = None,
        on_transcript: OnTranscript | None = None,
        first_words: str | None = None,
        keep_session: dict[str, Any] | None = None,
        on_usage: OnUsage | None = None,
    ) -> ControlOutcome:
        """Joins the control channel and serves the call until it ends. Cancelling it leaves the
        call going (the owner hangs up first when it means to end it).

        `first_words`: the agent says them as soon as the channel is joined (the greeting, as on
        the phone, where the receptionist speaks first).
        `on_usage`: each response's `usage` (its tokens, as billed), for the call's cost.
        `keep_session`: session fields (instructions, tools, ...) the call keeps: whoever else
        changes them (a page's `session.update` over its data channel) sees them put back at once."""
        started_at = datetime.now(UTC)
        self._run_tool = run_tool
        self._on_transcript = on_transcript
        self._on_usage = on_usage
        self._goodbye = goodbye or self._goodbye
        self._keep = keep_session
        cap = None
        if hang_up_at is not None:
            cap = asyncio.create_task(self._cap_at(hang_up_at))
        try:
            rejoins = 0
            unreachable: BaseException | None = None
            while not self._hung_up.is_set():
                try:
                    async with self.client.realtime.connect(call_id=self.call_id) as connection:
                        self._connection = connection
                        if first_words is not None:
                            await self._request_response(
                                {"instructions": f'Greet the caller with exactly these words: "{first_words}"'}
                            )
                            first_words = None
                        async for raw in self._events(connection):
                            rejoins = 0
                            await self._on_event(raw)
                except (InvalidStatus, openai.APIStatusError) as error:
                    # The upgrade is refused once the call is over (or it never existed).
                    log.info("realtime.control_refused", call_id=self.call_id, error=str(error))
                    break
                except (ConnectionClosed, OSError, openai.APIConnectionError) as error:
                    # The network, not the call: the call may well go on, so the channel is joined again.
                    unreachable = error
                finally:
                    self._connection = None
                if self._hung_up.is_set():
                    break
                if rejoins >= REJOINS:
                    # The call may still be live, talking to a model nobody controls: the owner must know.
                    raise ControlChannelUnreachable(self.call_id, unreachable)
                rejoins += 1
                log.info("realtime.control_rejoin", call_id=self.call_id, attempt=rejoins)
                await asyncio.sleep(REJOIN_PAUSE_SECONDS * rejoins)
                # What was active is unknown after a drop: a refused request is asked again.
                self._response_active = False
        finally:
            if cap is not None:
                cap.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, *([cap] if cap else []), return_exceptions=True)
        return ControlOutcome(
            ended=self._ended_by or ControlEnd.CALL_ENDED,
            started_at=started_at,
            ended_at=datetime.now(UTC),
            tool_calls=self._tool_calls,
        )

    @staticmethod
    async def _events(connection: Any) -> Any:
        """Raw JSON events (dicts): the SDK's parse is lenient, and dicts are what this code reads."""
        while True:
            yield json.loads(await connection.recv_bytes())

    async def _send(self, event: dict[str, Any]) -> None:
        connection = self._connection
        if connection is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await connection.send(event)

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- responses --------------------------------------------------------------------------

    async def _request_response(self, response: dict[str, Any] | None = None, *, last_words: bool = False) -> None:
        """One response.create, held back while a response is active (the service refuses it)."""
        if self._response_active:
            if self._response_wanted is None or last_words:
                self._response_wanted = (response or {}, last_words)
            return
        self._response_active = True
        self._requests += 1
        self._our_request = f"evt_control_{self._requests}"
        self._last_request = (response or {}, last_words)
        event: dict[str, Any] = {"type": "response.create", "event_id": self._our_request}
        if response:
            event["response"] = response
        self._last_words_sent = self._last_words_sent or last_words
        await self._send(event)

    async def _response_over(self) -> None:
        self._response_active = False
        wanted, self._response_wanted = self._response_wanted, None
        if wanted is not None:
            await self._request_response(wanted[0] or None, last_words=wanted[1])

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "response.created":
            self._response_active = True
        elif kind == "output_audio_buffer.started":
            self._audio_playing = True
        elif kind in ("output_audio_buffer.stopped", "output_audio_buffer.cleared"):
            self._audio_playing = False
            if self._said_last_words:
                await self.hang_up(self._ending or ControlEnd.HUNG_UP)
        elif kind == "response.done":
            usage = (event.get("response") or {}).get("usage")
            if self._on_usage is not None and isinstance(usage, dict):
                await self._on_usage(usage)
            await self._response_done(event.get("response") or {})
        elif kind == "session.updated" and self._keep is not None:
            await self._keep_session(event.get("session") or {})
        elif kind == "error":
            error = event.get("error") or {}
            if error.get("code") == ACTIVE_RESPONSE and error.get("event_id") == self._our_request:
                # Someone else's response (the page's, server VAD's) is active: ask again after it.
                response, last_words = self._last_request
                if last_words:
                    self._last_words_sent = False
                if self._response_wanted is None or last_words:
                    self._response_wanted = (response, last_words)
                self._response_active = True
            else:
                log.warning("realtime.control_error", call_id=self.call_id, error=error)
        elif self._on_transcript is not None:
            line = transcript_line(event)
            if line is not None:
                try:
                    await self._on_transcript(line)
                except Exception:
                    log.exception("realtime.transcript_not_kept", call_id=self.call_id, item_id=line.item_id)

    async def _response_done(self, response: dict[str, Any]) -> None:
        calls = [
            FunctionCall(str(item.get("call_id")), str(item.get("name")), str(item.get("arguments") or "{}"))
            for item in response.get("output") or []
            if item.get("type") == "function_call"
        ]
        if calls and response.get("status") == "completed" and self._ending is None:
            # The tools run beside this channel's events; the response is over meanwhile.
            self._response_active = False
            self._spawn(self._answer(calls))
            return
        if self._last_words_sent and self._response_wanted is None:
            self._said_last_words = True
            if not self._audio_playing:  # else at output_audio_buffer.stopped: the words are heard
                await self.hang_up(self._ending or ControlEnd.HUNG_UP)
            return
        await self._response_over()

    async def _answer(self, calls: list[FunctionCall]) -> None:
        self._tool_calls.extend(calls)
        replies = await asyncio.gather(*(self._run_one(call) for call in calls))
        for call, reply in zip(calls, replies, strict=True):
            await self._send(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": call.call_id, "output": reply.output},
                }
            )
        ends = any(reply.end_call for reply in replies)
        if ends and self._ending is None:
            self._ending = ControlEnd.TOOL_ENDED_CALL
            self._spawn(self._hang_up_later())
        await self._request_response(last_words=ends)

    async def _run_one(self, call: FunctionCall) -> ToolReply:
        begun = time.perf_counter()
        try:
            assert self._run_tool is not None
            reply = await self._run_tool(call)
        except Exception:  # the model hears that it failed; the call goes on
            log.exception("realtime.tool_failed", call_id=self.call_id, tool=call.name)
            reply = ToolReply("Error: that could not be done just now. Apologise and offer to take a message.")
        log.info(
            "realtime.tool_ran",
            call_id=self.call_id,
            tool=call.name,
            ms=round((time.perf_counter() - begun) * 1000, 1),
        )
        return reply

    async def _keep_session(self, session: dict[str, Any]) -> None:
        assert self._keep is not None
        changed = [key for key, kept in self._keep.items() if not same_field(key, session.get(key), kept)]
        if changed:
            log.warning("realtime.session_restored", call_id=self.call_id, changed=changed)
            await self._send({"type": "session.update", "session": {"type": "realtime", **self._keep}})

    # --- the cap ----------------------------------------------------------------------------

    async def _cap_at(self, hang_up_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (hang_up_at - datetime.now(UTC)).total_seconds()))
        if self._ending is not None:
            return
        log.info("realtime.cap_reached", call_id=self.call_id)
        self._ending = ControlEnd.CAP_REACHED
        self._spawn(self._hang_up_later())
        goodbye = {"instructions": f'Say goodbye with exactly these words: "{self._goodbye}"'}
        if self._response_active:
            # Whatever the agent was saying gives way to the goodbye, asked once it is over.
            self._response_wanted = (goodbye, True)
            await self._send({"type": "response.cancel"})
        else:
            await self._request_response(goodbye, last_words=True)

    async def _hang_up_later(self) -> None:
        """The last words have LAST_WORDS_SECONDS; then the call ends whatever it is doing."""
        await asyncio.sleep(LAST_WORDS_SECONDS)
        await self.hang_up(self._ending or ControlEnd.HUNG_UP)


def same_field(key: str, now: Any, kept: Any) -> bool:
    """Tools are compared by name (the service may fill in defaults); other fields as they are."""
    if key == "tools":
        return [t.get("name") for t in now or [] if isinstance(t, dict)] == [t.get("name") for t in kept or []]
    return bool(now == kept)


def transcript_line(event: dict[str, Any]) -> TranscriptLine | None:
    """A finished line in a server event: a caller's transcribed or typed words, or the agent's."""
    kind = event.get("type")
    if kind == "conversation.item.input_audio_transcription.completed":
        text, role, item_id = event.get("transcript"), "caller", event.get("item_id")
    elif kind == "response.output_audio_transcript.done":
        text, role, item_id = event.get("transcript"), "agent", event.get("item_id")
    elif kind == "response.output_text.done":
        text, role, item_id = event.get("text"), "agent", event.get("item_id")
    elif kind == "conversation.item.added" and (item := event.get("item") or {}).get("role") == "user":
        parts = [p for p in item.get("content") or [] if isinstance(p, dict) and p.get("type") == "input_text"]
        text, role, item_id = " ".join(str(p.get("text") or "") for p in parts), "caller", item.get("id")
    else:
        return None
    text = str(text or "").strip()
    return TranscriptLine(role, text, str(item_id)) if text else None  # type: ignore[arg-type]

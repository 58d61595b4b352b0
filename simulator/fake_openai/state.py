"""The fake server's mutable state: its behaviour, its request log and the requests it holds up.

Tests read and change it in-process (``FakeOpenAIServer.fake`` or ``app.state.fake``) while the
server's own event loop serves requests, hence the lock; out of process, the ``/_fake/...``
control endpoints do the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel

from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReply
from simulator.fake_openai.outage import Outage, OutageRequest
from simulator.fake_openai.realtime_state import FakeRealtime


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
    during_outage: bool = False  # the failure or hang was the outage's (`FakeOpenAI.begin_outage`)
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
        # Every request refused as OpenAI would refuse it (chat_request_rules), kept through
        # resets: the project sending one is a bug, whatever the test was about.
        self.refusals: list[str] = []
        self._lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self._tool_call_ids = itertools.count(1)
        self._hang_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self._outage: Outage | None = None
        # The Realtime API (client secrets and WebRTC calls): simulator/fake_openai/realtime_*.py.
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
            self._outage = None
        self.realtime.reset()

    def begin_outage(self, request: OutageRequest) -> Outage:
        """From now on, for ``request.seconds`` of the fake's clock, every chat request fails or hangs."""
        with self._lock:
            self._outage = Outage.starting_now(request)
            return self._outage

    def end_outage(self) -> None:
        with self._lock:
            self._outage = None
        self.release_hangs()

    def outage_now(self) -> Outage | None:
        """The outage under way, if any."""
        with self._lock:
            outage = self._outage
        return outage if outage is not None and outage.ongoing() else None

    def release_hangs(self) -> None:
        """Ends every hang in progress now; those requests then answer normally.

        Safe to call from any thread. Lets a test "unstick" the LLM at a moment of its choosing, and
        lets ``FakeOpenAIServer.stop()`` shut down promptly while a client still waits on a hang.
        """
        with self._lock:
            waiters = list(self._hang_waiters)
            self._hang_waiters.clear()
        for loop, waiter in waiters:
            # A loop that is already closed has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(lambda w=waiter: w.done() or w.set_result(None))

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
            return await sleep_unless_disconnected(request, seconds, wake=entry[1])
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


async def sleep_unless_disconnected(request: Request, seconds: float, wake: asyncio.Future[None] | None = None) -> bool:
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
        await asyncio.wait(
            {watcher} if wake is None else {watcher, wake}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        return watcher.done() and not watcher.cancelled() and watcher.exception() is None
    finally:
        watcher.cancel()

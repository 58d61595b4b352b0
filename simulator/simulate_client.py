"""The client side of `cloudgreet simulate`: place a scripted call on a running simulator
and show the conversation as it happens.

It talks to the simulator's control API over HTTP (not in-process) so the command works
against the simulator that `cloudgreet dev` started, wherever that runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from simulator.call_script import CallScript

POLL_SECONDS = 0.1


class SimulatorUnavailable(RuntimeError):
    """The simulator's control API could not be reached (not started, wrong URL)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"the Telnyx simulator at {url} cannot be reached ({reason}); is `cloudgreet dev` running?")
        self.url = url
        self.reason = reason


class SimulatorRequestFailed(RuntimeError):
    """The simulator answered, but refused the request (e.g. an invalid call script)."""

    def __init__(self, url: str, status_code: int, detail: Any) -> None:
        super().__init__(f"the Telnyx simulator at {url} answered HTTP {status_code}: {detail}")
        self.url = url
        self.status_code = status_code
        self.detail = detail


async def run_simulated_call(
    control_url: str,
    script: CallScript,
    print_line: Callable[[str], None],
    timeout: float,
) -> dict[str, Any]:
    """Place the call, print each conversation line once it is final, and return the call's
    JSON when it is over (or, on timeout, as it stands; check its "status")."""
    base = control_url.rstrip("/")
    async with httpx.AsyncClient(timeout=10.0) as http:
        created = await _request(http, "POST", f"{base}/simulator/calls", json=script.model_dump(mode="json"))
        call_url = f"{base}/simulator/calls/{created['call_control_id']}"
        return await _follow_call(http, call_url, print_line, timeout)


async def _follow_call(
    http: httpx.AsyncClient, call_url: str, print_line: Callable[[str], None], timeout: float
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    printed = 0
    while True:
        call = await _request(http, "GET", call_url)
        printed = _print_new_lines(call, printed, print_line)
        if call["finished"] or asyncio.get_running_loop().time() >= deadline:
            return call
        await asyncio.sleep(POLL_SECONDS)


def _print_new_lines(call: dict[str, Any], printed: int, print_line: Callable[[str], None]) -> int:
    """Print lines in order, holding back a sentence still playing (it may yet be interrupted)."""
    lines = call["conversation"]
    while printed < len(lines):
        line = lines[printed]
        if line["ended_at"] is None and call["status"] != "ended":
            break
        print_line(format_line(line))
        printed += 1
    return printed


def format_line(line: dict[str, Any]) -> str:
    speaker = "Caller" if line["speaker"] == "caller" else "Agent"
    suffix = " (interrupted)" if line["interrupted"] else ""
    return f"{speaker}: {line['text']}{suffix}"


async def _request(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TransportError as error:
        raise SimulatorUnavailable(url, str(error) or type(error).__name__) from error
    if response.status_code >= 400:
        raise SimulatorRequestFailed(url, response.status_code, _detail(response))
    return response.json()


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        return response.text

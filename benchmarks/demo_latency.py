"""How fast the browser demo gets going, and how fast its fallback (the web channel) answers.

    python -m benchmarks.demo_latency [--sessions N] [--calls C] [--turns T] [--json out.json]

It starts the stack of `cloudgreet dev --fake-llm` (Temporal dev server, worker, API, fake OpenAI
with its fake Realtime endpoint: real processes, via `BenchStack` of `benchmarks.turn_latency`)
on free ports with a temporary data dir, then measures:

1. Orb to first audio, N times (after one warm-up, not counted): headless Chromium (Debian's,
   driven by Playwright, fake microphone) opens /demo, presses the orb, and waits until the agent's
   greeting plays (`output_audio_buffer.started` over the data channel). The page's own clock
   (`performance.now()`, from the click handler) gives the total and its parts: the microphone,
   the offer, the server path (the page's offer to `POST /api/ai/realtime-session`, where the API
   creates the call at the fake with the openai SDK and answers with the SDP answer), ICE, DTLS and
   SCTP up to `session.created`, then the greeting's first audio. Each session is hung up before
   the next (the server hangs the call up).
2. Tool call -> result over the control channel, in each of those sessions: the visitor types a
   question the fake model answers with a `check_availability` call; timed on the page from the
   call's `response.function_call_arguments.done` to the `function_call_output` item the server
   sent over the call's control channel (the server hears the call, runs it against the database,
   sends the output; the fake relays it to the page).
3. Web channel turns: C conversations one after the other, T caller turns each, through
   `POST /api/web-calls/{id}/turns` with the fake LLM as the brain. Reported: the round trip the
   browser sees, and `turn_ms` (the API's own time from the words arriving to the reply leaving).

The fake endpoints answer at once, so the numbers are CloudGreet's (and the browser's) own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from benchmarks.on_a_stack import run_on_a_stack
from benchmarks.turn_latency import BenchStack, percentiles

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
LINES = [
    "Hi, when are you open?",
    "How much is a cleaning?",
    "Can I book a checkup?",
    "Do you take new patients?",
    "Thanks, bye",
]


TOOL_RULE = {
    "rules": [
        {
            "contains": "free times",
            "tool_call": {"name": "check_availability", "arguments": {"service": "Cleaning"}},
        }
    ]
}


async def orb_to_first_audio(api_url: str, fake_llm_url: str, sessions: int) -> dict:
    from playwright.async_api import async_playwright

    async with httpx.AsyncClient(timeout=10) as http:
        (await http.put(f"{fake_llm_url}/_fake/behaviour", json=TOOL_RULE)).raise_for_status()
    samples: list[dict] = []
    tool_ms: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{api_url}/demo")
        for n in range(sessions + 1):
            started = time.perf_counter()
            await page.locator("#orb").click()
            await page.wait_for_function("Boolean(window.cloudgreetDemo.agent.timings.firstAudioAt)", timeout=30_000)
            outside_ms = (time.perf_counter() - started) * 1000
            # A question the fake model answers with a tool call, which the server runs.
            await page.evaluate("window.cloudgreetDemo.agent.sendText('Do you have free times for a cleaning?')")
            await page.wait_for_function(
                "(window.cloudgreetDemo.agent.timings.toolMs || []).length > 0", timeout=30_000
            )
            timings = await page.evaluate("window.cloudgreetDemo.agent.timings")
            await page.locator("#hangup").click()
            await page.wait_for_function("document.body.dataset.mode === 'ended'")
            if n == 0:
                continue  # warm-up: first connections of the API, the fake and the browser
            tool_ms.extend(timings["toolMs"])
            samples.append(
                {
                    "first_audio_ms": timings["firstAudioAt"] - timings["pressedAt"],
                    "ready_ms": timings["readyMs"],
                    "mic_ms": timings["micAt"] - timings["pressedAt"],
                    "offer_ms": timings["offerAt"] - timings["micAt"],
                    "server_ms": timings["answerAt"] - timings["offerAt"],
                    "connect_ms": timings["readyAt"] - timings["answerAt"],
                    "greeting_ms": timings["firstAudioAt"] - timings["readyAt"],
                    "playwright_ms": outside_ms,
                }
            )
        await browser.close()
    report = {key: percentiles([s[key] for s in samples]) for key in samples[0]} | {"sessions": len(samples)}
    return report | {"tool_ms": percentiles(tool_ms)}


async def web_turns(api_url: str, calls: int, turns: int) -> dict:
    round_trips: list[float] = []
    server: list[float] = []
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:
        businesses = (await http.get("/demo")).text
        business_id = int(businesses.split('<option value="', 1)[1].split('"', 1)[0])
        for n in range(calls + 1):
            call = (await http.post("/api/web-calls", json={"business_id": business_id})).raise_for_status().json()
            token = {"conversation_token": call["conversation_token"]}
            for turn in range(turns):
                words = f"{LINES[turn % len(LINES)]} ({n}.{turn})" if turn < turns - 1 else "Thanks, bye"
                started = time.perf_counter()
                reply = (
                    (await http.post(f"/api/web-calls/{call['call_id']}/turns", json={"text": words, **token}))
                    .raise_for_status()
                    .json()
                )
                if n > 0:  # the first conversation warms up
                    round_trips.append((time.perf_counter() - started) * 1000)
                    server.append(reply["turn_ms"])
                if reply["ended"]:
                    break
            else:
                await http.post(f"/api/web-calls/{call['call_id']}/hangup", json=token)
    return {"round_trip_ms": percentiles(round_trips), "api_turn_ms": percentiles(server), "turns": len(round_trips)}


def line(label: str, p: dict) -> str:
    return f"  {label:<44} p50 {p['p50']:7.1f} ms   p90 {p['p90']:7.1f} ms   max {p['max']:7.1f} ms"


def print_report(report: dict) -> None:
    ready = report["orb_to_first_audio"]
    print(f"\norb pressed -> first audio, through the server ({ready['sessions']} sessions, fake Realtime endpoint):")
    for key, label in [
        ("first_audio_ms", "total (page clock)"),
        ("mic_ms", "  microphone"),
        ("offer_ms", "  offer + ICE gathering"),
        ("server_ms", "  offer -> API -> calls.create -> answer"),
        ("connect_ms", "  ICE/DTLS/SCTP -> session.created"),
        ("greeting_ms", "  greeting asked -> first audio"),
        ("ready_ms", "orb -> session ready (page clock)"),
        ("playwright_ms", "orb -> first audio (Playwright's clock)"),
    ]:
        print(line(label, ready[key]))
    print(f"\ntool call -> result over the control channel ({ready['tool_ms']['count']} calls, page clock):")
    print(line("function_call_arguments.done -> output item", ready["tool_ms"]))
    turns = report["web_turns"]
    print(f"\nweb channel turns ({turns['turns']} turns, fake LLM brain):")
    for key, label in [("round_trip_ms", "browser round trip"), ("api_turn_ms", "API turn_ms")]:
        print(line(label, turns[key]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="Realtime sessions to time (default 20)")
    parser.add_argument("--calls", type=int, default=20, help="web conversations (default 20)")
    parser.add_argument("--turns", type=int, default=5, help="caller turns per web conversation (default 5)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    args = parser.parse_args(argv)
    if min(args.sessions, args.calls, args.turns) < 1:
        parser.error("--sessions, --calls and --turns must be at least 1")
    if not os.path.exists(CHROMIUM):
        print(f"demo_latency: no Chromium at {CHROMIUM}; run scripts/install-browser", file=sys.stderr)
        return 1
    # A benchmark opens more sessions from one address than a visitor may.
    os.environ["REALTIME_SESSIONS_PER_CLIENT"] = os.environ["REALTIME_SESSIONS_PER_BUSINESS"] = str(
        10 * (args.sessions + 1)
    )
    os.environ["WEB_CONVERSATIONS_PER_BUSINESS_PER_HOUR"] = str(10 * (args.calls + 1))
    os.environ["REALTIME_MINUTES_PER_BUSINESS_PER_DAY"] = os.environ["REALTIME_MINUTES_PER_DAY"] = str(
        10 * (args.sessions + 1)
    )

    def measured(stack: BenchStack, _: Path) -> dict:
        api_url = f"http://127.0.0.1:{stack.ports.api}"

        async def measure() -> dict:
            return {
                "orb_to_first_audio": await orb_to_first_audio(api_url, stack.fake_llm_url, args.sessions),
                "web_turns": await web_turns(api_url, args.calls, args.turns),
            }

        return asyncio.run(measure())

    return run_on_a_stack("demo_latency", measured, print_report, args.json)


if __name__ == "__main__":
    sys.exit(main())

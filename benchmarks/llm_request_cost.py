"""CPU of one LLM request in the worker before it leaves: the SDK's typed path beside the one CloudGreet takes.

    python -m benchmarks.llm_request_cost [--turns 1 8 20] [--requests 200]

For a phone call of N caller turns (the demo business's instructions, the tools, the turns said so
far), it sends the streaming chat request of the next reply through the real `openai` SDK to an
in-process transport that answers at once, and reports the CPU per request:

  typed         `messages` and `tools` as `create()` arguments: the SDK walks them against its
                TypedDict unions before it sends them
  extra_body    as `activities/caller_reply.py` sends them: empty lists in their places, the
                conversation and tools in `extra_body`, merged after that walk
  json.dumps    the body encoded, the floor of any client

It also checks that both paths send the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime

import httpx2
import openai

from business.config import demo_business
from business.instructions import build_instructions
from receptionist.tools import chat_completion_tools

REQUEST = {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 250}


def conversation(turns: int) -> list[dict]:
    business = demo_business()
    messages: list[dict] = [{"role": "system", "content": build_instructions(business, now=datetime.now(UTC))}]
    for turn in range(turns - 1):
        messages.append({"role": "user", "content": f"Could I book a cleaning for next week, turn {turn}?"})
        messages.append({"role": "assistant", "content": "Of course. We have Tuesday at ten or Thursday at two."})
    messages.append({"role": "user", "content": "Thursday at two works for me, thanks."})
    return messages


async def cpu_per_request(client: openai.AsyncOpenAI, requests: int, **arguments) -> float:
    async def one() -> None:
        stream = await client.chat.completions.create(**REQUEST, **arguments)
        async for _ in stream:
            pass

    for _ in range(10):  # warm: the SDK's caches of type hints
        await one()
    started = time.process_time()
    for _ in range(requests):
        await one()
    return (time.process_time() - started) / requests * 1000


def recording_client() -> tuple[openai.AsyncOpenAI, list[bytes]]:
    """The real SDK on an in-process transport that answers each request with an empty stream at once;
    the list gets the body of every request sent."""
    sent: list[bytes] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.content)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=b"data: [DONE]\n\n")

    http = openai.DefaultAsyncHttpxClient(transport=httpx2.MockTransport(answer))
    return openai.AsyncOpenAI(api_key="bench", base_url="http://llm.invalid/v1", http_client=http), sent


async def measure(turn_counts: list[int], requests: int) -> None:
    client, sent = recording_client()
    tools = chat_completion_tools()
    print(f"CPU per streaming chat request, ms (mean of {requests}; the transport answers at once)")
    print(f"{'turns':>5} {'messages':>8} {'body KB':>8} {'typed':>8} {'extra_body':>11} {'json.dumps':>11}  same bytes")
    for turns in turn_counts:
        messages = conversation(turns)
        typed = await cpu_per_request(client, requests, messages=messages, tools=tools)
        typed_body = sent[-1]
        bypass = await cpu_per_request(
            client, requests, messages=[], tools=[], extra_body={"messages": messages, "tools": tools}
        )
        started = time.process_time()
        for _ in range(requests):
            json.dumps({**REQUEST, "messages": messages, "tools": tools})
        floor = (time.process_time() - started) / requests * 1000
        print(
            f"{turns:>5} {len(messages):>8} {len(typed_body) / 1024:>8.1f} {typed:>8.2f} {bypass:>11.2f} "
            f"{floor:>11.3f}  {'yes' if sent[-1] == typed_body else 'NO'}"
        )
    await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm_request_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[1, 8, 20], help="caller turns of the call")
    parser.add_argument("--requests", type=int, default=200, help="requests measured per row")
    args = parser.parse_args(argv)
    if min(args.turns) < 1 or args.requests < 1:
        parser.error("--turns and --requests must be at least 1")
    asyncio.run(measure(args.turns, args.requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

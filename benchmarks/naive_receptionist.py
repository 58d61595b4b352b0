"""The naive baseline of the benchmarks: the simplest receptionist that answers the same calls.

    python -m benchmarks.naive_receptionist --port 8300    (TELNYX_*, OPENAI_* as for CloudGreet)

One process, no durability: it verifies each webhook's Ed25519 signature, keeps every call's
conversation in a dict, and on a final transcription streams the LLM and sends each sentence as a
`speak` command through the telnyx SDK, as soon as the sentence is complete. A crash loses every
call; nothing is recorded; no tools, no escalation. What CloudGreet does on top of this (Temporal,
the database, the workflow's decisions) is what `cloudgreet bench turns` and `cloudgreet bench
capacity` measure beside it, as ratios to this handler's figures in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import nacl.exceptions
import nacl.signing
import openai
import telnyx
import uvicorn
from fastapi import FastAPI, Request, Response

GREETING = "Thanks for calling. How can I help you today?"
INSTRUCTIONS = "You are a friendly receptionist on the phone. Answer briefly."
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Call:
    messages: list[dict[str, str]] = field(default_factory=lambda: [{"role": "system", "content": INSTRUCTIONS}])
    reply: asyncio.Task[None] | None = None
    commands: int = 0

    def command_id(self) -> str:
        self.commands += 1
        return f"naive-{self.commands}"


def create_app() -> FastAPI:
    verify_key = nacl.signing.VerifyKey(base64.b64decode(os.environ["TELNYX_PUBLIC_KEY"]))
    actions = telnyx.AsyncTelnyx(
        api_key=os.environ["TELNYX_API_KEY"], base_url=os.environ["TELNYX_BASE_URL"], max_retries=0
    ).calls.actions
    llm = openai.AsyncOpenAI(
        api_key=os.environ["OPENAI_API_KEY"], base_url=os.environ["OPENAI_BASE_URL"], max_retries=0
    )
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    calls: dict[str, Call] = {}
    tasks: set[asyncio.Task[None]] = set()

    def later(work: Any) -> None:
        task = asyncio.create_task(work)
        tasks.add(task)  # held until done, so the loop does not drop it
        task.add_done_callback(tasks.discard)

    async def speak(call_id: str, call: Call, text: str) -> None:
        await actions.speak(call_id, payload=text, voice="female", language="en-US", command_id=call.command_id())

    async def reply(call_id: str, call: Call) -> None:
        stream = await llm.chat.completions.create(model=model, messages=call.messages, stream=True)  # type: ignore[arg-type]
        said, pending = [], ""
        async for chunk in stream:
            pending += (chunk.choices[0].delta.content or "") if chunk.choices else ""
            *sentences, pending = SENTENCE_END.split(pending)
            for sentence in sentences:
                said.append(sentence)
                await speak(call_id, call, sentence)
        if pending.strip():
            said.append(pending.strip())
            await speak(call_id, call, pending.strip())
        call.messages.append({"role": "assistant", "content": " ".join(said)})

    async def on_event(event_type: str, payload: dict[str, Any]) -> None:
        call_id = payload.get("call_control_id", "")
        if event_type == "call.initiated" and payload.get("direction") == "incoming":
            calls[call_id] = call = Call()
            await actions.answer(call_id, command_id=call.command_id())
        elif event_type == "call.hangup":
            gone = calls.pop(call_id, None)
            if gone and gone.reply:
                gone.reply.cancel()
        elif (call := calls.get(call_id)) is None:
            return
        elif event_type == "call.answered":
            await actions.start_transcription(call_id, transcription_tracks="inbound", command_id=call.command_id())
            await speak(call_id, call, GREETING)
        elif event_type == "call.transcription":
            data = payload.get("transcription_data") or {}
            if data.get("is_final") and (words := (data.get("transcript") or "").strip()):
                if call.reply and not call.reply.done():
                    call.reply.cancel()  # the caller spoke again: answer the newest words
                call.messages.append({"role": "user", "content": words})
                call.reply = asyncio.create_task(reply(call_id, call))

    app = FastAPI()

    @app.post("/api/telnyx/voice-handler")
    async def webhook(request: Request) -> Response:
        raw = await request.body()
        timestamp = request.headers.get("telnyx-timestamp", "")
        try:
            if abs(time.time() - int(timestamp)) > 300:
                return Response(status_code=403)
            signature = base64.b64decode(request.headers.get("telnyx-signature-ed25519", ""), validate=True)
            verify_key.verify(f"{timestamp}|".encode() + raw, signature)
        except (ValueError, nacl.exceptions.BadSignatureError):
            return Response(status_code=403)
        data = json.loads(raw).get("data") or {}
        later(on_event(data.get("event_type", ""), data.get("payload") or {}))
        return Response(status_code=200)

    @app.get("/api/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "up"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="naive_receptionist", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8300)
    args = parser.parse_args()
    uvicorn.run(create_app, factory=True, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""The simulator's HTTP app: the Call Control API our app talks to, and the /simulator control API.

Under /v2 it serves what the real `telnyx` SDK calls (call commands, dial, messages, balance,
numbers for sale and number orders), answered as Telnyx answers. Under /simulator it serves what a person at a terminal or a test on
another process needs: place a call, script who answers a dial, read the record of calls and
messages (`cloudgreet simulate` and the turn latency benchmark use it).
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from simulator.call_script import CallScript
from simulator.telnyx.commands import AUTH_FAILED, NOT_A_JSON_OBJECT, authorized, telnyx_error
from simulator.telnyx.recordings import AUDIO
from simulator.telnyx.simulator import TelnyxSimulator


class IncomingText(BaseModel):
    """Body of POST /simulator/texts: a person texts one of our numbers."""

    model_config = ConfigDict(extra="forbid")

    from_number: str
    to_number: str
    text: str


class OutboundExpectation(BaseModel):
    """Body of POST /simulator/outbound-expectations: who answers our app's next dial to a number."""

    model_config = ConfigDict(extra="forbid")

    to_number: str
    script: CallScript = Field(default_factory=CallScript)


def create_simulator_app(simulator: TelnyxSimulator) -> FastAPI:
    """The Call Control API under /v2 plus the /simulator control API, on one app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await simulator.aclose()

    app = FastAPI(title="CloudGreet Telnyx simulator", lifespan=lifespan)

    @app.post("/v2/calls/{call_control_id}/actions/{action}")
    async def call_command(call_control_id: str, action: str, request: Request) -> JSONResponse:
        body = await _command_body(request)
        if body is None:
            return JSONResponse(NOT_A_JSON_OBJECT, 400)
        status, answer = simulator.handle_command(call_control_id, action, body, request.headers.get("authorization"))
        return JSONResponse(answer, status)

    @app.post("/v2/calls")
    async def dial(request: Request) -> JSONResponse:
        body = await _command_body(request)
        if body is None:
            return JSONResponse(NOT_A_JSON_OBJECT, 400)
        status, answer = simulator.dial(body, request.headers.get("authorization"))
        return JSONResponse(answer, status)

    @app.get("/v2/balance")
    async def balance(request: Request) -> JSONResponse:
        # The cheap authenticated GET that CloudGreet's health check makes, answered as Telnyx does.
        if not authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        return JSONResponse(
            {
                "data": {
                    "record_type": "balance",
                    "balance": "100.00",
                    "credit_limit": "0.00",
                    "available_credit": "100.00",
                    "pending": "0.00",
                    "currency": "USD",
                }
            }
        )

    @app.post("/v2/messages")
    async def send_message(request: Request) -> JSONResponse:
        body = await _command_body(request)
        if body is None:
            return JSONResponse(NOT_A_JSON_OBJECT, 400)
        status, answer = simulator.send_message(
            body, request.headers.get("authorization"), request.headers.get("idempotency-key")
        )
        return JSONResponse(answer, status)

    @app.get("/v2/available_phone_numbers")
    async def available_numbers(request: Request) -> JSONResponse:
        if not authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        status, answer = simulator.numbers.search(list(request.query_params.multi_items()))
        return JSONResponse(answer, status)

    @app.get("/v2/phone_numbers")
    async def our_numbers(request: Request) -> JSONResponse:
        if not authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        status, answer = simulator.numbers.owned(list(request.query_params.multi_items()))
        return JSONResponse(answer, status)

    @app.post("/v2/number_orders")
    async def order_numbers(request: Request) -> JSONResponse:
        if not authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        body = await _command_body(request)
        if body is None:
            return JSONResponse(NOT_A_JSON_OBJECT, 400)
        status, answer = simulator.numbers.order(body)
        return JSONResponse(answer, status)

    @app.get("/v2/number_orders/{order_id}")
    async def number_order(order_id: str, request: Request) -> JSONResponse:
        if not authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        status, answer = simulator.numbers.retrieve(order_id)
        return JSONResponse(answer, status)

    @app.get("/v2/recordings/{recording_id}")
    async def retrieve_recording(recording_id: str, request: Request) -> JSONResponse:
        # Each answer carries download URLs good for 10 minutes from now, as Telnyx's do.
        if not authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        recording = simulator.recordings.get(recording_id)
        if recording is None or recording.deleted:
            return JSONResponse(no_such_recording(recording_id), 404)
        return JSONResponse({"data": recording.resource(simulator.public_url)})

    @app.delete("/v2/recordings/{recording_id}")
    async def delete_recording(recording_id: str, request: Request) -> JSONResponse:
        if not authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        recording = simulator.recordings.get(recording_id)
        if recording is None or recording.deleted:
            return JSONResponse(no_such_recording(recording_id), 404)
        recording.deleted = True
        return JSONResponse({"data": recording.resource(simulator.public_url)})

    @app.get("/simulator/recording-files/{recording_id}.{audio_format}")
    async def recording_file(recording_id: str, audio_format: str, token: str = "") -> Response:
        """A download URL: only while its token is fresh and the recording not deleted."""
        recording = simulator.recordings.get(recording_id)
        if recording is None or audio_format != recording.format or not recording.may_download(token):
            return Response("Request has expired or the recording does not exist", 403, media_type="text/plain")
        audio, media_type = AUDIO[recording.format]
        return Response(audio, media_type=media_type)

    @app.post("/simulator/outbound-expectations", status_code=201)
    async def expect_outbound_call(expectation: OutboundExpectation) -> dict[str, Any]:
        simulator.expect_outbound_call(expectation.to_number, expectation.script)
        return {"to_number": expectation.to_number, "pending": len(simulator._outbound_scripts[expectation.to_number])}

    @app.get("/simulator/messages")
    async def list_messages() -> list[dict[str, Any]]:
        return [asdict(message) for message in simulator.messages]

    @app.post("/simulator/texts", status_code=201)
    async def receive_text(text: IncomingText) -> dict[str, Any]:
        received = await simulator.receive_text(text.from_number, text.to_number, text.text)
        return {"message_id": received.message_id, "statuses": received.statuses}

    @app.post("/simulator/calls", status_code=201)
    async def place_call(script: CallScript) -> dict[str, str]:
        call = await simulator.place_call(script)
        return {"call_control_id": call.call_control_id}

    @app.get("/simulator/calls")
    async def list_calls() -> list[dict[str, Any]]:
        return [call.summary() for call in simulator.calls.values()]

    @app.get("/simulator/calls/{call_control_id}")
    async def get_call(call_control_id: str) -> dict[str, Any]:
        call = simulator.calls.get(call_control_id)
        if call is None:
            raise HTTPException(404, f"no simulated call {call_control_id!r}")
        return call.to_json()

    return app


def no_such_recording(recording_id: str) -> dict[str, Any]:
    return telnyx_error("10005", "Resource not found", f"No recording with id {recording_id!r}.")


async def _command_body(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

"""The fake's Realtime API over HTTP: client secrets, the WebRTC SDP exchange, its control endpoints.

A session's `sdp_url` (`{OPENAI_BASE_URL}/realtime/calls`) points here whenever the API's
`OPENAI_BASE_URL` points at the fake. The browser posts its SDP offer with the ephemeral key as
Bearer, exactly as it would to OpenAI, and a `RealtimePeer` answers. Every offer is recorded
(`FakeRealtime.calls`, `GET /_fake/realtime`).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from simulator.fake_openai.errors import openai_error, unauthorized
from simulator.fake_openai.realtime_peer import RealtimePeer
from simulator.fake_openai.realtime_state import FakeRealtime, FakeRealtimeBehaviour, FakeRealtimeCall
from simulator.fake_openai.state import FakeOpenAI

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "authorization, content-type",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Expose-Headers": "Location",
}


def _error(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"message": message, "type": type_, "param": None, "code": code}},
        headers=CORS_HEADERS,
    )


def install_realtime_api(app: FastAPI, llm: FakeOpenAI) -> None:
    """Adds `POST /v1/realtime/client_secrets`, `POST /v1/realtime/calls` (the WebRTC SDP exchange)
    and `/_fake/realtime` to the fake app.

    `llm` is the fake's state: its behaviour decides what the model says, its `realtime`
    attribute holds the Realtime state.
    """
    realtime: FakeRealtime = llm.realtime

    @app.post("/v1/realtime/client_secrets")
    async def create_realtime_client_secret(request: Request) -> Any:
        """An ephemeral key for a browser's Realtime session, answered as OpenAI's GA API does."""
        if (denied := unauthorized(request)) is not None:
            return denied
        try:
            body = json.loads(await request.body())
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.", type="invalid_request_error")
        if not isinstance(body, dict):
            return openai_error(400, "The request body must be a JSON object.", type="invalid_request_error")
        session = body.get("session")
        if session is not None and (
            not isinstance(session, dict) or session.get("type") not in ("realtime", "transcription")
        ):
            return openai_error(
                400,
                "Invalid value for 'session.type': expected 'realtime' or 'transcription'.",
                type="invalid_request_error",
                param="session.type",
            )
        if (status := realtime.take_secret_refusal()) is not None:
            return openai_error(
                status,
                realtime.behaviour.refuse_secrets_message,
                type="invalid_request_error",
                param="session.model",
            )
        return realtime.issue_secret(body)

    @app.options("/v1/realtime/calls")
    async def calls_preflight() -> Response:
        return Response(status_code=204, headers=CORS_HEADERS)

    @app.post("/v1/realtime/calls")
    async def create_call(request: Request) -> Response:
        record = FakeRealtimeCall(
            call_id=realtime.next_id("rtc"), received_at=time.time(), authorization=request.headers.get("authorization")
        )
        with realtime._lock:
            realtime.calls.append(record)

        def answered(response: Response) -> Response:
            record.status_code = response.status_code
            return response

        token, session = realtime.secret_session(record.authorization)
        record.secret = token
        if token is None:
            return answered(_error(401, "You didn't provide an API key.", code="invalid_api_key"))
        if session is None:
            return answered(_error(401, "Incorrect or expired ephemeral key provided.", code="invalid_api_key"))
        if (status := realtime.take_call_refusal()) is not None:
            return answered(
                _error(
                    status,
                    "The Realtime service is unavailable (refused by the fake Realtime API).",
                    type_="server_error",
                )
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/sdp":
            return answered(_error(400, "Send the SDP offer with Content-Type: application/sdp."))
        offer = (await request.body()).decode(errors="replace")
        if not offer.startswith("v=0"):
            return answered(_error(400, "The body is not an SDP offer."))
        try:
            import aiortc  # noqa: F401  (only asks whether the optional WebRTC peer is installed)
        except ImportError:
            return answered(
                _error(501, "The fake Realtime endpoint needs aiortc (pip install aiortc).", type_="server_error")
            )
        peer = RealtimePeer(realtime, llm, record, session)
        realtime._peers.append(peer)
        try:
            answer = await peer.answer(offer)
        except Exception as error:  # noqa: BLE001  (a malformed offer is the client's problem: say so)
            await peer.close()
            return answered(_error(400, f"The SDP offer could not be used: {error}"))
        return answered(
            Response(
                content=answer,
                status_code=201,
                media_type="application/sdp",
                headers={**CORS_HEADERS, "Location": f"/v1/realtime/calls/{record.call_id}"},
            )
        )

    @app.get("/_fake/realtime")
    async def realtime_records() -> dict[str, Any]:
        return realtime.snapshot()

    @app.put("/_fake/realtime/behaviour")
    async def realtime_behaviour(new: FakeRealtimeBehaviour) -> FakeRealtimeBehaviour:
        realtime.set_behaviour(new)
        return new

    @app.delete("/_fake/realtime")
    async def realtime_reset() -> dict[str, Any]:
        peers, realtime._peers = realtime._peers, []
        await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)
        realtime.reset()
        return {"cleared": True}

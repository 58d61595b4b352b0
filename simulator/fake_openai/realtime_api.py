"""The fake's Realtime API: client secrets, the WebRTC SDP exchange, the WebSocket session
(`client.realtime.connect(model=...)`), its control endpoints.

A session's `sdp_url` (`{OPENAI_BASE_URL}/realtime/calls`) points here whenever the API's
`OPENAI_BASE_URL` points at the fake. The browser posts its SDP offer with the ephemeral key as
Bearer, exactly as it would to OpenAI, and a `RealtimePeer` answers. Every offer is recorded
(`FakeRealtime.calls`, `GET /_fake/realtime`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from openai.types.realtime import RealtimeTranscriptionSessionCreateRequest
from openai.types.realtime.call_refer_params import CallReferParams
from openai.types.realtime.call_reject_params import CallRejectParams
from starlette.datastructures import UploadFile

from simulator.fake_openai.errors import openai_error, unauthorized
from simulator.fake_openai.fake_speech import silence, spoken
from simulator.fake_openai.realtime_conversation import RealtimeConversation
from simulator.fake_openai.realtime_peer import RealtimePeer
from simulator.fake_openai.realtime_rules import (
    RealtimeRefusal,
    check_expires_after,
    check_params,
    check_session,
    strictly,
)
from simulator.fake_openai.realtime_sip import IncomingSipCall, SipCall, incoming_event, signed_webhook, webhook_body
from simulator.fake_openai.realtime_state import FakeRealtime, FakeRealtimeBehaviour, FakeRealtimeCall
from simulator.fake_openai.state import FakeOpenAI

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "authorization, content-type",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Expose-Headers": "Location",
}


def _error(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"message": message, "type": type_, "param": param, "code": code}},
        headers=CORS_HEADERS,
    )


def check_client_secret_request(body: dict[str, Any]) -> None:
    """`POST /v1/realtime/client_secrets` as the GA API checks it (the SDK's types, strictly)."""
    for key in body:
        if key not in ("session", "expires_after"):
            raise RealtimeRefusal("unknown_parameter", f"Unknown parameter: '{key}'.", key)
    check_expires_after(body.get("expires_after"))
    session = body.get("session")
    if session is None:
        return
    if not isinstance(session, dict):
        raise RealtimeRefusal("invalid_type", "Invalid type for 'session': expected an object.", "session")
    if session.get("type") == "transcription":
        strictly(RealtimeTranscriptionSessionCreateRequest, session, "session")
    else:
        check_session(session)


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
        try:
            check_client_secret_request(body)
        except RealtimeRefusal as refused:
            realtime.refusals.append({"call_id": None, "event": body, "error": refused.error})
            return openai_error(
                400,
                refused.error["message"],
                type="invalid_request_error",
                param=refused.error["param"],
                code=refused.error["code"],
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

        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type == "multipart/form-data":
            # The unified interface: the server posts the browser's offer and the session with its
            # own API key (`client.realtime.calls.create(sdp=..., session=...)`).
            record.created_with = "api_key"
            if request.headers.get("authorization", "").partition(" ")[2].strip() == "":
                return answered(_error(401, "You didn't provide an API key.", code="invalid_api_key"))
            form = await request.form()
            sdp, requested = form.get("sdp"), form.get("session")
            offer = (await sdp.read()).decode(errors="replace") if isinstance(sdp, UploadFile) else str(sdp or "")
            try:
                raw_session = (await requested.read()) if isinstance(requested, UploadFile) else requested
                wanted = json.loads(raw_session) if raw_session else {"type": "realtime"}
                if not isinstance(wanted, dict):
                    raise RealtimeRefusal("invalid_type", "Invalid type for 'session': expected an object.", "session")
                record.requested_session = wanted
                check_session(wanted)
            except ValueError:
                return answered(_error(400, "The session part is not valid JSON.", code="invalid_json"))
            except RealtimeRefusal as refused:
                realtime.refusals.append({"call_id": record.call_id, "event": wanted, "error": refused.error})
                return answered(
                    _error(400, refused.error["message"], code=refused.error["code"], param=refused.error["param"])
                )
            session: dict[str, Any] | None = realtime.new_session(wanted)
        else:
            token, session = realtime.secret_session(record.authorization)
            record.secret = token
            if token is None:
                return answered(_error(401, "You didn't provide an API key.", code="invalid_api_key"))
            if session is None:
                return answered(_error(401, "Incorrect or expired ephemeral key provided.", code="invalid_api_key"))
            if content_type != "application/sdp":
                return answered(_error(400, "Send the SDP offer with Content-Type: application/sdp."))
            offer = (await request.body()).decode(errors="replace")
        if (status := realtime.take_call_refusal()) is not None:
            return answered(
                _error(
                    status,
                    "The Realtime service is unavailable (refused by the fake Realtime API).",
                    type_="server_error",
                )
            )
        if not offer.startswith("v=0"):
            return answered(_error(400, "The body is not an SDP offer."))
        try:
            import aiortc  # noqa: F401  (only asks whether the optional WebRTC peer is installed)
        except ImportError:
            return answered(
                _error(501, "The fake Realtime endpoint needs aiortc (pip install aiortc).", type_="server_error")
            )
        assert session is not None
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

    def peer_of(call_id: str) -> RealtimePeer | SipCall | None:
        """A call still going on: a WebRTC peer, or a SIP call (ringing or accepted)."""
        return next(
            (
                p
                for p in realtime._peers
                if p.record.call_id == call_id and not p.record.hung_up and p.record.sip_status != "referred"
            ),
            None,
        )

    def sip_call(call_id: str, *, status: str) -> SipCall | None:
        call = peer_of(call_id)
        return call if isinstance(call, SipCall) and call.record.sip_status == status else None

    @app.post("/_fake/realtime/sip/incoming")
    async def sip_incoming(incoming: IncomingSipCall) -> dict[str, Any]:
        """A phone call reaches OpenAI's SIP URI: the call, and its signed webhook to the project."""
        record = FakeRealtimeCall(
            call_id=realtime.next_id("rtc"), received_at=time.time(), created_with="sip", sip_status="ringing"
        )
        with realtime._lock:
            realtime.calls.append(record)
        realtime._peers.append(SipCall(realtime, llm, record))
        body = webhook_body(incoming_event(record.call_id, incoming))
        secret = (
            "whsec_" + base64.b64encode(b"not the project's secret").decode() if incoming.forged else incoming.secret
        )
        stamp = int(time.time()) - 600 if incoming.stale else None
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                incoming.webhook_url, content=body, headers=signed_webhook(body, secret, timestamp=stamp)
            )
        record.webhook_status = answer.status_code
        return {"call_id": record.call_id, "webhook_status": answer.status_code}

    @app.post("/_fake/realtime/sip/{call_id}/say")
    async def sip_caller_says(call_id: str, said: dict[str, str]) -> dict[str, Any]:
        """The caller speaks on an accepted call: audio into its server VAD, then a pause."""
        call = sip_call(call_id, status="accepted")
        if call is None or call.conversation is None:
            return {"heard": False}
        call.conversation.hear(spoken(said.get("words", "")) + silence(800))
        return {"heard": True}

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise RealtimeRefusal("invalid_json", "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise RealtimeRefusal("invalid_type", "The request body must be a JSON object.")
        return body

    def refused_request(call_id: str, body: Any, refused: RealtimeRefusal) -> JSONResponse:
        realtime.refusals.append({"call_id": call_id, "event": body, "error": refused.error})
        return _error(400, refused.error["message"], code=refused.error["code"], param=refused.error["param"])

    def no_call(call_id: str, what: str) -> JSONResponse:
        return _error(404, f"No {what} call '{call_id}'.", code="not_found", param="call_id")

    @app.post("/v1/realtime/calls/{call_id}/accept")
    async def sip_accept(call_id: str, request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        body: Any = None
        try:
            body = await json_body(request)
            check_session(body, prefix="")
        except RealtimeRefusal as refused:
            return refused_request(call_id, body, refused)
        call = sip_call(call_id, status="ringing")
        if call is None:
            return no_call(call_id, "ringing")
        call.record.sip_status = "accepted"
        call.accept(realtime.new_session(body))
        return Response(status_code=200)

    @app.post("/v1/realtime/calls/{call_id}/reject")
    async def sip_reject(call_id: str, request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        body: Any = None
        try:
            body = await json_body(request)
            check_params(CallRejectParams, body)
        except RealtimeRefusal as refused:
            return refused_request(call_id, body, refused)
        call = sip_call(call_id, status="ringing")
        if call is None:
            return no_call(call_id, "ringing")
        call.record.sip_status = "rejected"
        call.record.hung_up = True
        return Response(status_code=200)

    @app.post("/v1/realtime/calls/{call_id}/refer")
    async def sip_refer(call_id: str, request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        body: Any = None
        try:
            body = await json_body(request)
            check_params(CallReferParams, body)
            if not body["target_uri"]:
                raise RealtimeRefusal("invalid_value", "Invalid 'target_uri': empty.", "target_uri")
        except RealtimeRefusal as refused:
            return refused_request(call_id, body, refused)
        call = sip_call(call_id, status="accepted")
        if call is None:
            return no_call(call_id, "accepted")
        if (status := realtime.take_refer_refusal()) is not None:
            call.record.refused_refers.append(body["target_uri"])
            return _error(
                status, "The transfer could not be started (refused by the fake Realtime API).", "server_error"
            )
        # The caller is transferred: the call leaves the model (and its control channels).
        call.record.sip_status = "referred"
        call.record.referred_to = body["target_uri"]
        await call.close()
        return Response(status_code=200)

    async def join_call(websocket: WebSocket, call_id: str) -> None:
        """The control channel (sideband) of a call: every server event of the call, and client
        events into it, until the call ends."""
        peer = peer_of(call_id)
        if peer is None or peer.conversation is None:
            await websocket.close(code=1008)  # no such call (over, or still ringing): the upgrade is refused
            return
        conversation = peer.conversation
        await websocket.accept()
        peer.record.control_channels += 1
        outbox: asyncio.Queue[str] = asyncio.Queue()

        async def write() -> None:
            while True:
                await websocket.send_text(await outbox.get())

        async def end() -> None:
            while not outbox.empty():  # what the call said last still reaches the channel
                await websocket.send_text(outbox.get_nowait())
            await websocket.close()

        writer = asyncio.create_task(write())
        leave = conversation.join(outbox.put_nowait, end)
        try:
            while True:
                conversation.receive(await websocket.receive_text())
        except (WebSocketDisconnect, RuntimeError):  # the client left, or the call ended and closed it
            pass
        finally:
            leave()
            writer.cancel()

    @app.post("/v1/realtime/calls/{call_id}/hangup")
    async def hangup(call_id: str, request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        peer = peer_of(call_id)
        if peer is None:
            return _error(404, f"Call '{call_id}' not found.", code="not_found", param="call_id")
        peer.record.hung_up = True
        await peer.close()
        return Response(status_code=200)

    @app.websocket("/v1/realtime")
    async def realtime_websocket(websocket: WebSocket) -> None:
        """A Realtime session over WebSocket (`client.realtime.connect(model=...)`), with the API key."""
        scheme, _, token = (websocket.headers.get("authorization") or "").partition(" ")
        model = websocket.query_params.get("model")
        call_id = websocket.query_params.get("call_id")
        if scheme.lower() == "bearer" and token.strip() and call_id:
            await join_call(websocket, call_id)
            return
        if scheme.lower() != "bearer" or not token.strip() or not model:
            # The service refuses the upgrade itself: no key, or no model to start a session with.
            await websocket.close(code=1008)
            return
        await websocket.accept()
        record = FakeRealtimeCall(
            call_id=realtime.next_id("ws"), received_at=time.time(), authorization=f"{scheme} {token}", status_code=101
        )
        with realtime._lock:
            realtime.calls.append(record)
        outbox: asyncio.Queue[str] = asyncio.Queue()
        conversation = RealtimeConversation(
            realtime, llm, record, realtime.new_session({"model": model}), outbox.put_nowait, webrtc=False
        )

        async def write() -> None:
            while True:
                await websocket.send_text(await outbox.get())

        writer = asyncio.create_task(write())
        record.channel_open = True
        conversation.opened()
        try:
            while True:
                conversation.receive(await websocket.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            await conversation.close()
            writer.cancel()

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

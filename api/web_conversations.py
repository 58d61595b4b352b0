"""The web channel: a browser talks to the phone brain, turn by turn, through the same `CallWorkflow`.

It backs the fallback of the browser demo (when Realtime cannot be reached) and lets an owner
try their configuration without a phone number. Words go in by workflow update, so the reply
comes back in the same HTTP request.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.dependencies import SessionDep, SettingsDep
from api.realtime_session import rate_limiter, client_address, origin_allowed
from database.models import Business
from workflows.call import CallWorkflow
from workflows.call_messages import CallEvent, CallStart, WebWords, call_workflow_id

router = APIRouter(prefix="/api/web-calls", tags=["web channel"])


class WebCallRequest(BaseModel):
    business_id: int = Field(gt=0)


class WebCallStarted(BaseModel):
    call_id: str
    business_name: str
    greeting: str


class WebTurnRequest(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class WebTurnReply(BaseModel):
    reply: str
    ended: bool
    outcome: str | None = None
    turn_ms: float = Field(description="From the words reaching the API to the reply leaving it")


async def _client(request: Request):  # noqa: ANN202
    try:
        return await request.app.state.temporal.client()
    except RPCError as error:
        raise HTTPException(503, f"Temporal is unavailable: {error.message}") from None


@router.post("", response_model=WebCallStarted, status_code=201, responses={403: {}, 404: {}, 429: {}, 503: {}})
async def start_web_call(body: WebCallRequest, request: Request, session: SessionDep, settings: SettingsDep) -> WebCallStarted:
    # A page of a foreign site may not run conversations on our LLM; clients without a browser send no Origin.
    if request.headers.get("origin") is not None and not origin_allowed(request, settings)[0]:
        raise HTTPException(403, f"origin {request.headers['origin']} may not start web conversations")
    business = session.get(Business, body.business_id)
    if business is None:
        raise HTTPException(404, f"business {body.business_id} does not exist")
    wait = rate_limiter(request).try_hit([(("web-client", client_address(request)), settings.realtime_sessions_per_client)])
    if wait is not None:
        seconds = max(1, round(wait))
        raise HTTPException(429, f"too many conversations; try again in {seconds} seconds", headers={"Retry-After": str(seconds)})
    client = await _client(request)
    call_id = f"web-{uuid.uuid4().hex}"
    handle = await client.start_workflow(
        CallWorkflow.run,
        CallStart(call_control_id=call_id, channel="web", web_business_id=business.id),
        id=call_workflow_id(call_id),
        task_queue=settings.temporal_task_queue,
    )
    opening = await handle.execute_update(CallWorkflow.opening_words)
    return WebCallStarted(call_id=call_id, business_name=business.name, greeting=opening.text)


@router.post("/{call_id}/turns", response_model=WebTurnReply)
async def web_turn(call_id: str, body: WebTurnRequest, request: Request) -> WebTurnReply:
    started = time.perf_counter()
    handle = (await _client(request)).get_workflow_handle_for(CallWorkflow.run, call_workflow_id(call_id))
    try:
        reply = await handle.execute_update(CallWorkflow.caller_said, WebWords(text=body.text, sent_at=time.time()))
    except WorkflowUpdateFailedError as error:
        raise HTTPException(409, f"this conversation cannot take words: {error.cause}") from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, f"no web conversation {call_id} (it may have ended)") from None
        raise HTTPException(503, f"Temporal is unavailable: {error.message}") from None
    return WebTurnReply(
        reply=reply.text, ended=reply.ended, outcome=reply.outcome, turn_ms=round((time.perf_counter() - started) * 1000, 1)
    )


@router.post("/{call_id}/hangup", status_code=202)
async def hang_up_web_call(call_id: str, request: Request) -> dict:
    handle = (await _client(request)).get_workflow_handle(call_workflow_id(call_id))
    event = CallEvent(event_id=f"{call_id}-hangup", event_type="call.hangup", call_control_id=call_id, received_at=time.time(), hangup_cause="web_hangup")
    try:
        await handle.signal(CallWorkflow.telnyx_event, event)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, f"no web conversation {call_id} (it may have ended)") from None
        raise HTTPException(503, f"Temporal is unavailable: {error.message}") from None
    return {"status": "hanging up"}

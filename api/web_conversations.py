"""The web channel: a browser talks to the phone brain, turn by turn, through the same `CallWorkflow`.

It backs the fallback of the browser demo (when Realtime cannot be reached) and lets an owner
try their configuration without a phone number. Words go in by workflow update, so the reply
comes back in the same HTTP request.

Anyone on the internet may start one, so: the start gives a signed conversation token, without
which turns and hang-up answer 404 (`api/web_conversation_tokens.py`); starts are limited per
client and per business and hour, in the database so every replica shares the count
(`api/shared_limits.py`, 429 with Retry-After); a conversation ends politely at its cap of turns
or minutes. What the visitor reads has no private number in it (`receptionist/web_replies.py`).

A turn sent with an `Idempotency-Key` header is taken once: sent again with the same words (a
retry after a lost answer, a proxy's second try), it hears the first sending's reply. The key and
the words make the workflow update's id, which Temporal keeps unique per conversation, so no table
of ours keeps them.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.admin_auth import client_address
from api.dependencies import SessionDep, SettingsDep
from api.input_bounds import CallId, RowId
from api.realtime_session import origin_allowed
from api.shared_limits import seconds_until_allowed, within_limits
from api.upstream_errors import TRY_AGAIN_LATER, upstream_failure
from api.web_conversation_tokens import WebConversationGrant, issue_conversation_token, visitors_conversation
from business.config import BusinessConfig
from database.models import Business
from database.rate_limits import Allowance
from domain.vocabulary import CallOutcome, Channel
from workflows.call_messages import (
    CALL_WORKFLOW,
    CALLER_SAID_UPDATE,
    OPENING_WORDS_UPDATE,
    VISITOR_LEFT_SIGNAL,
    CallStart,
    WebReply,
    WebWords,
    call_workflow_id,
)
from workflows.call_options import CALL_WORKFLOW_TASK_TIMEOUT

router = APIRouter(prefix="/api/web-calls", tags=["web channel"])

TEMPORAL_DOWN = f"The phone assistant is unavailable right now; {TRY_AGAIN_LATER}"
SECRET_KEY_MISSING = "web conversations are off: SECRET_KEY, which signs their conversation token, is not set"
HOUR = 3600
# What a client may send as a turn's key: a UUID, or any short token of printable ASCII.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[!-~]+$",
        description="The same key again means the same turn sent again: its first reply, nothing said twice",
    ),
]
# A conversation's turn count is kept a little longer than the conversation may last.
TURN_COUNT_KEPT_SECONDS = 600


class WebCallRequest(BaseModel):
    business_id: RowId = Field(strict=True)  # `true` is not business 1


class WebCallStarted(BaseModel):
    call_id: str
    conversation_token: str = Field(description="Send it with every turn and the hang-up: they are yours alone")
    business_name: str
    greeting: str
    max_turns: int = Field(description="The conversation ends after this many turns")
    max_minutes: float = Field(description="... or after this long")


class ConversationProof(BaseModel):
    conversation_token: str | None = Field(default=None, max_length=2000, description="From the start's answer")


class WebTurnRequest(ConversationProof):
    text: str = Field(min_length=1, max_length=2000)


class WebTurnReply(BaseModel):
    reply: str
    ended: bool
    outcome: CallOutcome | None = None
    turn_ms: float = Field(description="From the words reaching the API to the reply leaving it")


async def _client(request: Request, **context: str) -> Client:
    try:
        client: Client = await request.app.state.temporal.client()
    except RPCError as error:
        raise upstream_failure(503, TEMPORAL_DOWN, "temporal", error, **context) from None
    return client


@router.post("", response_model=WebCallStarted, status_code=201, responses={403: {}, 404: {}, 429: {}, 503: {}})
async def start_web_call(
    body: WebCallRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> WebCallStarted:
    # A page of a foreign site may not run conversations on our LLM; clients without a browser send no Origin.
    if request.headers.get("origin") is not None and not origin_allowed(request, settings)[0]:
        raise HTTPException(403, f"origin {request.headers['origin']} may not start web conversations")
    if settings.secret_key is None:
        raise HTTPException(503, SECRET_KEY_MISSING)
    business = await run_in_threadpool(session.get, Business, body.business_id)
    if business is None or business.id is None:
        raise HTTPException(404, f"business {body.business_id} does not exist")
    await within_limits(
        settings,
        [
            Allowance(
                f"web-client:{client_address(request)}",
                settings.realtime_sessions_per_client,
                settings.realtime_rate_window_seconds,
            ),
            Allowance(f"web-business:{business.id}", settings.web_conversations_per_business_per_hour, HOUR),
        ],
        "conversations",
    )
    client = await _client(request)
    call_id = f"web-{uuid.uuid4().hex}"
    handle = await client.start_workflow(
        CALL_WORKFLOW,
        CallStart(call_control_id=call_id, channel=Channel.WEB, web_business_id=business.id),
        id=call_workflow_id(call_id),
        task_queue=settings.temporal_task_queue,
        task_timeout=CALL_WORKFLOW_TASK_TIMEOUT,
    )
    opening = await handle.execute_update(OPENING_WORDS_UPDATE, result_type=WebReply)
    return WebCallStarted(
        call_id=call_id,
        conversation_token=issue_conversation_token(
            settings, WebConversationGrant(call_id=call_id, business_id=business.id)
        ),
        business_name=business.name,
        greeting=opening.text,
        max_turns=settings.web_conversation_max_turns,
        max_minutes=settings.web_conversation_max_minutes,
    )


def _not_yours(call_id: str) -> HTTPException:
    # The same answer for a phone call's id, another visitor's conversation, a forged or missing token.
    return HTTPException(404, f"no web conversation {call_id} of yours (it may have ended)")


@router.post("/{call_id}/turns", response_model=WebTurnReply, responses={404: {}, 409: {}, 503: {}})
async def web_turn(
    call_id: CallId,
    body: WebTurnRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> WebTurnReply:
    started = time.perf_counter()
    visitors = visitors_conversation(settings, body.conversation_token, call_id)
    if visitors is None:
        raise _not_yours(call_id)
    handle = (await _client(request, call_id=call_id)).get_workflow_handle(call_workflow_id(call_id))
    max_minutes = settings.web_conversation_max_minutes
    if visitors.age_seconds >= max_minutes * 60:
        return await _end_at_cap(handle, session, visitors.grant, f"its time limit of {max_minutes:g} minutes")
    max_turns = settings.web_conversation_max_turns
    turns = Allowance(f"web-turns:{call_id}", max_turns, max_minutes * 60 + TURN_COUNT_KEPT_SECONDS, total=True)
    if await seconds_until_allowed(settings, [turns]) is not None:
        return await _end_at_cap(handle, session, visitors.grant, f"its limit of {max_turns} messages")
    try:
        reply = await handle.execute_update(
            CALLER_SAID_UPDATE,
            WebWords(text=body.text, sent_at=time.time()),
            id=turn_update_id(idempotency_key, body.text) if idempotency_key else None,
            result_type=WebReply,
        )
    except WorkflowUpdateFailedError as error:
        # The workflow's own refusals ("this conversation has ended") are ApplicationErrors; anything else is internal.
        why = error.cause.message if isinstance(error.cause, ApplicationError) else "it is not taking words now"
        raise HTTPException(409, f"this conversation cannot take words: {why}") from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise _not_yours(call_id) from None
        raise upstream_failure(503, TEMPORAL_DOWN, "temporal", error, call_id=call_id) from None
    return WebTurnReply(
        reply=reply.text,
        ended=reply.ended,
        outcome=reply.outcome,
        turn_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def turn_update_id(idempotency_key: str, text: str) -> str:
    """The words are part of it: a client that sends other words under a key already used is not
    answered with the reply to the old ones (Temporal answers an update id it knows from its record)."""
    return f"turn-{idempotency_key}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


async def _end_at_cap(
    handle: WorkflowHandle[Any, Any], session: Session, grant: WebConversationGrant, cap: str
) -> WebTurnReply:
    """A conversation at its cap says so, and how to go on, and ends; its words go nowhere."""
    started = time.perf_counter()
    await _visitor_left(handle, call_id=grant.call_id)
    business = await run_in_threadpool(session.get, Business, grant.business_id)
    config = BusinessConfig.model_validate(business.config) if business else None
    call_us = f" at {config.phone_number}" if config and config.phone_number else ""
    return WebTurnReply(
        reply=f"This chat has reached {cap}. To go on, please call us{call_us}. Goodbye!",
        ended=True,
        turn_ms=round((time.perf_counter() - started) * 1000, 1),
    )


async def _visitor_left(handle: WorkflowHandle[Any, Any], **context: str) -> None:
    try:
        await handle.signal(VISITOR_LEFT_SIGNAL)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it has ended already
            raise upstream_failure(503, TEMPORAL_DOWN, "temporal", error, **context) from None


@router.post("/{call_id}/hangup", status_code=202, responses={404: {}, 503: {}})
async def hang_up_web_call(
    call_id: CallId, request: Request, settings: SettingsDep, body: ConversationProof | None = None
) -> dict[str, str]:
    if body is None or visitors_conversation(settings, body.conversation_token, call_id) is None:
        raise _not_yours(call_id)
    handle = (await _client(request, call_id=call_id)).get_workflow_handle(call_workflow_id(call_id))
    await _visitor_left(handle, call_id=call_id)
    return {"status": "hanging up"}

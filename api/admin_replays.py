"""Try a change on past calls from the admin side: replay calls with a draft configuration or model,
and keep sets of calls as the regression check of configuration changes (README "Replays").

The configuration page's "Try on past calls" button posts the form's draft here; `cloudgreet
replay` does the same from a terminal. Nothing a replay does reaches a caller or the calendar
(activities/call_replay.py).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session

from api.admin_api import get_business
from api.admin_auth import AdminApi
from api.dependencies import SessionDep
from api.input_bounds import INVALID_INPUT, CallId, RowId
from business.config import BusinessConfig
from database.engine import get_engine
from database.replay_queries import UnknownCall, latest_calls, recorded_call, save_set, saved_set, set_names

api = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminApi])

MAX_CALLS = 20
SetName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")]


class ReplayAsk(BaseModel):
    call_ids: list[CallId] = Field(
        default_factory=list, max_length=MAX_CALLS, description="Empty: see set_name, latest"
    )
    set_name: SetName | None = Field(default=None, description="Replay this saved set's calls")
    latest: int = Field(default=5, ge=1, le=MAX_CALLS, description="With no calls named: the business's latest calls")
    config: dict[str, Any] | None = Field(default=None, description="Draft fields that replace the business's own")
    model: str | None = Field(
        default=None, max_length=100, description="The LLM to answer with instead of OPENAI_MODEL"
    )


class ReplaySetInfo(BaseModel):
    name: SetName
    call_ids: list[CallId] = Field(min_length=1, max_length=MAX_CALLS)


@api.post("/businesses/{business_id}/replays", responses={404: {"description": "No such business"}, **INVALID_INPUT})
async def replay_calls(business_id: RowId, ask: ReplayAsk, request: Request, session: SessionDep) -> dict[str, Any]:
    """The calls replayed with the draft: then and now, turn by turn; `tools_differ` is the regression check."""
    from activities.call_replay import CallReplayer, draft_of  # the LLM and Telnyx SDKs: when a replay is asked

    business = get_business(session, business_id)
    settings = request.app.state.settings
    ids = list(ask.call_ids)
    try:
        ids += saved_set(session, ask.set_name) if ask.set_name else []
        ids = ids or latest_calls(session, business_id, ask.latest)
        calls = [recorded_call(session, call_id) for call_id in dict.fromkeys(ids)]
    except UnknownCall as unknown:
        raise HTTPException(404, str(unknown)) from None
    if strangers := [c.call_id for c in calls if c.business_id != business.id]:
        raise HTTPException(422, f"calls of another business: {', '.join(strangers)}")
    try:
        draft_of(BusinessConfig.model_validate(business.config), ask.config)
    except ValidationError as invalid:
        # Without the context: it may hold the exception a validator raised, which is no JSON.
        errors = invalid.errors(include_url=False, include_context=False)
        raise RequestValidationError([e | {"loc": ("body", "config", *e["loc"])} for e in errors]) from None
    replayer = CallReplayer(settings, ask.model)
    replays = await replayer.replay_all(calls, ask.config)
    return {
        "business_id": business_id,
        "model": replayer.model,
        "calls": [r.model_dump(mode="json") for r in replays],
        "tools_differ": any(r.tools_differ for r in replays),
    }


@api.post("/replay-sets", response_model=ReplaySetInfo, responses={404: {"description": "A call is unknown"}})
async def keep_replay_set(body: ReplaySetInfo, request: Request) -> ReplaySetInfo:
    """Keeps calls as a named set (a set of that name is replaced), replayed by name later."""

    def keep() -> ReplaySetInfo:
        with Session(get_engine(request.app.state.settings.database_url)) as session:
            kept = save_set(session, body.name, list(body.call_ids))
            return ReplaySetInfo(name=kept.name, call_ids=list(kept.call_ids))

    try:
        return await asyncio.to_thread(keep)
    except UnknownCall as unknown:
        raise HTTPException(404, str(unknown)) from None


@api.get("/replay-sets", response_model=list[ReplaySetInfo])
def list_replay_sets(session: SessionDep) -> list[ReplaySetInfo]:
    return [ReplaySetInfo(name=s.name, call_ids=list(s.call_ids)) for s in set_names(session)]

"""A business's own calendar (CalDAV) on the admin side: linked, synced now, unlinked, and its status.

The link's password is sealed with SECRET_KEY when it is saved and never given back: the JSON
routes and the configuration page say only that one is set. Saving a link makes (or updates) its
Temporal schedule, which runs a `CalendarSyncWorkflow` every CALENDAR_SYNC_SECONDS and at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from pydantic import SecretStr, ValidationError
from sqlmodel import Session
from temporalio.service import RPCError

from activities.calendar_schedules import drop_calendar_schedule, keep_calendar_schedule, sync_calendar_now
from api.admin_api import get_business
from api.admin_auth import AdminApi, AdminPage
from api.dependencies import SessionDep
from api.input_bounds import RowId
from business.calendar_link import CalendarLinkForm
from database.calendar_store import CalendarStatus, PasswordNeeded, link_status, remove_link, save_link


class InputNotEchoed(APIRoute):
    """FastAPI's 422 quotes each refused value back ("input"); here that could be the password (one too
    long, say), so these routes say what is wrong and where, never the value."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as invalid:
                errors = [{k: v for k, v in e.items() if k != "input"} for e in invalid.errors()]
                raise RequestValidationError(errors) from None

        return handle


api = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminApi], route_class=InputNotEchoed)
pages = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[AdminPage], route_class=InputNotEchoed)

NOT_LINKED = {404: {"description": "No such business, or its calendar is not linked"}}
TEMPORAL_DOWN = {
    503: {
        "description": "Temporal did not answer: the link is saved, its schedule not yet (the worker makes it at start)"
    }
}


def _status(session: Session, business_id: int) -> CalendarStatus:
    get_business(session, business_id)
    status = link_status(session, business_id)
    if status is None:
        raise HTTPException(404, f"business {business_id} has no linked calendar")
    return status


async def _schedule(request: Request, business_id: int) -> None:
    settings = request.app.state.settings
    try:
        client = await request.app.state.temporal.client()
        await keep_calendar_schedule(
            client, business_id, settings.temporal_task_queue, timedelta(seconds=settings.calendar_sync_seconds)
        )
    except RPCError as error:
        raise HTTPException(
            503, f"the link is saved, but Temporal did not take its sync schedule: {error.message}"
        ) from None


async def _link(request: Request, session: Session, business_id: int, form: CalendarLinkForm) -> CalendarStatus:
    get_business(session, business_id)
    secret_key = request.app.state.settings.secret_key
    if secret_key is None:  # the admin side is off without it anyway
        raise HTTPException(503, "SECRET_KEY is not set: a calendar's password cannot be sealed")
    try:
        await asyncio.to_thread(save_link, session, business_id, form, secret_key.get_secret_value())
    except PasswordNeeded as missing:
        raise HTTPException(422, str(missing)) from None
    await _schedule(request, business_id)
    return _status(session, business_id)


@api.get("/businesses/{business_id}/calendar", response_model=CalendarStatus, responses=NOT_LINKED)
def calendar_status(business_id: RowId, session: SessionDep) -> CalendarStatus:
    """The linked calendar: its URL and username (never the password), and how its last sync went."""
    return _status(session, business_id)


@api.put(
    "/businesses/{business_id}/calendar",
    response_model=CalendarStatus,
    responses={404: {"description": "No such business"}} | TEMPORAL_DOWN,
)
async def link_calendar(
    business_id: RowId, form: CalendarLinkForm, request: Request, session: SessionDep
) -> CalendarStatus:
    """Links (or changes) the business's calendar and syncs it at once; omit the password to keep the stored one."""
    return await _link(request, session, business_id, form)


@api.post(
    "/businesses/{business_id}/calendar/sync",
    status_code=202,
    response_model=CalendarStatus,
    responses=NOT_LINKED | TEMPORAL_DOWN,
)
async def sync_now(business_id: RowId, request: Request, session: SessionDep) -> CalendarStatus:
    """Starts a sync now (after the one running, if any); the status changes when it has run."""
    status = _status(session, business_id)
    try:
        await sync_calendar_now(await request.app.state.temporal.client(), business_id)
    except RPCError:
        await _schedule(request, business_id)  # no schedule yet (saved while Temporal was away): make it
    return status


@api.delete("/businesses/{business_id}/calendar", status_code=204, responses=NOT_LINKED)
async def unlink_calendar(business_id: RowId, request: Request, session: SessionDep) -> Response:
    """Unlinks the calendar: no more syncs, its busy times no longer block slots. Its events stay in it."""
    get_business(session, business_id)
    if not await asyncio.to_thread(remove_link, session, business_id):
        raise HTTPException(404, f"business {business_id} has no linked calendar")
    # A schedule left behind (Temporal away) finds no link, and each of its runs ends at once.
    with contextlib.suppress(RPCError):
        await drop_calendar_schedule(await request.app.state.temporal.client(), business_id)
    return Response(status_code=204)


# --- the configuration page's calendar form ---------------------------------------------------------


@pages.post("/businesses/{business_id}/calendar")
async def link_from_page(
    business_id: RowId,
    request: Request,
    session: SessionDep,
    url: Annotated[str, Form(max_length=500)],
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=500)] = "",
    calendar_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        form = CalendarLinkForm(
            url=url,
            calendar_name=calendar_name or None,
            username=username,
            password=SecretStr(password) if password else None,
        )
    except ValidationError as invalid:
        raise HTTPException(422, "; ".join(str(e["msg"]) for e in invalid.errors())) from None
    await _link(request, session, business_id, form)
    return RedirectResponse(f"/admin/businesses/{business_id}/config#calendar", status_code=303)


@pages.post("/businesses/{business_id}/calendar/sync")
async def sync_from_page(business_id: RowId, request: Request, session: SessionDep) -> Response:
    await sync_now(business_id, request, session)
    return RedirectResponse(f"/admin/businesses/{business_id}/config#calendar", status_code=303)


@pages.post("/businesses/{business_id}/calendar/unlink")
async def unlink_from_page(business_id: RowId, request: Request, session: SessionDep) -> Response:
    await unlink_calendar(business_id, request, session)
    return RedirectResponse(f"/admin/businesses/{business_id}/config#calendar", status_code=303)

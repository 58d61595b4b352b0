"""The browser demo pages: `/demo` (sales: pick a business, press the orb, talk) and
`/test-agent-simple` (try a configuration: pick or paste one, talk or type, see the tool calls).

Plain HTML from Jinja2 templates with plain JavaScript (`api/static/demo/`), no build step. The
page sends its WebRTC offer to the API, which creates the Realtime call and controls it
(`api/realtime_session.py`); when that fails it retries, shows a reconnect button and falls back
to the phone brain over the web channel (`api/web_conversations.py`). `/demo` lists only the
businesses an admin opted in (`PUT /api/admin/businesses/{id}/demo`); `/test-agent-simple`, where
a draft configuration is tried, is an admin's page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import select

from api.admin_auth import AdminPage
from api.dependencies import SessionDep, SettingsDep
from api.input_bounds import RowId
from api.realtime_session import REALTIME_VOICES, realtime_voice
from business.config import BusinessConfig, demo_business
from business.instructions import build_instructions
from business.opening_hours import is_open
from database.models import Business
from receptionist.opening_words import opening_words
from receptionist.tools import realtime_tools

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static" / "demo"
templates = Jinja2Templates(directory=HERE / "templates" / "demo")

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/ai", tags=["browser demo"])


def _businesses(session: SessionDep, *, on_demo_only: bool) -> list[dict[str, Any]]:
    query = select(Business).order_by(Business.name)
    if on_demo_only:
        query = query.where(Business.demo_enabled == True)  # noqa: E712  (SQL, not Python)
    rows = session.exec(query).all()
    return [{"id": b.id, "name": b.name, "type": (b.config or {}).get("business_type", "")} for b in rows]


def example_configurations() -> dict[str, dict[str, Any]]:
    """Starting points for a draft on /test-agent-simple (no real phone numbers in them)."""
    dental = demo_business().model_dump(mode="json")
    plumber = BusinessConfig.model_validate(
        dental
        | {
            "name": "Riverside Plumbing",
            "business_type": "plumber",
            "phone_number": "+15555550150",
            "address": "4 River Road, Springfield",
            "services": [
                {"name": "Leak repair", "duration_minutes": 60, "price": "$150"},
                {"name": "Drain cleaning", "duration_minutes": 45, "price": "$120"},
            ],
            "custom_instructions": "Burst pipes and gas smells are emergencies: put the caller through at once.",
        }
    )
    return {
        "Bright Smile Dental": dental,
        "Riverside Plumbing": plumber.model_dump(mode="json"),
    }


@pages.get("/demo", response_class=HTMLResponse)
def demo_page(request: Request, session: SessionDep, business: RowId | None = None) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "demo.html",
        {"businesses": _businesses(session, on_demo_only=True), "chosen": business, "page": "demo"},
    )


@pages.get("/test-agent-simple", response_class=HTMLResponse, dependencies=[AdminPage])
def test_agent_page(request: Request, session: SessionDep, business: RowId | None = None) -> HTMLResponse:
    """Drafts and every business, for a logged-in admin (a draft's instructions are the visitor's own)."""
    return templates.TemplateResponse(
        request,
        "test_agent.html",
        {
            "businesses": _businesses(session, on_demo_only=False),
            "chosen": business,
            "voices": REALTIME_VOICES,
            "examples_json": json.dumps(example_configurations()).replace("</", "<\\/"),
            "page": "test",
        },
    )


def _field(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "(configuration)"


@api.post(
    "/check-config",
    responses={422: {"description": "the configuration's problems, each at its field"}},
)
def check_config(settings: SettingsDep, config: Annotated[Any, Body(embed=True)]) -> JSONResponse:
    """Validates a configuration as the calls read it; answers what the agent would be told."""
    try:
        checked = BusinessConfig.model_validate(config)
    except ValidationError as error:
        problems = [
            {"field": _field(e["loc"]), "message": e["msg"].removeprefix("Value error, ")}
            for e in error.errors(include_url=False)
        ]
        return JSONResponse(
            status_code=422,
            content={"detail": f"the configuration has {len(problems)} problem(s)", "errors": problems},
        )
    now = datetime.now(UTC)
    return JSONResponse(
        {
            "name": checked.name,
            "greeting": opening_words(checked, now, is_open(checked, now)),
            "instructions": build_instructions(checked, now),
            "voice": realtime_voice(checked, settings, None),
            "tools": [tool["name"] for tool in realtime_tools()],
        }
    )

"""`cloudgreet calls list` and `cloudgreet calls show ID`: the call records, and a live call's state.

Reads the database named by DATABASE_URL; `show` also asks the call's workflow for its live
state when the call has not finished, as the Temporal UI's `state` query would.

rich is imported by the commands that print with it: every other command (`cloudgreet api`,
`cloudgreet worker`) would pay ~0.1 s of CPU at start-up for it (`cloudgreet bench startup`).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from cloudgreet.command_settings import settings_or_exit
from domain.vocabulary import CallbackStatus, CallOutcome, CallStatus, Speaker

calls_app = typer.Typer(
    help="Inspect calls: the list with filters, and one call with its transcript.", no_args_is_help=True
)

RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
# Telnyx call ids run to 56 characters; the list shows their start, which `show` accepts.
SHORT_ID = 20
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | None) -> datetime | None:
    """`30m`, `2h`, `7d`, `1w` ago, or an ISO date or date-time (UTC unless it says otherwise)."""
    if not value:
        return None
    from database.utc import as_utc

    text = value.strip()
    if match := RELATIVE.match(text):
        return datetime.now(UTC) - timedelta(**{UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a duration (30m, 2h, 7d, 1w) nor a date (2026-11-25 or 2026-11-25T08:00)",
            param_hint="--since",
        ) from None
    return as_utc(moment)


def _business_id(session, business: str | None) -> int | None:
    """A business by id or by name (case-insensitive); an unknown one is an error that lists the known."""
    if not business:
        return None
    from database.business_queries import list_businesses

    known = list_businesses(session)
    for candidate in known:
        if business == str(candidate.id) or business.lower() == candidate.name.lower():
            return candidate.id
    names = ", ".join(f"{b.id} ({b.name})" for b in known[:10]) or "none"
    more = f" and {len(known) - 10} more" if len(known) > 10 else ""
    raise typer.BadParameter(f"no business {business!r}; known: {names}{more}", param_hint="--business")


def _moment(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "—"


@calls_app.command("list")
def list_command(
    business: Annotated[str | None, typer.Option(help="Business id or name")] = None,
    status: Annotated[CallStatus | None, typer.Option(help="Where the call is now")] = None,
    outcome: Annotated[CallOutcome | None, typer.Option(help="What the call achieved")] = None,
    since: Annotated[str | None, typer.Option(help="Started within (30m, 2h, 7d) or since a date (2026-11-25)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many calls, newest first")] = 20,
) -> None:
    """Calls, newest first: when, business, caller, status, outcome, turns, duration, reply latency."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    from sqlmodel import Session

    from database.call_queries import CallFilters, list_calls
    from database.engine import get_engine

    settings = settings_or_exit()
    since_moment = parse_since(since)
    with Session(get_engine(settings.database_url)) as session:
        filters = CallFilters(
            business_id=_business_id(session, business), status=status, outcome=outcome, since=since_moment
        )
        page = list_calls(session, filters, limit=limit)
    console = Console()
    if not page.calls:
        console.print("No calls match.")
        return
    table = Table(
        title=f"{len(page.calls)} of {page.total} calls (times in UTC, reply: median reply latency)",
        title_justify="left",
    )
    for column, justify in (("started", "left"), ("call id", "left"), ("business", "left"), ("caller", "left"),
                            ("status", "left"), ("outcome", "left"), ("turns", "right"), ("length", "right"),
                            ("reply", "right")):  # fmt: skip
        # The id stays on one line, ready to copy into `cloudgreet calls show`; the rest may wrap.
        table.add_column(column, justify=justify, no_wrap=column in ("call id", "caller"), overflow="fold")
    for call in page.calls:
        # Text, not markup: a "[" in a name or a transcript is printed as it is.
        table.add_row(
            *map(
                Text,
                (
                    _moment(call.started_at),
                    call.id[:SHORT_ID],
                    call.business_name or "—",
                    call.caller_number or "unknown",
                    call.status,
                    call.outcome or "—",
                    str(call.caller_turns),
                    _seconds(call.duration_seconds),
                    _seconds(call.reply_latency_p50_ms / 1000 if call.reply_latency_p50_ms is not None else None),
                ),
            )
        )
    console.print(table)


@calls_app.command("callbacks")
def callbacks_command(
    business: Annotated[str | None, typer.Option(help="Business id or name")] = None,
    status: Annotated[CallbackStatus | None, typer.Option(help="How the call-back stands")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many, soonest due first")] = 50,
) -> None:
    """Call-backs promised to callers: when they are due, to whom, about what, and how they went."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    from sqlmodel import Session

    from database.call_queries import list_callbacks
    from database.engine import get_engine

    settings = settings_or_exit()
    with Session(get_engine(settings.database_url)) as session:
        rows = list_callbacks(session, business_id=_business_id(session, business), status=status, limit=limit)
    console = Console()
    if not rows:
        console.print("No call-backs match.")
        return
    table = Table(title=f"{len(rows)} call-backs (times in UTC)", title_justify="left")
    for column in ("due", "caller", "about", "status", "attempts", "urgent", "from call"):
        table.add_column(column, no_wrap=column in ("caller", "from call"), overflow="fold")
    for row in rows:
        table.add_row(
            *map(
                Text,
                (
                    _moment(row.due_at),
                    row.caller_number,
                    row.reason,
                    row.status,
                    str(row.attempts),
                    "yes" if row.urgent else "",
                    (row.call_id or "—")[:SHORT_ID],
                ),
            )
        )
    console.print(table)


@calls_app.command("show")
def show_command(
    call_id: Annotated[
        str,
        typer.Argument(help="The call id (Telnyx call_control_id), its start as `list` shows it, or its workflow id"),
    ],
) -> None:
    """One call: its facts, transcript, errors; the live state from its workflow while it is in flight."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    from sqlmodel import Session

    from database.call_queries import call_detail
    from database.engine import get_engine
    from runtime.live_call import temporal_ui_link

    settings = settings_or_exit()
    with Session(get_engine(settings.database_url)) as session:
        detail = call_detail(session, call_id) or call_detail(session, _unique_prefix(session, call_id))
    if detail is None:
        typer.secho(f"no call {call_id!r} (try `cloudgreet calls list`)", fg="red", err=True)
        raise typer.Exit(1)
    console = Console()
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    for name, value in (
        ("call", detail.id),
        ("workflow", detail.workflow_id),
        ("business", detail.business_name or "—"),
        ("caller", f"{detail.caller_number or 'unknown'} → {detail.dialed_number or '—'} ({detail.direction})"),
        ("status", detail.status + (f" ({detail.hangup_cause})" if detail.hangup_cause else "")),
        ("outcome", detail.outcome or "—"),
        ("fallback", detail.fallback_level),
        ("started", _moment(detail.started_at) + " UTC"),
        ("ended", _moment(detail.ended_at) + (" UTC" if detail.ended_at else "")),
        ("duration", _seconds(detail.duration_seconds)),
        ("turns", str(detail.caller_turns)),
        ("reply latency", f"p50 {_ms(detail.reply_latency_p50_ms)}, max {_ms(detail.reply_latency_max_ms)}"),
        ("estimated cost", f"${detail.estimated_cost_usd:.4f}" if detail.estimated_cost_usd is not None else "—"),
        ("Temporal UI", temporal_ui_link(settings.temporal_ui_url, settings.temporal_namespace, detail.workflow_id)),
    ):
        facts.add_row(name, Text(value))
    console.print(facts)

    transcript = Table(title="Transcript", title_justify="left", show_lines=False)
    transcript.add_column("turn", justify="right")
    transcript.add_column("who")
    transcript.add_column("said", overflow="fold", ratio=1)
    transcript.add_column("reply in", justify="right")
    for line in detail.transcript:
        said = line.text + (" [interrupted]" if line.interrupted else "")
        for tool in line.tool_calls:
            said += f"\n  [{tool.get('name')}({tool.get('arguments', '')}) → {tool.get('result', '')}]"
        latency = _ms(line.reply_latency_ms) if line.speaker != Speaker.CALLER else ""
        transcript.add_row(str(line.turn_index), Text(line.speaker), Text(said), latency)
    console.print(transcript if detail.transcript else "Nothing was said.")

    effects = Table(title="What the receptionist did", title_justify="left")
    effects.add_column("what")
    effects.add_column("details", overflow="fold", ratio=1)
    for booking in detail.bookings:
        effects.add_row(
            "booking",
            Text(
                f"{booking.service} at {_moment(booking.starts_at)} UTC for {booking.caller_name or '—'} ({booking.status})"
            ),
        )
    for callback in detail.callbacks:
        effects.add_row(
            "call-back",
            Text(
                f"due {_moment(callback.due_at)} UTC: {callback.reason} ({callback.status}, {callback.attempts} attempts)"
            ),
        )
    for escalation in detail.escalations:
        effects.add_row("escalation", Text(f"{escalation.reason} ({escalation.status}): {escalation.attempts}"))
    if effects.row_count:
        console.print(effects)

    if detail.errors:
        errors = Table(title="Fallback steps and errors", title_justify="left")
        errors.add_column("when")
        errors.add_column("what failed")
        errors.add_column("message", overflow="fold", ratio=1)
        for error in detail.errors:
            errors.add_row(_moment(error.occurred_at), Text(error.source), Text(error.message))
        console.print(errors)

    if not detail.finished:
        console.print(_live_state(settings, detail.workflow_id))
        # A short-lived process that used a Temporal client may abort while Python finalizes
        # (temporalio/sdk-python#300, "PyGILState_Release"): leave without finalizing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _unique_prefix(session, prefix: str) -> str:
    """The one call whose id starts with `prefix` (as `list` shows it); ambiguity is an error."""
    from sqlmodel import col, select

    from database.models import Call

    if len(prefix.strip()) < 8:
        return prefix
    matches = session.exec(select(Call.id).where(col(Call.id).startswith(prefix.strip())).limit(3)).all()
    if len(matches) > 1:
        typer.secho(f"{prefix!r} is the start of several calls' ids; give more of it", fg="red", err=True)
        raise typer.Exit(1)
    return matches[0] if matches else prefix


def _ms(value: float | None) -> str:
    return f"{value / 1000:.2f} s" if value is not None else "—"


def _live_state(settings, workflow_id: str):
    from rich.table import Table
    from rich.text import Text

    from runtime.live_call import read_live_state
    from runtime.temporal_connection import connect_temporal

    async def read():
        try:
            client = await asyncio.wait_for(connect_temporal(settings), settings.health_check_timeout_seconds)
        except Exception as error:  # noqa: BLE001  (the records above still stand)
            return None, f"Temporal at {settings.temporal_address} is unreachable: {error}"
        live = await read_live_state(client, workflow_id)
        return live.state, live.problem

    state, problem = asyncio.run(read())
    if problem:
        return Text(f"Live state: {problem}", style="yellow")
    table = Table(
        title=f"Live state: {state['status']}, {state['caller_turns']} caller turns, "
        + ("the receptionist is speaking" if state.get("agent_speaking") else "listening"),
        title_justify="left",
    )
    table.add_column("who")
    table.add_column("said", overflow="fold", ratio=1)
    for line in state.get("transcript", []):
        table.add_row(Text(line["speaker"]), Text(line["text"]))
    return table

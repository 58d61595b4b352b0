"""`cloudgreet replay CALL_ID... [--config FILE] [--model M]`: a draft configuration or model tried on past calls.

Each caller turn is answered again (activities/call_replay.py) and shown beside what the agent said
and asked for then; no tool runs. `--save-set NAME CALL_ID...` keeps the calls as a named set, and
`--set NAME` replays it: the regression check of a configuration change. Exit 0: every call asked
for the same tools as then; 1: a call's tools differ (shown as DIFFERS); 2: a call or set unknown,
or a draft that is not a valid configuration.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cloudgreet.command_settings import settings_or_exit

if TYPE_CHECKING:
    from activities.call_replay import ReplayedCall, ToolAsked

SAME, DIFFERS, CANNOT = 0, 1, 2


def replay_command(
    call_ids: Annotated[list[str] | None, typer.Argument(help="Calls to replay (Telnyx call_control_ids)")] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A JSON file of configuration fields that replace the business's own"),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="The LLM to answer with instead of OPENAI_MODEL")] = None,
    save_set: Annotated[
        str | None, typer.Option("--save-set", help="Keep CALL_IDs as a set of this name, to replay with --set")
    ] = None,
    from_set: Annotated[str | None, typer.Option("--set", help="Replay the calls of this saved set")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the replays as JSON")] = False,
) -> None:
    """Replays past calls' caller turns through the brain with a draft configuration or model, then and now."""
    from pydantic import ValidationError
    from sqlmodel import Session

    from activities.call_replay import CallReplayer
    from database.engine import get_engine
    from database.replay_queries import UnknownCall, recorded_call, saved_set
    from database.replay_queries import save_set as keep_set

    settings = settings_or_exit()
    ids = list(call_ids or [])
    try:
        with Session(get_engine(settings.database_url)) as session:
            if save_set:
                if not ids:
                    raise UnknownCall("--save-set needs the CALL_IDs to keep")
                kept = keep_set(session, save_set, ids)
                typer.echo(f"saved set {kept.name!r}: {len(kept.call_ids)} calls")
                return
            ids += saved_set(session, from_set) if from_set else []
            if not ids:
                raise UnknownCall("name the calls to replay, or a saved --set")
            calls = [recorded_call(session, call_id) for call_id in ids]
        draft = json.loads(config.read_text()) if config else None
        if draft is not None and not isinstance(draft, dict):
            raise ValueError("the --config file must hold a JSON object of configuration fields")
        replayer = CallReplayer(settings, model)
        replays = asyncio.run(replayer.replay_all(calls, draft))
    except (UnknownCall, ValidationError, ValueError, OSError) as problem:
        typer.secho(f"cannot replay: {problem}", fg="red", err=True)
        raise typer.Exit(CANNOT) from None
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in replays], indent=2))
    else:
        for replay in replays:
            typer.echo(_side_by_side(replay))
    differing = [r.call_id for r in replays if r.tools_differ]
    brain = f"the LLM {replayer.model}" if replayer.model else "the offline responder"
    # With --json, stdout is the JSON alone.
    typer.echo(f"{len(replays)} calls replayed with {brain}; tools differ in {len(differing)}", err=as_json)
    raise typer.Exit(DIFFERS if differing else SAME)


def _tools(tools: list[ToolAsked]) -> str:
    return ", ".join(f"{t.name}({json.dumps(t.arguments, sort_keys=True)})" for t in tools) or "none"


def _side_by_side(replay: ReplayedCall) -> str:
    width = 60
    lines = [f"call {replay.call_id} · {replay.business_name} · {'DIFFERS' if replay.tools_differ else 'same tools'}"]
    for turn in replay.turns:
        lines.append(f"  turn {turn.turn_index} caller: {turn.caller_text}")
        lines.append(f"    {'THEN':<{width}} | NOW{'  (tools differ)' if turn.tools_differ else ''}")
        then, now = _wrap(turn.then_said, width), _wrap(turn.now_said, width)
        for left, right in zip(then + [""] * (len(now) - len(then)), now + [""] * (len(then) - len(now)), strict=True):
            lines.append(f"    {left:<{width}} | {right}")
        lines.append(f"    {'tools: ' + _tools(turn.then_tools):<{width}} | tools: {_tools(turn.now_tools)}")
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]

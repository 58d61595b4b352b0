"""`cloudgreet recordings delete CALL_ID` and `cloudgreet recordings prune`: a recording deleted on request,
and every recording past its business's retention.

Retention is applied by `prune`, run on a schedule by whoever runs the installation (cron, a
Kubernetes CronJob, a systemd timer): it reads each business's recording_retention_days as it is
now, so shortening a retention applies at the next run, and a run missed is caught up by the next.
A Temporal timer per recording would have fixed each one's deletion day when it was saved.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cloudgreet.command_settings import telnyx_settings_or_exit

if TYPE_CHECKING:
    pass

recordings_app = typer.Typer(
    help="Call recordings: delete one on request, prune those past retention.", no_args_is_help=True
)


@recordings_app.command("delete")
def delete_command(
    call_id: Annotated[str, typer.Argument(help="The call id (Telnyx call_control_id) whose recording to delete")],
) -> None:
    """Deletes a call's recording at Telnyx and marks it deleted (the call and its transcript stay)."""
    from sqlmodel import Session

    from activities.recording_deletion import RecordingNotFound, delete_recording, live_recording, telnyx_client
    from database.engine import get_engine
    from domain.vocabulary import RecordingDeletion

    settings = telnyx_settings_or_exit("recordings are deleted at Telnyx")

    async def delete() -> None:
        with Session(get_engine(settings.database_url)) as session:
            recording = live_recording(session, call_id)
            async with telnyx_client(settings) as client:
                await delete_recording(client, session, recording, RecordingDeletion.REQUESTED)

    try:
        asyncio.run(delete())
    except RecordingNotFound as missing:
        typer.secho(str(missing), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"deleted the recording of call {call_id}")


@recordings_app.command("prune")
def prune_command(
    now: Annotated[
        datetime | None, typer.Option(help="Prune as of this moment (UTC) instead of now, e.g. to check a plan")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted, delete nothing")] = False,
) -> None:
    """Deletes every recording older than its business's recording_retention_days, at Telnyx and here."""
    from sqlmodel import Session

    from activities.recording_deletion import delete_recording, telnyx_client
    from database.engine import get_engine
    from database.recording_store import expired_recordings
    from database.utc import as_utc, utcnow
    from domain.vocabulary import RecordingDeletion

    settings = telnyx_settings_or_exit("recordings are deleted at Telnyx")
    moment = as_utc(now) if now else utcnow()

    async def prune() -> int:
        with Session(get_engine(settings.database_url)) as session:
            expired = expired_recordings(session, moment)
            if dry_run:
                for recording in expired:
                    typer.echo(f"would delete the recording of call {recording.call_id} (saved {recording.saved_at})")
                return len(expired)
            async with telnyx_client(settings) as client:
                for recording in expired:
                    await delete_recording(client, session, recording, RecordingDeletion.RETENTION, moment)
                    typer.echo(f"deleted the recording of call {recording.call_id} (saved {recording.saved_at})")
            return len(expired)

    count = asyncio.run(prune())
    typer.echo(f"{count} recording(s) past retention{' (dry run)' if dry_run else ' deleted'}")

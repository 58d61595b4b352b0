"""`cloudgreet callers forget NUMBER`: delete what the receptionist remembers of a caller, on their request.

Writes the database named by DATABASE_URL; the admin API's `DELETE /api/admin/callers/{number}/memory`
and the call page's "Forget this caller" do the same.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from cloudgreet.command_settings import settings_or_exit

callers_app = typer.Typer(help="What the receptionist remembers of returning callers.", no_args_is_help=True)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@callers_app.command("forget")
def forget_command(
    number: Annotated[str, typer.Argument(help="The caller's number, E.164 (+15555550123)")],
    business: Annotated[int | None, typer.Option("--business", min=1, help="Only this business's memory")] = None,
) -> None:
    """Forget every call summary of NUMBER (of one business, or of all). The call records stay."""
    if not E164.match(number):
        raise typer.BadParameter(f"{number!r} is not an E.164 number such as +15555550123", param_hint="NUMBER")
    from sqlmodel import Session

    from database.caller_memories import forget_caller
    from database.engine import get_engine

    settings = settings_or_exit()
    with Session(get_engine(settings.database_url)) as session:
        count = forget_caller(session, number, business)
    where = f" at business {business}" if business else ""
    typer.echo(f"Forgot {count} call summar{'y' if count == 1 else 'ies'} of {number}{where}.")

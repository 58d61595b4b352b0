"""`cloudgreet businesses add` and `cloudgreet businesses list`: the businesses this installation answers for.

Writes the database named by DATABASE_URL directly, as an operator with that access may; the
admin API's `POST /api/admin/businesses` does the same for programs and the admin pages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cloudgreet.command_settings import settings_or_exit

businesses_app = typer.Typer(help="The businesses: list them, and add one on its own number.", no_args_is_help=True)


def _config_from(name: str, number: str, business_type: str | None, config_file: Path | None) -> dict:
    values: dict = {}
    if config_file is not None:
        try:
            values = json.loads(config_file.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise typer.BadParameter(
                f"cannot read a JSON configuration from it: {error}", param_hint="--config"
            ) from None
        if not isinstance(values, dict):
            raise typer.BadParameter("the file holds no JSON object", param_hint="--config")
    values |= {"name": name, "phone_number": number}
    if business_type:
        values["business_type"] = business_type
    return values


@businesses_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="The business's name, as callers hear it")],
    number: Annotated[str, typer.Option("--number", help="The number its callers dial, E.164 (+15555550123)")],
    business_type: Annotated[
        str | None, typer.Option("--type", help="dentist, plumber, ... (emergency words and defaults follow it)")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="A JSON BusinessConfig for the rest (hours, services, ...)")
    ] = None,
) -> None:
    """Add a business that answers calls to NUMBER from its next call on."""
    from sqlmodel import Session

    from business.config import BusinessConfig
    from database.business_queries import NumberTaken, add_business
    from database.engine import get_engine

    try:
        config = BusinessConfig.model_validate(_config_from(name, number, business_type, config_file))
    except ValidationError as error:
        problems = "\n".join(f"  {'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in error.errors())
        typer.secho(f"That business is not valid:\n{problems}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    with Session(get_engine(settings.database_url)) as session:
        try:
            business = add_business(session, config)
        except NumberTaken as taken:
            typer.secho(str(taken), fg="red", err=True)
            raise typer.Exit(1) from None
        session.commit()
        typer.echo(f"Added business {business.id}: {business.name}, answering {business.phone_number}")


@businesses_app.command("list")
def list_command() -> None:
    """Every business, with its id and number."""
    from sqlmodel import Session

    from database.business_queries import list_businesses
    from database.engine import get_engine

    settings = settings_or_exit()
    with Session(get_engine(settings.database_url)) as session:
        for business in list_businesses(session):
            typer.echo(f"{business.id:>4}  {business.phone_number or '(no number)':<16}  {business.name}")

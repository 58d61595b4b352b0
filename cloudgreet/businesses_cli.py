"""`cloudgreet businesses add`, `list` and `numbers`: the businesses this installation answers for, and
phone numbers to buy for them.

Writes the database named by DATABASE_URL directly, as an operator with that access may; the
admin API's `POST /api/admin/businesses` does the same for programs and the admin pages.
`add --order` buys the number at Telnyx first (activities/number_orders.py) and adds the business
only once the number is ours; nothing is bought for a number a business here already answers.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cloudgreet.command_settings import settings_or_exit, telnyx_settings_or_exit

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
    order: Annotated[
        bool,
        typer.Option(
            "--order",
            help="Buy NUMBER at Telnyx first (see `businesses numbers`), on TELNYX_CONNECTION_ID, then add the business",
        ),
    ] = False,
) -> None:
    """Add a business that answers calls to NUMBER from its next call on."""
    from sqlmodel import Session

    from business.config import BusinessConfig
    from database.business_queries import NumberTaken, add_business, business_with_number
    from database.engine import get_engine

    try:
        config = BusinessConfig.model_validate(_config_from(name, number, business_type, config_file))
    except ValidationError as error:
        problems = "\n".join(f"  {'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in error.errors())
        typer.secho(f"That business is not valid:\n{problems}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    if order:
        with Session(get_engine(settings.database_url)) as session:
            if (owner := business_with_number(session, number)) is not None:
                typer.secho(f"{number} is already the number of {owner.name}: nothing bought", fg="red", err=True)
                raise typer.Exit(1)
        _buy(settings, number)
    with Session(get_engine(settings.database_url)) as session:
        try:
            business = add_business(session, config)
        except NumberTaken as taken:
            # Another addition took the number between our check and the order: it is bought and ours at Telnyx.
            bought = f"; {number} stays on your Telnyx account (release it in the portal)" if order else ""
            typer.secho(f"{taken}{bought}", fg="red", err=True)
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
            number = business.phone_number or "(no number)"
            typer.echo(f"{business.id:>4}  {number:<16}  {business.phone_mode.value:<13}  {business.name}")


@businesses_app.command("phone-mode")
def phone_mode_command(
    business_id: Annotated[int, typer.Argument(help="The business's id (`businesses list`)")],
    mode: Annotated[
        str,
        typer.Argument(
            help="telnyx_speech (Telnyx speech with the workflow's brain) or realtime_sip (OpenAI's Realtime voice "
            "over SIP: route the line to OpenAI's SIP URI too, see README)"
        ),
    ],
) -> None:
    """Choose who answers the business's line, from its next call on."""
    from sqlmodel import Session

    from database.engine import get_engine
    from database.models import Business
    from domain.vocabulary import PhoneMode

    try:
        chosen = PhoneMode(mode)
    except ValueError:
        typer.secho(f"{mode!r} is no phone mode: {', '.join(m.value for m in PhoneMode)}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    with Session(get_engine(settings.database_url)) as session:
        business = session.get(Business, business_id)
        if business is None:
            typer.secho(f"No business with id {business_id}", fg="red", err=True)
            raise typer.Exit(1)
        business.phone_mode = chosen
        session.add(business)
        session.commit()
        typer.echo(f"{business.name} ({business.phone_number}) is answered by {chosen.value} from its next call on")


def _buy(settings, number: str) -> None:
    """Orders the number and waits for Telnyx to complete the order, saying so while it waits."""
    from activities.number_orders import NumberOrderFailed, order_number
    from activities.recording_deletion import telnyx_client

    if not settings.telnyx_api_key or not settings.telnyx_connection_id:
        typer.secho(
            "TELNYX_API_KEY and TELNYX_CONNECTION_ID (the Call Control connection the number's calls go to) "
            "must be set to buy a number",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)

    def pending(waited: float) -> None:
        typer.echo(f"  the order is pending at Telnyx ({waited:.0f}s)...", err=True)

    async def buy():
        async with telnyx_client(settings) as client:
            return await order_number(client, number, connection_id=settings.telnyx_connection_id, on_pending=pending)

    typer.echo(f"Ordering {number} at Telnyx...", err=True)
    try:
        bought = asyncio.run(buy())
    except NumberOrderFailed as failed:
        typer.secho(f"{failed}; no business added", fg="red", err=True)
        raise typer.Exit(1) from None
    if bought.already_ours:
        typer.echo(f"{number} is already on our Telnyx account: not ordered again")
    else:
        typer.echo(f"Bought {number} (Telnyx order {bought.order_id})")


@businesses_app.command("numbers")
def numbers_command(
    area_code: Annotated[str | None, typer.Option("--area-code", help="e.g. 312")] = None,
    country: Annotated[str, typer.Option("--country", help="ISO country code")] = "US",
    contains: Annotated[str | None, typer.Option("--contains", help="Digits the number should contain")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=50)] = 10,
) -> None:
    """Numbers Telnyx sells now that take calls and texts: buy one with `businesses add NAME --number N --order`."""
    import telnyx

    from activities.number_orders import available_numbers, telnyx_error_words
    from activities.recording_deletion import telnyx_client

    settings = telnyx_settings_or_exit("numbers are bought at Telnyx")

    async def search():
        async with telnyx_client(settings) as client:
            return await available_numbers(
                client, country_code=country.upper(), area_code=area_code, contains=contains, limit=limit
            )

    try:
        found = asyncio.run(search())
    except telnyx.APIStatusError as error:
        typer.secho(f"Telnyx refused the search: {telnyx_error_words(error)}", fg="red", err=True)
        raise typer.Exit(1) from None
    except telnyx.APIConnectionError:
        typer.secho("Telnyx could not be reached; try again", fg="red", err=True)
        raise typer.Exit(1) from None
    if not found:
        typer.echo("No numbers for sale match; try another area code")
        return
    for number in found:
        cost = f"{number.monthly_cost} {number.currency}/month" if number.monthly_cost else ""
        typer.echo(f"{number.phone_number:<16}  {number.place:<24}  {cost}")

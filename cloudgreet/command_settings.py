"""The settings of one `cloudgreet` command, checked before it starts: a bad value is named, not a traceback.

Shared by every command module (`cli`, `calls_cli`), below both of them.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from runtime.settings import Settings, get_settings


def settings_or_exit() -> Settings:
    from runtime.logs import configure_logging  # with the Temporal SDK: only once a command runs, not for --help

    try:
        settings = get_settings()
    except ValidationError as error:
        # A check of several settings together has no single location; its message names them.
        problems = "\n".join(
            f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else f"  {e['msg']}" for e in error.errors()
        )
        typer.secho(f"The configuration is not valid:\n{problems}", fg="red", err=True)
        raise typer.Exit(2) from None
    problem = database_url_problem(settings.database_url)
    if problem:
        typer.secho(f"The configuration is not valid:\n  DATABASE_URL: {problem}", fg="red", err=True)
        raise typer.Exit(2)
    configure_logging(settings)
    return settings


def telnyx_settings_or_exit(needed_for: str) -> Settings:
    """The settings of a command that works on the Telnyx account; `needed_for` ends the message when the key
    is missing ("numbers are bought at Telnyx")."""
    settings = settings_or_exit()
    if not settings.telnyx_api_key:
        typer.secho(f"TELNYX_API_KEY is not set: {needed_for}", fg="red", err=True)
        raise typer.Exit(2)
    return settings


def database_url_problem(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        # The URL itself is not repeated: it may hold a password.
        return f"not a database URL ({error}); expected e.g. sqlite:///data/cloudgreet.db or postgresql://user:password@host/db"
    return None

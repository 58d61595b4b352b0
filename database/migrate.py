"""Brings a database to the newest schema with Alembic, then makes sure a business exists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from business.config import demo_business
from database.engine import get_engine
from database.models import Business
from database.schema_version import schema_is_newest

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's ini interpolation treats % specially; URLs may contain %-escapes.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    if not schema_is_newest(get_engine(database_url)):
        from alembic import command  # only when there is something to migrate: ~0.4 s of CPU to import

        command.upgrade(alembic_config(database_url), "head")
    ensure_a_business(database_url)


def ensure_a_business(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        if session.exec(select(Business.id).limit(1)).first() is not None:
            return
        config = demo_business()
        # The example business of a new installation is on its /demo page from the start.
        session.add(
            Business(
                name=config.name,
                phone_number=config.phone_number,
                config=config.model_dump(mode="json"),
                demo_enabled=True,
            )
        )
        session.commit()

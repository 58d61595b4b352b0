from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

# Importing the models registers their tables on SQLModel.metadata, which autogenerate compares with.
from database.engine import DatabaseTimeouts, get_engine
from runtime.settings import get_settings

MIGRATION_LOCK = 7_233_001  # any constant shared by every process that migrates


def run_migrations_online() -> None:
    # No statement timeout: a replica waits here for another's migration, and a migration may take long.
    timeouts = DatabaseTimeouts.from_settings(get_settings()).without_statement_timeout()
    engine = get_engine(context.config.get_main_option("sqlalchemy.url"), timeouts)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Several API replicas or workers may start at once; only one migrates at a time.
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()


run_migrations_online()

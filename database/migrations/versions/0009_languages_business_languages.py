"""business languages: each configuration's one `language` becomes the first of its `languages`

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 21:00:00.000000

The configuration is JSON in businesses.config: no column changes, the rows are rewritten. A row
the migration has not reached yet still reads right (BusinessConfig takes `language` as the one
language of a configuration without `languages`), so the API and workers may run during it.
"""
from typing import Any

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

businesses = sa.table("businesses", sa.column("id", sa.Integer), sa.column("config", sa.JSON))
DEFAULT_LANGUAGE = "en-US"  # BusinessConfig's default, when a configuration named none


def with_languages(config: dict[str, Any]) -> dict[str, Any]:
    """`language` moved into `languages`, first; a configuration that has `languages` keeps them."""
    upgraded = {key: value for key, value in config.items() if key != "language"}
    if not upgraded.get("languages"):
        upgraded["languages"] = [config.get("language") or DEFAULT_LANGUAGE]
    return upgraded


def with_one_language(config: dict[str, Any]) -> dict[str, Any]:
    """Back to one `language`: the first of `languages` (the others, and their voices, are dropped)."""
    downgraded = {key: value for key, value in config.items() if key not in ("languages", "voices")}
    downgraded["language"] = (config.get("languages") or [DEFAULT_LANGUAGE])[0]
    return downgraded


def _rewrite(change: Any) -> None:
    connection = op.get_bind()
    for row in connection.execute(sa.select(businesses.c.id, businesses.c.config)).all():
        config = row.config if isinstance(row.config, dict) else {}
        rewritten = change(config)
        if rewritten != config:
            connection.execute(businesses.update().where(businesses.c.id == row.id).values(config=rewritten))


def upgrade() -> None:
    _rewrite(with_languages)


def downgrade() -> None:
    _rewrite(with_one_language)

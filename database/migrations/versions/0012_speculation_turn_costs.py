"""call metrics: the longest silence a caller heard, and what speculative replies cost

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 21:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

COLUMNS = (
    ("longest_silence_ms", sa.Float(), None),
    ("llm_requests", sa.Integer(), "0"),
    ("speculative_requests", sa.Integer(), "0"),
    ("speculations_adopted", sa.Integer(), "0"),
    ("speculative_prompt_tokens", sa.Integer(), "0"),
    ("speculative_completion_tokens", sa.Integer(), "0"),
    ("fillers", sa.Integer(), "0"),
)


def upgrade() -> None:
    with op.batch_alter_table('call_metrics') as batch:
        for name, kind, default in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=default is None, server_default=default))


def downgrade() -> None:
    with op.batch_alter_table('call_metrics') as batch:
        for name, _, _ in reversed(COLUMNS):
            batch.drop_column(name)

"""business demo opt-in: only businesses an admin opts in are on the public /demo page

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 04:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('businesses') as batch:
        batch.add_column(sa.Column('demo_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('businesses') as batch:
        batch.drop_column('demo_enabled')

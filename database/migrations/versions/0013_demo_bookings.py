"""demo bookings: a demo or test session's booking is marked, and expires

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 01:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('appointments') as batch:
        batch.add_column(sa.Column('is_demo', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_appointments_is_demo', ['is_demo'])


def downgrade() -> None:
    with op.batch_alter_table('appointments') as batch:
        batch.drop_index('ix_appointments_is_demo')
        batch.drop_column('expires_at')
        batch.drop_column('is_demo')

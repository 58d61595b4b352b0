"""caller mood: each caller turn's sentiment score

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 21:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversation_history') as batch_op:
        batch_op.add_column(sa.Column('sentiment', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('conversation_history') as batch_op:
        batch_op.drop_column('sentiment')

"""business phone mode: Telnyx speech with the workflow's brain, or Realtime voice over SIP

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('businesses') as batch:
        batch.add_column(
            sa.Column('phone_mode', sa.String(length=13), nullable=False, server_default='telnyx_speech')
        )


def downgrade() -> None:
    with op.batch_alter_table('businesses') as batch:
        batch.drop_column('phone_mode')

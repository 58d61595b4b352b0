"""call recordings: Telnyx's recording of a call, and its deletion

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 18:50:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('telnyx_recording_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('audio_format', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('channels', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_because', sa.Enum('requested', 'retention', name='recordingdeletion', native_enum=False, create_constraint=False), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('telnyx_recording_id')
    )
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_recordings_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_recordings_saved_at'), ['saved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_recordings_saved_at'))
        batch_op.drop_index(batch_op.f('ix_call_recordings_call_id'))

    op.drop_table('call_recordings')

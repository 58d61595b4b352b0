"""calendar links: a business's own calendar (CalDAV), its bookings' events there, its busy times

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 20:52:32.429116
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_busy_times',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calendar_busy_times', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_busy_times_business_id'), ['business_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_busy_times_ends_at'), ['ends_at'], unique=False)

    op.create_table('calendar_links',
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('calendar_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sealed_password', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_outcome', sa.Enum('synced', 'unreachable', 'refused', 'no_password', name='calendarsyncoutcome', native_enum=False, create_constraint=False), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('events_seen', sa.Integer(), nullable=True),
    sa.Column('waiting_writes', sa.Integer(), nullable=False),
    sa.Column('overlapping_bookings', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.PrimaryKeyConstraint('business_id')
    )
    op.create_table('calendar_events',
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], ),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.PrimaryKeyConstraint('appointment_id'),
    sa.UniqueConstraint('uid')
    )
    with op.batch_alter_table('calendar_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_events_business_id'), ['business_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calendar_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_events_business_id'))

    op.drop_table('calendar_events')
    op.drop_table('calendar_links')
    with op.batch_alter_table('calendar_busy_times', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_busy_times_ends_at'))
        batch_op.drop_index(batch_op.f('ix_calendar_busy_times_business_id'))

    op.drop_table('calendar_busy_times')

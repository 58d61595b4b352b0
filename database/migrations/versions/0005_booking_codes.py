"""booking codes texted to callers, the key of an appointment's last move

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:45:55.496373
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('booking_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('caller_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('texted_keys', sa.JSON(), nullable=False),
    sa.Column('wrong_tries', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('business_id', 'call_id', name='uq_one_code_per_call')
    )
    with op.batch_alter_table('booking_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_codes_call_id'), ['call_id'], unique=False)

    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moved_key', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_unique_constraint('uq_appointments_moved_key', ['moved_key'])



def downgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_appointments_moved_key', type_='unique')
        batch_op.drop_column('moved_key')

    with op.batch_alter_table('booking_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_codes_call_id'))

    op.drop_table('booking_codes')

"""caller memory: a summary of each call of a returning caller, with its facts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 21:10:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('caller_memories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('caller_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_id')
    )
    op.create_index(op.f('ix_caller_memories_business_id'), 'caller_memories', ['business_id'], unique=False)
    op.create_index(op.f('ix_caller_memories_caller_number'), 'caller_memories', ['caller_number'], unique=False)
    op.create_index(op.f('ix_caller_memories_created_at'), 'caller_memories', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_caller_memories_created_at'), table_name='caller_memories')
    op.drop_index(op.f('ix_caller_memories_caller_number'), table_name='caller_memories')
    op.drop_index(op.f('ix_caller_memories_business_id'), table_name='caller_memories')
    op.drop_table('caller_memories')

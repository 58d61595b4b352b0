"""satisfaction surveys, callers' texts and opt-outs; saved sets of calls to replay

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 21:05:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('satisfaction_surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('caller_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('from_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sa.Enum('asking', 'sent', 'rated', 'not_sent', name='surveystatus', native_enum=False, create_constraint=False), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_id')
    )
    with op.batch_alter_table('satisfaction_surveys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_satisfaction_surveys_business_id'), ['business_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_satisfaction_surveys_caller_number'), ['caller_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_satisfaction_surveys_asked_at'), ['asked_at'], unique=False)

    op.create_table('text_opt_outs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('caller_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('business_id', 'caller_number', name='uq_opt_out_once')
    )

    op.create_table('text_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telnyx_message_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=True),
    sa.Column('survey_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Enum('rated', 'opted_out', 'opted_in', 'not_a_rating', 'no_survey', 'duplicate', 'unknown_number', 'ignored', name='textreplyoutcome', native_enum=False, create_constraint=False), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], ),
    sa.ForeignKeyConstraint(['survey_id'], ['satisfaction_surveys.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('telnyx_message_id')
    )

    op.create_table('replay_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('call_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('replay_sets')
    op.drop_table('text_replies')
    op.drop_table('text_opt_outs')
    with op.batch_alter_table('satisfaction_surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_satisfaction_surveys_asked_at'))
        batch_op.drop_index(batch_op.f('ix_satisfaction_surveys_caller_number'))
        batch_op.drop_index(batch_op.f('ix_satisfaction_surveys_business_id'))
    op.drop_table('satisfaction_surveys')

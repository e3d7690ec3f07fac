"""decision review: decided orders, their outcomes per horizon, and the aggregates (services.review)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import services.core.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_decisions',
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('order_version', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('dataset_ref', sa.String(length=120), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decision', sa.String(length=12), nullable=False),
    sa.Column('operator', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('proposed', services.core.db.JsonDoc, nullable=False),
    sa.Column('final', services.core.db.JsonDoc, nullable=False),
    sa.Column('edits', services.core.db.JsonDoc, nullable=False),
    sa.Column('reference_price', sa.Float(), nullable=False),
    sa.Column('anchor_ts', sa.BigInteger(), nullable=True),
    sa.Column('forecast_return', sa.Float(), nullable=True),
    sa.Column('forecast_lower', sa.Float(), nullable=True),
    sa.Column('forecast_upper', sa.Float(), nullable=True),
    sa.Column('forecast_horizon', sa.Integer(), nullable=True),
    sa.Column('executed_quantity', sa.Float(), nullable=False),
    sa.Column('fill_price', sa.Float(), nullable=True),
    sa.Column('fee', sa.Float(), nullable=False),
    sa.Column('settled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('order_id')
    )
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_review_decisions_operator', ['operator'], unique=False)
        batch_op.create_index('ix_review_decisions_run', ['run_id'], unique=False)
        batch_op.create_index('ix_review_decisions_symbol', ['symbol'], unique=False)
    op.create_table('review_outcomes',
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('horizon', sa.String(length=8), nullable=False),
    sa.Column('bars', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('exit_ts', sa.BigInteger(), nullable=True),
    sa.Column('exit_price', sa.Float(), nullable=True),
    sa.Column('realised_return', sa.Float(), nullable=True),
    sa.Column('hit', sa.Boolean(), nullable=True),
    sa.Column('covered', sa.Boolean(), nullable=True),
    sa.Column('agent_pnl', sa.Float(), nullable=True),
    sa.Column('actual_pnl', sa.Float(), nullable=True),
    sa.Column('value_added', sa.Float(), nullable=True),
    sa.Column('updated_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['review_decisions.order_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'horizon')
    )
    op.create_table('review_aggregates',
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('horizon', sa.String(length=8), nullable=False),
    sa.Column('decisions', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('pending', sa.Integer(), nullable=False),
    sa.Column('counts', services.core.db.JsonDoc, nullable=False),
    sa.Column('forecasts', sa.Integer(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('hit_rate', sa.Float(), nullable=True),
    sa.Column('agent_pnl', sa.Float(), nullable=False),
    sa.Column('actual_pnl', sa.Float(), nullable=False),
    sa.Column('value_edits', sa.Float(), nullable=False),
    sa.Column('value_rejections', sa.Float(), nullable=False),
    sa.Column('value_expiries', sa.Float(), nullable=False),
    sa.Column('value_other', sa.Float(), nullable=False),
    sa.Column('intervals', sa.Integer(), nullable=False),
    sa.Column('covered', sa.Integer(), nullable=False),
    sa.Column('coverage', sa.Float(), nullable=True),
    sa.Column('updated_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', 'horizon')
    )


def downgrade() -> None:
    op.drop_table('review_aggregates')
    op.drop_table('review_outcomes')
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_review_decisions_symbol')
        batch_op.drop_index('ix_review_decisions_run')
        batch_op.drop_index('ix_review_decisions_operator')
    op.drop_table('review_decisions')

"""decision review of every source: the order's source, its proposer and when it was proposed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:00:00
"""

import sqlalchemy as sa
from alembic import op

import services.core.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), server_default='agent-graph', nullable=False))
        batch_op.add_column(sa.Column('proposer', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('proposed_at', services.core.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_review_decisions_source', ['source'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_review_decisions_source')
        batch_op.drop_column('proposed_at')
        batch_op.drop_column('proposer')
        batch_op.drop_column('source')

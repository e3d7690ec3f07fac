"""scale out: the dataset of a paper order, runtime secrets shared by replicas, leases

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:50:00
"""

import sqlalchemy as sa
from alembic import op

import services.core.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dataset_ref', sa.String(length=120), nullable=True))
    op.create_table('runtime_secrets',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('ciphertext', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('leases',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('holder', sa.String(length=80), nullable=False),
    sa.Column('expires_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('leases')
    op.drop_table('runtime_secrets')
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.drop_column('dataset_ref')

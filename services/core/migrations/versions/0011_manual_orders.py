"""manual orders: the time in force an operator chose on the order ticket

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 11:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_in_force', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('time_in_force')

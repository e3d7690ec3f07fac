"""access tokens

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:40:00
"""

import sqlalchemy as sa
from alembic import op

import services.core.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_tokens',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('roles', services.core.db.JsonDoc, nullable=False),
    sa.Column('scopes', services.core.db.JsonDoc, nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', services.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', services.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', services.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('secret_hash')
    )
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_access_tokens_owner', ['owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_access_tokens_owner')
    op.drop_table('access_tokens')

"""news items

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:05:00
"""

import sqlalchemy as sa
from alembic import op

import services.core.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('news_items',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('symbols', services.core.db.JsonDoc, nullable=False),
    sa.Column('published_at', services.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sentiment_score', sa.Float(), nullable=False),
    sa.Column('sentiment_label', sa.String(length=8), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('news_items', schema=None) as batch_op:
        batch_op.create_index('ix_news_items_published', ['published_at'], unique=False)
        batch_op.create_index('ix_news_items_source_published', ['source', 'published_at'], unique=False)
    op.create_table('news_symbols',
    sa.Column('item_id', sa.String(length=255), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('published_at', services.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['news_items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('item_id', 'symbol')
    )
    with op.batch_alter_table('news_symbols', schema=None) as batch_op:
        batch_op.create_index('ix_news_symbols_symbol_published', ['symbol', 'published_at'], unique=False)
    op.create_table('news_cursors',
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('covered_from', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('covered_to', services.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', 'symbol')
    )


def downgrade() -> None:
    op.drop_table('news_cursors')
    with op.batch_alter_table('news_symbols', schema=None) as batch_op:
        batch_op.drop_index('ix_news_symbols_symbol_published')
    op.drop_table('news_symbols')
    with op.batch_alter_table('news_items', schema=None) as batch_op:
        batch_op.drop_index('ix_news_items_source_published')
        batch_op.drop_index('ix_news_items_published')
    op.drop_table('news_items')

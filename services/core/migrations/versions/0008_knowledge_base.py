"""knowledge base: upstream's kb_* tables, one embedding per item, vector search (pgvector HNSW + kb_search)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:40:00

On PostgreSQL with the pgvector extension available (Supabase, the test server) embeddings are ``vector(384)``
with an HNSW cosine index; a server without it gets ``real[]`` and an exact scan in the same ``kb_search``
function, so the schema migrates everywhere. SQLite stores float32 bytes; sqlite-vec indexes them at search time.
"""

import sqlalchemy as sa
from alembic import op

import services.core.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

DIMENSIONS = 384
#: HNSW build parameters (bench/knowledge.py measured recall@10 with them)
HNSW_M, HNSW_EF_CONSTRUCTION = 24, 128
TABLES = ('kb_patterns', 'kb_market_regimes', 'kb_lessons_learned', 'kb_macro_events', 'kb_correlations')

_RESULT = "TABLE(kind text, item_id text, title text, summary text, evidence jsonb, score double precision)"
_FILTERS = """(filter_kinds IS NULL OR e.kind = ANY(filter_kinds))
          AND (filter_assets IS NULL OR e.assets ?| filter_assets)"""

PGVECTOR_SEARCH = f"""
CREATE OR REPLACE FUNCTION kb_search(query_embedding vector({DIMENSIONS}), match_count integer DEFAULT 10,
                                     filter_kinds text[] DEFAULT NULL, filter_assets text[] DEFAULT NULL)
RETURNS {_RESULT} LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF match_count IS NULL OR match_count < 1 OR match_count > 100 THEN
        RAISE EXCEPTION USING MESSAGE = 'match_count must be between 1 and 100, not ' || coalesce(match_count::text, 'null');
    END IF;
    -- the candidate list must exceed the answer; iterative scans keep filtered searches from coming back short
    PERFORM set_config('hnsw.ef_search', greatest(200, match_count * 4)::text, true);
    PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
    RETURN QUERY
    SELECT r.kind, r.item_id, r.title, r.summary, r.evidence, r.score FROM (
        SELECT e.kind::text AS kind, e.item_id::text AS item_id, e.title::text AS title, e.summary,
               e.evidence::jsonb AS evidence, 1 - (e.embedding <=> query_embedding) AS score
        FROM kb_embeddings e
        WHERE {_FILTERS}
        ORDER BY e.embedding <=> query_embedding
        LIMIT match_count) r
    ORDER BY r.score DESC;
END
$$;
"""

EXACT_SEARCH = f"""
CREATE OR REPLACE FUNCTION kb_search(query_embedding real[], match_count integer DEFAULT 10,
                                     filter_kinds text[] DEFAULT NULL, filter_assets text[] DEFAULT NULL)
RETURNS {_RESULT} LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF match_count IS NULL OR match_count < 1 OR match_count > 100 THEN
        RAISE EXCEPTION USING MESSAGE = 'match_count must be between 1 and 100, not ' || coalesce(match_count::text, 'null');
    END IF;
    RETURN QUERY
    SELECT e.kind::text, e.item_id::text, e.title::text, e.summary, e.evidence::jsonb,
           (SELECT sum(a::float8 * b::float8) FROM unnest(e.embedding, query_embedding) AS t(a, b))::double precision AS score
    FROM kb_embeddings e
    WHERE {_FILTERS}
    ORDER BY score DESC
    LIMIT match_count;
END
$$;
"""


def _common():
    return [
        sa.Column('source_key', sa.String(length=200), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('schema_version', sa.String(length=8), nullable=False),
        sa.Column('created_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', services.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('source_key'),
    ]


def upgrade() -> None:
    json_doc = services.core.db.JsonDoc
    when = services.core.db.UtcDateTime(timezone=True)
    op.create_table('kb_patterns',
    sa.Column('id', sa.String(length=36), primary_key=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('pattern_type', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('suitable_regimes', json_doc, nullable=False),
    sa.Column('assets', json_doc, nullable=False),
    sa.Column('timeframes', json_doc, nullable=False),
    sa.Column('confidence_score', sa.Float(), sa.CheckConstraint('confidence_score >= 0 AND confidence_score <= 1'),
              nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    *_common())
    op.create_index('ix_kb_patterns_type', 'kb_patterns', ['pattern_type'])
    op.create_table('kb_market_regimes',
    sa.Column('id', sa.String(length=36), primary_key=True),
    sa.Column('asset', sa.String(length=32), nullable=False),
    sa.Column('dataset_ref', sa.String(length=120), nullable=False),
    sa.Column('regime', sa.String(length=40), nullable=False),
    sa.Column('volatility', sa.Float(), nullable=False),
    sa.Column('indicators', json_doc, nullable=False),
    sa.Column('start_at', when, nullable=False),
    sa.Column('end_at', when, nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    *_common())
    op.create_index('ix_kb_market_regimes_asset_start', 'kb_market_regimes', ['asset', 'start_at'])
    op.create_table('kb_lessons_learned',
    sa.Column('id', sa.String(length=36), primary_key=True),
    sa.Column('strategy_id', sa.String(length=100)),
    sa.Column('backtest_id', sa.String(length=100)),
    sa.Column('deployment_id', sa.String(length=100)),
    sa.Column('run_id', sa.String(length=64)),
    sa.Column('order_id', sa.String(length=32)),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('lesson', sa.Text(), nullable=False),
    sa.Column('assets', json_doc, nullable=False),
    sa.Column('tags', json_doc, nullable=False),
    sa.Column('metadata', json_doc, nullable=False),
    *_common())
    op.create_index('ix_kb_lessons_category_created', 'kb_lessons_learned', ['category', 'created_at'])
    op.create_table('kb_macro_events',
    sa.Column('id', sa.String(length=36), primary_key=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('impact', sa.String(length=10), nullable=False),
    sa.Column('assets', json_doc, nullable=False),
    sa.Column('occurred_at', when, nullable=False),
    sa.Column('source_url', sa.Text(), nullable=False),
    *_common())
    op.create_index('ix_kb_macro_events_impact_occurred', 'kb_macro_events', ['impact', 'occurred_at'])
    op.create_table('kb_correlations',
    sa.Column('id', sa.String(length=36), primary_key=True),
    sa.Column('source_asset', sa.String(length=32), nullable=False),
    sa.Column('target_asset', sa.String(length=32), nullable=False),
    sa.Column('correlation', sa.Float(), sa.CheckConstraint('correlation >= -1 AND correlation <= 1'),
              nullable=False),
    sa.Column('window', sa.Integer(), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('computed_at', when, nullable=False),
    *_common())
    op.create_index('ix_kb_correlations_pair', 'kb_correlations', ['source_asset', 'target_asset'])

    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        op.create_table('kb_embeddings',
        sa.Column('rowid', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('item_id', sa.String(length=36), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('assets', json_doc, nullable=False),
        sa.Column('evidence', json_doc, nullable=False),
        sa.Column('embedding', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', when, nullable=False),
        sa.UniqueConstraint('kind', 'item_id', name='uq_kb_embeddings_item'),
        sqlite_autoincrement=True)
        return
    vector = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
    if vector:
        op.execute('CREATE EXTENSION IF NOT EXISTS vector')
    op.execute(f"""
        CREATE TABLE kb_embeddings (
            rowid serial PRIMARY KEY,
            kind varchar(20) NOT NULL,
            item_id varchar(36) NOT NULL,
            title varchar(300) NOT NULL,
            summary text NOT NULL,
            assets jsonb NOT NULL,
            evidence jsonb NOT NULL,
            embedding {f'vector({DIMENSIONS})' if vector else 'real[]'} NOT NULL,
            created_at timestamptz NOT NULL,
            CONSTRAINT uq_kb_embeddings_item UNIQUE (kind, item_id))""")
    if vector:
        op.execute(f"""CREATE INDEX ix_kb_embeddings_hnsw ON kb_embeddings USING hnsw (embedding vector_cosine_ops)
                       WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})""")
        op.execute(PGVECTOR_SEARCH)
    else:
        op.execute(EXACT_SEARCH)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS kb_search')
    op.drop_table('kb_embeddings')
    for table in reversed(TABLES):
        op.drop_table(table)

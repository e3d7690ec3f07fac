"""View model of the Knowledge page: tables of items with a link to the backtest, run, order or data behind each."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def evidence_link(evidence: dict) -> str | None:
    """The console page an item comes from (relative URL), or None."""
    if evidence.get("order_id"):
        return f"/orders?order={evidence['order_id']}"
    if evidence.get("backtest_id"):
        return f"/strategies?report={evidence['backtest_id']}"
    if evidence.get("run_id"):
        return f"/agent-runs?run={evidence['run_id']}"
    if evidence.get("dataset_ref"):
        return f"/market-data?dataset={evidence['dataset_ref']}"
    if evidence.get("datasets"):
        return f"/market-data?dataset={evidence['datasets'][0]}"
    return None


def search_table(items: Sequence[dict]) -> pd.DataFrame:
    """Search results: score, kind, title, summary, link."""
    return pd.DataFrame([{"score": round(i["score"], 3), "kind": i["kind"], "title": i["title"],
                          "summary": i["summary"], "source": evidence_link(i["evidence"])} for i in items],
                        columns=["score", "kind", "title", "summary", "source"])


def lessons_table(lessons: Sequence[dict]) -> pd.DataFrame:
    """Lessons, newest first, each linked to its backtest, run or order."""
    rows = []
    for lesson in lessons:
        link = evidence_link({"order_id": lesson["order_id"], "backtest_id": lesson["backtest_id"],
                              "run_id": lesson["run_id"]})
        rows.append({"when": lesson["updated_at"], "category": lesson["category"], "title": lesson["title"],
                     "lesson": lesson["lesson"], "assets": ", ".join(lesson["assets"]), "source": link})
    return pd.DataFrame(rows, columns=["when", "category", "title", "lesson", "assets", "source"])


def regimes_table(regimes: Sequence[dict]) -> pd.DataFrame:
    """Volatility regimes: dataset, regime, start, end, annualised volatility, link to the chart."""
    return pd.DataFrame([{"dataset": r["dataset_ref"], "regime": r["regime"], "start": r["start_at"],
                          "end": r["end_at"], "volatility": r["volatility"],
                          "chart": f"/market-data?dataset={r['dataset_ref']}"} for r in regimes],
                        columns=["dataset", "regime", "start", "end", "volatility", "chart"])

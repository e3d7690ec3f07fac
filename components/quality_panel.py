"""The data-quality panel of a dataset: completeness, gaps, zero-volume runs, import findings."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.context import console
from components.tables import show_table
from services.market_data.datasets import DatasetRef
from services.market_data.market_hours import trading_calendar
from services.market_data.quality import Run, assess


def _runs_table(runs: list[Run]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "from": [pd.Timestamp(r.start_ms, unit="ms", tz="UTC") for r in runs],
            "to": [pd.Timestamp(r.end_ms, unit="ms", tz="UTC") for r in runs],
            "candles": [r.candles for r in runs],
        }
    )


def quality_panel(ref: DatasetRef, start_ms: int | None, end_ms: int | None) -> None:
    """Draw the quality of ``ref`` within the chosen range."""
    datasets = console().runtime.datasets
    manifest = datasets.manifest(ref)
    report = assess(datasets.read_version(manifest, start_ms, end_ms, shared=True), manifest, ref.interval,
                    calendar=trading_calendar(ref))
    a, b, c, d = st.columns(4)
    a.metric("Candles", f"{report.candles:,}")
    b.metric("Missing", f"{report.missing:,}", help="Expected candles (on the market's calendar) with no data")
    c.metric("Complete", f"{report.completeness:.2%}")
    d.metric("Zero-volume runs", "n/a" if not report.volume_available else f"{len(report.zero_volume_runs)}",
             help=f"Runs of {3}+ consecutive candles with zero volume")
    if report.closed_slots_note:
        st.caption(report.closed_slots_note)
    if report.gaps:
        st.write("**Largest gaps**")
        show_table(_runs_table(report.gaps), height=240)
    else:
        st.success("No missing candles in this range.")
    if not report.volume_available:
        st.caption("Close-only dataset: open = high = low = close and no volume, so volume checks do not apply.")
    elif report.zero_volume_runs:
        st.write("**Zero-volume runs**")
        show_table(_runs_table(report.zero_volume_runs), height=200)
    st.write(f"**Imports**: {report.imports} recorded; {report.duplicates_dropped} exact duplicate rows dropped and "
             f"{report.rows_reordered} out-of-order rows sorted on import.")
    if manifest.imports:
        show_table(pd.DataFrame(manifest.imports[::-1]), height=200)

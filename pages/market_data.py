"""Market Data page: catalog, chart with overlays, data quality, import and export for Lona."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from components.charts import candles_figure, regime_spans
from components.context import ERROR_ICON, console, current_actor, needs_role, shows_errors
from components.ingest_panel import ingest_panel
from components.news_timeline import news_markers
from components.quality_panel import quality_panel
from components.tables import show_table
from components.views.market import catalog_table, intervals_from
from services.core import clock
from services.market_data import ohlcv
from services.market_data.datasets import DatasetRef
from services.market_data.exports import FORMATS, export
from services.market_data.imports import import_file, preview

TABS = ("Chart", "Data quality", "Import", "Export", "Ingest")
TAB_KEY = "market_tab"


def _day_bounds(first: date, last: date) -> tuple[int, int]:
    return clock.day_start_ms(first), clock.day_end_ms(last)


def _catalog() -> DatasetRef | None:
    entries = console().runtime.datasets.catalog()
    query = st.text_input("Filter datasets", placeholder="e.g. AAPL, binance, 1h", key="catalog_filter")
    table = catalog_table(entries, query)
    show_table(table, height=min(38 * (len(table) + 1), 320))
    if table.empty:
        st.info("No dataset yet. Run `nexus demo seed` or import a file below.")
        return None
    refs = table["dataset"].tolist()
    wanted = st.query_params.get("dataset")
    index = refs.index(wanted) if wanted in refs else 0
    chosen = st.selectbox("Dataset", refs, index=index, key="dataset_choice")
    st.query_params["dataset"] = chosen
    return DatasetRef.parse(chosen)


@dataclass(frozen=True)
class _View:
    """What the controls above the tabs chose: the range (for every tab), the interval and overlays (chart)."""

    start_ms: int
    end_ms: int
    interval: str
    sma: tuple[int, ...]
    ema: tuple[int, ...]
    vwap: bool
    regimes: bool


def _windows(chosen: list) -> tuple[int, ...]:
    return tuple(sorted({int(w) for w in chosen if str(w).isdigit() and int(w) > 1}))


def _controls(ref: DatasetRef) -> _View:
    manifest = console().runtime.datasets.manifest(ref)
    first_ms = manifest.first_ts if manifest.first_ts is not None else clock.now_ms()
    last_ms = manifest.last_ts if manifest.last_ts is not None else clock.now_ms()
    first, last = clock.from_ms(first_ms).date(), clock.from_ms(last_ms).date()
    left, middle, right = st.columns([2, 1, 2])
    chosen = left.date_input("Date range (UTC)", value=(first, last), min_value=first, max_value=last,
                             key=f"range_{ref}")
    start_day, end_day = (chosen if isinstance(chosen, tuple) and len(chosen) == 2 else (first, last))
    interval = middle.selectbox("Interval", intervals_from(ref.interval), key=f"interval_{ref}")
    with right:
        sma_windows = st.multiselect("SMA", [10, 20, 50, 100, 200], default=[], key=f"sma_{ref}",
                                     accept_new_options=True)
        ema_windows = st.multiselect("EMA", [9, 12, 21, 26, 50], default=[], key=f"ema_{ref}",
                                     accept_new_options=True)
        vwap = "vwap" in manifest.columns and st.checkbox("VWAP", key=f"vwap_{ref}")
        regimes = st.checkbox("Volatility regimes", value=True, key=f"regimes_{ref}",
                              help="spans from the knowledge base (low, medium, high volatility)")
    start_ms, end_ms = _day_bounds(start_day, end_day)
    return _View(start_ms, end_ms, interval, _windows(sma_windows), _windows(ema_windows), bool(vwap), regimes)


def _chart(ref: DatasetRef, view: _View) -> None:
    chart = console().charts.build(ref, view.start_ms, view.end_ms, view.interval, view.sma, view.ema, view.vwap)
    if chart.frame.empty:
        st.warning("No candles in this range.")
    else:
        spans = regime_spans(console().runtime.knowledge.regimes(dataset_ref=str(ref))) if view.regimes else []
        news = console().runtime.news.window(ref.symbol, clock.from_ms(view.start_ms), clock.from_ms(view.end_ms + 1))
        st.plotly_chart(candles_figure(chart, news_markers(news, chart), spans=spans), width="stretch",
                        key=f"chart_{ref}")
        st.caption(chart.caption())


def _import(selected: DatasetRef | None) -> None:
    upload = st.file_uploader("Candle file (CSV or JSON, Lona format or a common variant)", type=["csv", "json"],
                              key="upload_file")
    mode = st.radio("Into", ["a new dataset", "the selected dataset"], horizontal=True,
                    disabled=selected is None, key="upload_target")
    if mode == "the selected dataset" and selected is not None:
        target_parts = (selected.exchange, selected.symbol, selected.interval)
        st.caption(f"Target: {selected}")
    else:
        a, b, c = st.columns(3)
        target_parts = (a.text_input("Exchange", "upload", key="up_exchange"),
                        b.text_input("Symbol", key="up_symbol", placeholder="BTCUSDT"),
                        c.selectbox("Interval", ohlcv.INTERVALS, index=6, key="up_interval"))
    sort_rows = st.checkbox("Sort rows and drop exact duplicate rows", key="up_sort")
    replace = st.checkbox("Replace stored candles at the same timestamps", key="up_replace",
                          help="Off: a file whose candles disagree with stored ones is refused.")
    if upload is None:
        return
    data = upload.getvalue()
    with shows_errors():
        shown = preview(data, upload.name, target_parts[2], sort_rows, console().runtime.settings.max_import_bytes)
        report = shown.report
        st.write(f"**{report.rows_read:,} rows** read from `{upload.name}`; timestamps: {report.timestamp_format}; "
                 f"interval guess: {shown.interval_guess or 'unknown'}")
        if report.columns_dropped:
            st.caption(f"Ignored columns: {', '.join(report.columns_dropped)}")
        if report.duplicates_dropped or report.rows_reordered:
            st.caption(f"{report.duplicates_dropped} exact duplicate rows dropped, "
                       f"{report.rows_reordered} out-of-order rows sorted")
        head = shown.frame.head(10).assign(time=lambda f: pd.to_datetime(f["timestamp"], unit="ms", utc=True))
        show_table(head)
        if shown.problem:
            st.error(f"This file cannot be imported: {shown.problem}", icon=ERROR_ICON)
            return
        if st.button("Import", type="primary", key="do_import", **needs_role("trader")):
            ref = DatasetRef.of(*target_parts)
            result = import_file(console().runtime.datasets, ref, data, upload.name, replace_overlap=replace,
                                 repair_order=sort_rows, actor=current_actor(),
                                 max_bytes=console().runtime.settings.max_import_bytes)
            st.success(f"{ref}: {result.rows_added:,} candles added, {result.rows_replaced:,} replaced, "
                       f"{result.rows_total:,} in total.")
            st.query_params["dataset"] = str(ref)


def _export(ref: DatasetRef, start_ms: int, end_ms: int) -> None:
    st.write(f"Export **{ref}** from {clock.from_ms(start_ms):%Y-%m-%d} to {clock.from_ms(end_ms):%Y-%m-%d} with "
             "exactly Lona's columns (timestamp, open, high, low, close, volume).")
    left, right = st.columns(2)
    fmt = left.radio("Format", list(FORMATS), format_func=FORMATS.get, key="export_format",
                     help="The data format is what Lona's data files hold; its symbol upload wants the other CSV.")
    name = right.text_input("Name (optional)", key="export_name", placeholder="SYMBOL_interval_first_last")
    if st.button("Export to the exports container", key="do_export", **needs_role("trader")):
        with shows_errors():
            runtime = console().runtime
            result = export(runtime.datasets, runtime.store, ref, fmt, start_ms, end_ms, name or None,
                            runtime.settings.exports_container, actor=current_actor())
            st.success(f"{result.rows:,} candles written to {runtime.settings.exports_container}/{result.blob_name}")
            st.download_button("Download", result.data, file_name=result.blob_name, mime=result.media_type,
                               key="export_download")


def render() -> None:
    """Draw the page. Only the open tab runs (lazy tabs): the Ingest tab's source calls wait until it is opened."""
    st.title("Market Data")
    with shows_errors():
        ref = _catalog()
        view = _controls(ref) if ref is not None else None
        chart, quality, imports, exports, ingest = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
        if ref is not None and view is not None:
            if chart.open:
                with chart:
                    _chart(ref, view)
            if quality.open:
                with quality:
                    quality_panel(ref, view.start_ms, view.end_ms)
            if exports.open:
                with exports:
                    _export(ref, view.start_ms, view.end_ms)
        if imports.open:
            with imports:
                _import(ref)
        if ingest.open:
            with ingest:
                ingest_panel(ref)

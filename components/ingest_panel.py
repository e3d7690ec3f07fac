"""The Ingest panel: fetch candles from Alpaca, Binance or any ccxt exchange as a background job, follow it."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from components.context import console, current_actor, shows_errors
from services.core import clock
from services.core.errors import NexusError
from services.jobs.queue import Job
from services.market_data.connectors import ccxt_exchange_ids, list_sources, open_source
from services.market_data.datasets import DatasetRef
from services.market_data.ingest import is_source, start_ingest, start_update
from services.ops.overview import age_text

JOB_KINDS = ("ingest", "update")
DISMISSED = "ingest_dismissed_jobs"


@st.cache_data(ttl=3600, show_spinner="Loading the source's markets…")
def _markets(source: str) -> list[str]:
    return open_source(source, console().runtime.settings).markets()


def _form() -> None:
    settings = console().runtime.settings
    sources = {s.name: s for s in list_sources(settings)}
    names = [*sources, *sorted(set(ccxt_exchange_ids()) - set(sources))]
    left, right = st.columns(2)
    source = left.selectbox("Source", names, key="ingest_source",
                            format_func=lambda n: sources[n].label if n in sources else f"{n} (ccxt)")
    missing = sources[source].missing_credentials if source in sources else None
    if missing:
        st.warning(missing)
        return
    try:
        markets = _markets(source)
    except NexusError as error:
        st.warning(f"Could not list {source}'s markets ({error}). Type the symbol; the job checks it when it runs.")
        symbol = right.text_input("Symbol", key="ingest_symbol_typed", placeholder="BTC/USDT").strip() or None
    else:
        symbol = right.selectbox("Symbol", markets, key="ingest_symbol", index=None, placeholder="type to search")
    a, b, c = st.columns(3)
    interval = a.selectbox("Interval", open_source(source, settings).intervals(), key="ingest_interval")
    today = clock.now().date()
    start = b.date_input("From (UTC)", today - timedelta(days=30), max_value=today, key="ingest_start")
    end = c.date_input("To (UTC, inclusive)", today, max_value=today, key="ingest_end")
    if st.button("Start ingest", type="primary", disabled=symbol is None or not current_actor().can("trader"),
                 key="ingest_go", help=None if current_actor().can("trader") else "trader role needed"):
        with shows_errors():
            job = start_ingest(console().runtime.jobs, source, symbol, interval, _ms(start), _ms(end, end_of_day=True),
                               current_actor())
            st.toast(f"Ingest started (job {job})")


def _ms(day: date, end_of_day: bool = False) -> int:
    return clock.day_end_ms(day) if end_of_day else clock.day_start_ms(day)


def _update(selected: DatasetRef | None) -> None:
    left, right = st.columns(2)
    trader = current_actor().can("trader")
    if selected is not None and not is_source(selected.exchange):
        left.caption(f"{selected} has no source to fetch from (sample or imported data): nothing to update.")
    elif selected is not None and left.button(f"Update {selected} to the last closed candle", key="update_one",
                                              disabled=not trader):
        with shows_errors():
            start_update(console().runtime.jobs, selected, current_actor())
    if right.button("Update every dataset", key="update_all", disabled=not trader):
        with shows_errors():
            start_update(console().runtime.jobs, None, current_actor())


def _dismiss(job_id: str) -> None:
    st.session_state.setdefault(DISMISSED, set()).add(job_id)


def _job_list(jobs: list[Job]) -> None:
    dismissed = st.session_state.get(DISMISSED, set())
    shown = [j for j in jobs if j.id not in dismissed][:8]
    if not shown:
        st.caption("No ingest or update has run yet." if not jobs else "No ingest or update to show.")
    for job in shown:
        with st.container(border=True):
            head, action = st.columns([5, 1])
            head.write(f"**{job.title}** · {job.status} · by {job.actor} · "
                       f"{age_text((clock.now() - job.created_at).total_seconds())}")
            if job.active:
                st.progress(job.progress, text=job.message or "queued")
                if action.button("Cancel", key=f"cancel_{job.id}"):
                    console().runtime.jobs.cancel(job.id, current_actor().name)
            elif job.status == "succeeded":
                st.caption((job.result or {}).get("summary", "done"))
            else:
                st.error(job.error or job.status)
                action.button("Dismiss", key=f"dismiss_{job.id}", on_click=_dismiss, args=(job.id,),
                              help="Hide this failed job in this browser session")


def _recent_jobs() -> list[Job]:
    return [j for j in console().runtime.jobs.list(limit=30) if j.kind in JOB_KINDS]


@st.fragment(run_every=2)
def _live_jobs() -> None:
    """Follows running jobs every 2 s; once none runs, one full rerun draws the end state and stops the polling."""
    jobs = _recent_jobs()
    _job_list(jobs)
    if not any(j.active for j in jobs):
        st.rerun(scope="app")


def _jobs() -> None:
    jobs = _recent_jobs()
    if any(j.active for j in jobs):
        _live_jobs()
    else:
        _job_list(jobs)


def ingest_panel(selected: DatasetRef | None) -> None:
    """Draw the panel: a new ingest, updates, and the jobs (followed from storage, so a refresh loses nothing)."""
    with shows_errors():
        _form()
        st.divider()
        _update(selected)
        _jobs()

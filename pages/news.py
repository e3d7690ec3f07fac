"""News page: stored news with its sentiment, a timeline per symbol; says how to connect a source when none is."""

from __future__ import annotations

import streamlit as st

from components.context import console, shows_errors
from components.news_timeline import news_section


def render() -> None:
    """Draw the page."""
    st.title("News")
    st.caption("Headlines from Alpaca News and RSS/Atom feeds, each scored by the sentiment model when fetched.")
    with shows_errors():
        news_section(console().runtime.news)

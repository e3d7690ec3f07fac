"""Links between the console's pages that stay in the same browser tab and session."""

from __future__ import annotations

import streamlit as st


def _not_drawn() -> None:
    """Never runs: the link only names the page; st.navigation in app/main.py runs the real one."""


def page_link(url_path: str, label: str, icon: str | None = None) -> None:
    """A link to the page registered at ``url_path``.

    A markdown link opens a new tab and a new session (signed out, widgets reset); st.page_link switches the
    page inside this session. Streamlit identifies a page by its url_path, so that is all the link needs.
    """
    st.page_link(st.Page(_not_drawn, title=label, url_path=url_path), label=label, icon=icon)

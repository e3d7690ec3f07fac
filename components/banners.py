"""Banners on every page: local mode, PAPER/LIVE and the kill switch."""

from __future__ import annotations

import streamlit as st

from components.context import Console, current_actor, sign_in_enabled


def banners(services: Console) -> None:
    """Draw the status banners in the sidebar and, for the kill switch, across the top of the page."""
    runtime = services.runtime
    st.sidebar.markdown(f"**{runtime.venue.mode}** · venue `{runtime.settings.execution_venue}`")
    if not sign_in_enabled():
        st.sidebar.info(f"Local mode: one operator ({current_actor().name}), no sign-in.", icon=":material/home:")
    if runtime.orders.kill_switch_on():
        st.error("KILL SWITCH ON: all order submission is halted.", icon=":material/dangerous:")

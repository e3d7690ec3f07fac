"""The sign-in gate: local mode passes, production without sign-in refuses, signed-out users see only a button."""

from __future__ import annotations

import streamlit as st

from components.context import console, current_actor, sign_in_enabled
from services.core.auth import NEEDS_SIGN_IN


def sign_in_gate() -> None:
    """Stop the script unless the session may see the console."""
    if sign_in_enabled():
        if not st.user.is_logged_in:
            st.title("Trade Nexus Console")
            st.write("Sign in to continue. Every decision in the console is recorded with your identity.")
            st.button("Sign in", type="primary", on_click=st.login, key="sign_in")
            st.stop()
        st.sidebar.caption(f"Signed in as {current_actor().label}")
        st.sidebar.button("Sign out", on_click=st.logout, key="sign_out")
    elif console().runtime.settings.app_env == "production":
        st.error(f"The console refuses to start. {NEEDS_SIGN_IN}.", icon=":material/lock:")
        st.stop()

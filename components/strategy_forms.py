"""Strategy input blocks: generate one with Lona from a description, upload code, show code and explanation."""

from __future__ import annotations

import streamlit as st

from components.context import console, current_actor, needs_role, shows_errors
from components.views.strategies import upload_source
from services.strategies import backtests as strategies
from services.strategies.lona.client import PROVIDERS


def strategy_code(code: str | None, explanation: str) -> None:
    """A strategy's explanation (plain text: an LLM wrote it, so never markdown) over its highlighted code."""
    if explanation:
        st.text(explanation)
    st.code(code or "# Lona sent no code", language="python", line_numbers=True)


def create_form() -> None:
    """Describe a strategy, pick the provider and model, have Lona generate it; show what it made."""
    with st.form("create_strategy"):
        description = st.text_area("What should the strategy do?", key="create_description",
                                   placeholder="Buy when the 20-period SMA crosses above the 50-period SMA, sell "
                                   "on the cross back; risk 2 % per trade.")
        name_column, provider_column, model_column = st.columns(3)
        name = name_column.text_input("Name (optional)", key="create_name")
        provider = provider_column.selectbox("Provider", PROVIDERS, key="create_provider")
        model = model_column.text_input("Model (optional)", key="create_model", placeholder="the provider's default")
        submitted = st.form_submit_button("Generate with Lona", type="primary", key="do_create",
                                          **needs_role("trader", "Lona writes Backtrader code; it can take minutes."))
    if submitted:
        with shows_errors(), st.spinner("Lona is writing the strategy…"):
            st.session_state["generated"] = strategies.create_strategy(
                console().runtime, description, actor=current_actor(), name=name.strip() or None,
                provider=provider, model=model.strip() or None)
    made = st.session_state.get("generated")
    if made is not None:
        st.success(f"Created strategy {made.strategy_id}: {made.name}")
        strategy_code(made.code, made.explanation)


def upload_form() -> None:
    """Upload a .py file or pasted Backtrader code as a strategy."""
    with st.form("upload_strategy", clear_on_submit=True):
        file = st.file_uploader("Backtrader strategy file", type=["py"], key="upload_file")
        pasted = st.text_area("…or paste its code", key="upload_code", height=160)
        name_column, description_column = st.columns(2)
        name = name_column.text_input("Name", key="upload_name", placeholder="default: the file's name")
        description = description_column.text_input("Description (optional)", key="upload_description")
        submitted = st.form_submit_button("Upload to Lona", key="do_upload", **needs_role("trader"))
    if submitted:
        with shows_errors():
            name, code = upload_source(file.name if file else None, file.getvalue() if file else None, pasted, name)
            strategy_id = strategies.upload_strategy(console().runtime, name, code, actor=current_actor(),
                                                     description=description.strip() or None)
            st.success(f"Uploaded {name} as strategy {strategy_id}")

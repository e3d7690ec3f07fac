"""Trade Nexus Console entry point: `streamlit run app/main.py` (navigation, banners, nothing else)."""

import streamlit as st

from components.context import console
from pages import market_data

st.set_page_config(page_title="Trade Nexus Console", page_icon="📈", layout="wide")
services = console()
navigation = st.navigation(
    {
        "Markets": [st.Page(market_data.render, title="Market Data", icon=":material/candlestick_chart:", url_path="market-data", default=True)],
    }
)
st.sidebar.info("Local mode: one operator, no sign-in.", icon=":material/home:")
navigation.run()

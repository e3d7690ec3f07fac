"""Trade Nexus Console entry point: `streamlit run app/main.py` serves the pages and GET /health on one port."""

import streamlit as st

if __name__ == "__main__":  # every browser session runs this file as __main__: navigation, banners, nothing else
    from components.context import console
    from pages import market_data

    st.set_page_config(page_title="Trade Nexus Console", page_icon="📈", layout="wide")
    services = console()
    navigation = st.navigation(
        {
            "Markets": [st.Page(market_data.render, title="Market Data", icon=":material/candlestick_chart:",
                                url_path="market-data", default=True)],
        }
    )
    st.sidebar.info("Local mode: one operator, no sign-in.", icon=":material/home:")
    navigation.run()
else:  # `streamlit run` imports it to find this ASGI app: the same pages plus /health and security headers
    from app.asgi import MIDDLEWARE, ROUTES

    app = st.App(__file__, routes=ROUTES, middleware=MIDDLEWARE)

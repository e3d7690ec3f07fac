"""Trade Nexus Console entry point: `streamlit run app/main.py` (navigation, banners, nothing else)."""

import streamlit as st

if __name__ == "__main__":  # every browser session runs this file as __main__: navigation, banners, nothing else
    from pathlib import Path

    from components.banners import banners
    from components.context import console
    from components.inbox_state import approvals_title
    from components.sign_in import sign_in_gate
    from pages import agent_runs, approvals, knowledge, market_data, news, orders, overview, settings, strategies
    from pages import review as decision_review

    # a local image: a :material/…: or emoji favicon is fetched from Google's or jsDelivr's CDN (none offline)
    st.set_page_config(page_title="Trade Nexus Console", page_icon=str(Path(__file__).with_name("icon.png")),
                       layout="wide")
    services = console()
    sign_in_gate()
    navigation = st.navigation({
        "Console": [st.Page(overview.render, title="Overview", icon=":material/dashboard:", url_path="overview",
                            default=True)],
        "Markets": [st.Page(market_data.render, title="Market Data", icon=":material/candlestick_chart:",
                            url_path="market-data"),
                    st.Page(knowledge.render, title="Knowledge", icon=":material/psychology:", url_path="knowledge"),
                    st.Page(news.render, title="News", icon=":material/newspaper:", url_path="news")],
        "Trading": [
            st.Page(agent_runs.render, title="Agent Runs", icon=":material/hub:", url_path="agent-runs"),
            st.Page(approvals.render, title=approvals_title(services.runtime.orders),
                    icon=":material/approval:", url_path="approvals"),
            st.Page(orders.render, title="Orders & Portfolio", icon=":material/receipt_long:", url_path="orders"),
            st.Page(decision_review.render, title="Review", icon=":material/fact_check:", url_path="review"),
        ],
        "Strategies": [st.Page(strategies.render, title="Strategies", icon=":material/science:",
                               url_path="strategies")],
        "Admin": [st.Page(settings.render, title="Settings", icon=":material/settings:", url_path="settings")],
    })
    banners(services)
    navigation.run()
else:  # `streamlit run` imports it to find this ASGI app: the same pages plus /health and security headers
    from app.asgi import MIDDLEWARE, ROUTES, warm_up

    warm_up()
    app = st.App(__file__, routes=ROUTES, middleware=MIDDLEWARE)

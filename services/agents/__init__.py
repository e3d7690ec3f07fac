"""The agent graph (LangGraph): data → predictor → anomaly → optimizer → risk gate → approval → execute → record."""

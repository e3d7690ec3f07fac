"""Pure numerical models of the agent graph: volatility, predictor, anomaly detector, optimizer."""

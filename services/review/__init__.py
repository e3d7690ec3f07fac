"""Decision review: what the agent graph proposed, what people decided, and what the market did after."""

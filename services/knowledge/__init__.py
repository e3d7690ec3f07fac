"""The knowledge base: patterns, market regimes, lessons, macro events and correlations, searchable by meaning."""

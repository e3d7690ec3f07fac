"""News: items from Alpaca News and RSS/Atom feeds, stored once with their sentiment (store, sources, ingest)."""

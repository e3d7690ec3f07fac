"""The console's HTTP API (the trader-data service): FastAPI, mounted at ``/api`` beside the pages or run alone.

An entry point like ``cli``: it may import ``services``, and nothing in services, components or pages imports it.
"""

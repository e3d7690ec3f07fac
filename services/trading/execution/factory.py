"""Open the execution venue that ``EXECUTION_VENUE`` names (never guessed from which keys are set)."""

from __future__ import annotations

from sqlalchemy import Engine

from services.core.config import Settings
from services.trading.execution.base import ExecutionVenue
from services.trading.execution.live_engine import LiveEngineVenue
from services.trading.execution.paper import PaperVenue, Quote


def open_venue(settings: Settings, engine: Engine, quote: Quote) -> ExecutionVenue:
    """The venue of ``settings.execution_venue``: ``paper`` (records DB ``engine``, prices from ``quote``),
    ``live-engine`` or ``alpaca-paper``."""
    venue: ExecutionVenue
    if settings.execution_venue == "live-engine":
        venue = LiveEngineVenue(settings)
    elif settings.execution_venue == "alpaca-paper":
        from services.trading.execution.alpaca_paper import AlpacaPaperVenue  # alpaca-py takes half a second to import

        venue = AlpacaPaperVenue(settings)
    else:
        venue = PaperVenue(engine, quote, slippage_bps=settings.paper_slippage_bps, fee_bps=settings.paper_fee_bps,
                           initial_cash=settings.paper_initial_cash)
    venue.fractional = settings.venue_fractional
    return venue

"""Market-data connectors: one CandleSource interface; ccxt (Binance by default), Alpaca stocks and crypto.

ccxt (about a second to import: every exchange class) loads only when a ccxt source is opened or its exchange
ids are asked for, not with the pages that merely import this package.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.core.config import Settings
from services.core.http_retry import RetryPolicy
from services.market_data.connectors.alpaca_source import AlpacaCrypto, AlpacaStocks
from services.market_data.connectors.base import MARKETS, CandleSource, MissingCredentials, market_id

__all__ = [
    "MARKETS", "CandleSource", "MissingCredentials", "SourceInfo", "ccxt_exchange_ids", "list_sources",
    "market_id", "open_source", "retry_policy", "source_exchange_id",
]

#: the sources the panel offers first; any other ccxt exchange id works too
NAMED_SOURCES = ("binance", "alpaca", "alpaca-crypto")


@dataclass(frozen=True)
class SourceInfo:
    """A source as the Ingest panel lists it, with what is missing to use it (None when ready)."""

    name: str
    label: str
    exchange_id: str
    missing_credentials: str | None


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry policy of ingestion requests (attempts and backoff from the settings)."""
    return RetryPolicy(attempts=settings.ingest_retry_attempts, base_delay_s=settings.ingest_retry_base_delay_seconds)


def open_source(
    name: str,
    settings: Settings,
    *,
    rate_limit: bool = True,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CandleSource:
    """The source called ``name`` (``alpaca``, ``alpaca-crypto``, ``binance`` or any ccxt id), configured.

    ``rate_limit`` keeps the provider's limiter on (ccxt's, or Alpaca's 200 requests a minute); the
    benchmark turns it off against the fake. Raises BadInput for an unknown name.
    """
    name = name.strip().lower()
    policy = policy or retry_policy(settings)
    if name in ("alpaca", "alpaca-crypto"):
        secret = settings.alpaca_api_secret
        common = dict(
            api_key=settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else None,
            api_secret=secret.get_secret_value() if secret else None,
            data_url=settings.alpaca_data_url, trading_url=settings.alpaca_base_url,
            timeout_s=settings.ingest_timeout_seconds,
            requests_per_minute=settings.alpaca_requests_per_minute if rate_limit else None,
            policy=policy, sleep=sleep,
        )
        if name == "alpaca":
            return AlpacaStocks(feed=settings.alpaca_feed, adjustment=settings.alpaca_adjustment, **common)
        return AlpacaCrypto(**common)
    from services.market_data.connectors.ccxt_source import CcxtSource

    key, secret = settings.ccxt_api_key, settings.ccxt_api_secret
    return CcxtSource(
        name,
        api_url=settings.binance_api_url if name == "binance" else None,
        api_key=key.get_secret_value() if key else None,
        api_secret=secret.get_secret_value() if secret else None,
        timeout_s=settings.ingest_timeout_seconds, rate_limit=rate_limit, policy=policy, sleep=sleep,
    )


def source_exchange_id(name: str) -> str:
    """The exchange id datasets from source ``name`` are stored under (the name itself, lower case)."""
    return name.strip().lower()


def ccxt_exchange_ids() -> list[str]:
    """Every exchange id ccxt knows (for the panel's free-text source)."""
    import ccxt

    return list(ccxt.exchanges)


def list_sources(settings: Settings) -> list[SourceInfo]:
    """The named sources with their credential status."""
    sources = [open_source(name, settings) for name in NAMED_SOURCES]
    return [SourceInfo(s.name, s.label, s.exchange_id, s.credentials_missing()) for s in sources]

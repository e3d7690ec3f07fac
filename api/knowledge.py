"""Knowledge endpoints (upstream's v2 contract): search by meaning, the patterns, and an asset's market regimes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api.errors import ERROR_RESPONSES, ApiError
from api.security import Services, token_with
from services.core.errors import ConfigError
from services.core.tokens import AccessToken
from services.knowledge.store import KINDS, MAX_LIMIT

router = APIRouter(prefix="/v2/knowledge", tags=["knowledge"], responses=ERROR_RESPONSES)
KnowledgeReader = Annotated[AccessToken, Depends(token_with("knowledge:read"))]
#: a symbol as the knowledge base stores assets (letters, digits, ``.``, ``-``, ``/``; no ``/`` in a path)
ASSET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9./-]{0,31}$"
PATH_ASSET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,31}$"
Kind = Literal[KINDS]  # pattern regime lesson event correlation


class SearchIn(BaseModel):
    """What to look for: a question or phrase, optionally only some assets and kinds of item."""

    query: str = Field(min_length=1, max_length=2000, examples=["momentum whipsawed in a choppy market"])
    assets: list[Annotated[str, Field(pattern=ASSET_PATTERN)]] = Field(
        default_factory=list, max_length=50, description="only items about these symbols (any of them)",
        examples=[["BTCUSDT"]])
    kinds: list[Kind] = Field(default_factory=list, max_length=len(KINDS), description="only these kinds of item")
    limit: int = Field(10, ge=1, le=MAX_LIMIT, description="items to return, best first")


class ItemOut(BaseModel):
    """One search result (upstream's item): its kind and id, title, summary, cosine similarity and evidence."""

    kind: Kind
    id: str
    title: str
    summary: str
    score: float = Field(description="cosine similarity to the query (higher is closer)")
    evidence: dict[str, Any] = Field(description="what the item links back to: backtest, run, order or dataset")


class SearchOut(BaseModel):
    """The items most similar in meaning to the query, best first."""

    items: list[ItemOut]


class PatternOut(BaseModel):
    """A trading pattern of the knowledge base (``kb_patterns``)."""

    id: str
    name: str
    pattern_type: str
    description: str
    suitable_regimes: list[str]
    assets: list[str]
    timeframes: list[str]
    confidence_score: float = Field(ge=0, le=1)
    source_ref: str
    created_by: str
    schema_version: str
    created_at: datetime
    updated_at: datetime


class PatternsOut(BaseModel):
    """Every pattern, newest first."""

    items: list[PatternOut]


class RegimeOut(BaseModel):
    """A span of one volatility regime of an asset's dataset (``kb_market_regimes``)."""

    id: str
    asset: str
    dataset_ref: str = Field(description="exchange/SYMBOL/interval the regime was measured on")
    regime: str = Field(description="low_vol, medium_vol or high_vol")
    volatility: float = Field(description="annualised volatility of log returns over the span")
    indicators: dict[str, Any]
    start_at: datetime
    end_at: datetime
    notes: str
    schema_version: str
    created_at: datetime
    updated_at: datetime


class RegimesOut(BaseModel):
    """An asset's regimes per dataset, oldest first (none when the knowledge base has not measured it)."""

    asset: str
    items: list[RegimeOut]


def _fields(model: type[BaseModel], row: dict) -> dict:
    return {name: row[name] for name in model.model_fields}


@router.post("/search", response_model=SearchOut, summary="Search the knowledge base by meaning")
def search(body: SearchIn, _token: KnowledgeReader, services: Services) -> SearchOut:
    """Patterns, regimes, lessons, events and correlations closest in meaning to ``query``, best first."""
    try:
        items = services.knowledge.search(body.query, assets=body.assets, kinds=list(body.kinds), limit=body.limit)
    except ConfigError as error:  # the embedding model is not usable: the console's problem, not the caller's
        raise ApiError(503, "unavailable", f"{error}; retry later or ask the console's operator") from None
    return SearchOut(items=[ItemOut(**item) for item in items])


@router.get("/patterns", response_model=PatternsOut, summary="Every trading pattern")
def patterns(_token: KnowledgeReader, services: Services) -> PatternsOut:
    """The patterns traders added, newest first."""
    return PatternsOut(items=[PatternOut(**_fields(PatternOut, row)) for row in services.knowledge.patterns()])


@router.get("/regimes/{asset}", response_model=RegimesOut, summary="An asset's market regimes")
def regimes(asset: Annotated[str, Path(pattern=PATH_ASSET_PATTERN, examples=["BTCUSDT"])], _token: KnowledgeReader,
            services: Services) -> RegimesOut:
    """The volatility regimes measured on the asset's datasets (oldest first per dataset)."""
    symbol = asset.upper()
    rows = services.knowledge.regimes(asset=symbol)
    return RegimesOut(asset=symbol, items=[RegimeOut(**_fields(RegimeOut, row)) for row in rows])

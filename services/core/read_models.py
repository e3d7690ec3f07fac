"""Base of the typed read models over stored JSON (graph results, an order's context): parsed once, read by
attribute. Immutable; unknown keys are ignored so older rows keep loading; a number that could not be computed
was stored as None, hence ``Number``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

Number = float | None


class ReadModel(BaseModel):
    """Base of the read models: immutable, extra keys ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

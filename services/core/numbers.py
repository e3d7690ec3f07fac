"""Numbers shown to people exactly as stored: 806.19 not 806.2, 43,250 never 4.325e+04, 337.3982 not 337.398."""

from __future__ import annotations

import math
from decimal import Decimal


def exact(value: float | int | None, *, grouping: bool = True, missing: str = "–") -> str:
    """``value`` with every stored digit and none invented: the shortest decimal that reads back as the same
    float, never in scientific notation, thousands grouped (``grouping=False`` for inputs and ids)."""
    if value is None:
        return missing
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    text = f"{Decimal(repr(number)):{',' if grouping else ''}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def computed(value: float | int | None, *, missing: str = "–") -> str:
    """A value the console computed (an average fill price: quote × (1 + slippage)) to 12 significant digits, shown
    like ``exact``: the float noise of the arithmetic dropped (203.011455, not 203.01145499999998), every digit a
    venue quotes kept."""
    if value is None or not math.isfinite(float(value)):
        return exact(value, missing=missing)
    return exact(float(f"{float(value):.12g}"))

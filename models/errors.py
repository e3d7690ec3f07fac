"""Errors the models raise when their input cannot support the computation asked for."""

from __future__ import annotations


class InsufficientData(ValueError):
    """A series is too short (after dropping NaN) for the computation asked for.

    ``lengths`` maps each offending symbol to its usable length; ``required`` is the minimum it needed.
    """

    def __init__(self, lengths: dict[str, int], required: int, purpose: str):
        self.lengths = dict(lengths)
        self.required = required
        self.purpose = purpose
        listed = ", ".join(f"{symbol} has {n}" for symbol, n in self.lengths.items())
        super().__init__(
            f"not enough data to {purpose}: {listed} usable observation(s), at least {required} needed "
            "(choose a longer date range, a shorter lookback/horizon, or drop the symbol)"
        )


class InfeasibleConstraints(ValueError):
    """Portfolio constraints that no weight vector can satisfy (e.g. max weights summing to less than 1)."""

"""Domain exceptions: each says what is wrong and what to do; pages show them, the CLI exits 2 on them."""

from __future__ import annotations


class NexusError(Exception):
    """Base of every error the console reports to a person."""

    #: exit code of the CLI for this kind of error (2 = bad input, 1 = anything else)
    exit_code = 1


class BadInput(NexusError):
    """The person (or a service) sent something the console refuses."""

    exit_code = 2


class ConfigError(BadInput):
    """A setting is missing or invalid; the message names the variable."""


class InvalidCandles(BadInput):
    """A candle file or frame breaks the OHLCV contract.

    ``row`` is the 1-based data row of the offending candle (header not counted), ``rule`` the rule it breaks.
    """

    def __init__(self, rule: str, row: int | None = None, source: str | None = None, detail: str = ""):
        self.rule = rule
        self.row = row
        self.source = source
        self.detail = detail
        where = ", ".join(p for p in (source or "", f"row {row}" if row is not None else "") if p)
        text = f"{where}: {rule}" if where else rule
        super().__init__(f"{text} ({detail})" if detail else text)


class DatasetNotFound(BadInput):
    """No dataset under that reference."""


class DatasetBusy(NexusError):
    """Another writer holds the dataset; retry in a moment."""


class StorageUnavailable(NexusError):
    """The blob store cannot be reached."""


class ServiceUnavailable(NexusError):
    """An external service is down, timed out or answered with a server error.

    ``status_code`` is the HTTP status of the last answer, or None when there was none (timeout, no connection).
    """

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class PermissionDenied(NexusError):
    """The actor lacks the role this action needs."""

    exit_code = 2


class Conflict(NexusError):
    """The record changed under us (another operator acted first)."""

    exit_code = 2

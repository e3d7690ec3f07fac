"""Why a Lona backtest failed: the diagnostics walk, the category and the operator-facing message."""

from __future__ import annotations

import re
from typing import Any

from services.strategies.lona.errors import DATA_OWNERSHIP_HINT, BacktestFailed

DIAGNOSTIC_KEY = re.compile(r"stderr|traceback|error|exception|message", re.IGNORECASE)
STDERR_KEY = re.compile(r"stderr|traceback", re.IGNORECASE)
DATA_NOT_FOUND = re.compile(r"\b(data|symbol)\b.*\bnot found\b", re.IGNORECASE | re.DOTALL)
_TIMEOUT = re.compile(r"timed out|timeout|deadline exceeded", re.IGNORECASE)
_CODE = re.compile(
    r"SyntaxError|NameError|AttributeError|TypeError|ImportError|ModuleNotFoundError|IndentationError|traceback",
    re.IGNORECASE,
)
MAX_DIAGNOSTICS = 8
MAX_DEPTH = 5
SNIPPET_CHARS = 420

HINTS = {
    "TIMEOUT_ERROR": "Lona stopped the run for taking too long: shorten the date range, use fewer symbols or a "
    "coarser interval, then run it again.",
    "DATA_ERROR": DATA_OWNERSHIP_HINT,
    "CODE_ERROR": "The strategy code raised an error: read the stderr below, fix the code and upload it again "
    "(nexus lona strategies upload FILE).",
    "EXECUTION_ERROR": "Lona could not complete the run: check that the dates lie inside the symbols' data "
    "range and the cash covers the first order, then run it again.",
}


def collect_diagnostics(payload: Any, limit: int = MAX_DIAGNOSTICS, depth: int = MAX_DEPTH) -> list[tuple[str, str]]:
    """``(key, text)`` pairs of non-empty strings under keys naming stderr/traceback/error/exception/message.

    Walks dicts and lists breadth by breadth to ``depth`` levels and keeps at most ``limit`` pairs.
    """
    found: list[tuple[str, str]] = []
    level = [payload]
    for _ in range(depth):
        deeper: list[Any] = []
        for node in level:
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for key, value in items:
                if isinstance(value, str) and value.strip() and DIAGNOSTIC_KEY.search(str(key)):
                    found.append((str(key), value.strip()))
                    if len(found) >= limit:
                        return found
                elif isinstance(value, dict | list):
                    deeper.append(value)
        level = deeper
    return found


def classify(text: str) -> str:
    """The failure category of an error text (TIMEOUT, DATA, CODE, then EXECUTION, in that order)."""
    if _TIMEOUT.search(text):
        return "TIMEOUT_ERROR"
    if DATA_NOT_FOUND.search(text):
        return "DATA_ERROR"
    if _CODE.search(text):
        return "CODE_ERROR"
    return "EXECUTION_ERROR"


def backtest_failure(report_id: str, report_error: str | None, full_report: Any = None) -> BacktestFailed:
    """The classified error of a FAILED report, from its ``error`` and (best effort) its full report.

    The message reads ``Backtest report <id> failed [<CATEGORY>]: <error>``, then the hint, then
    ``stderr: <snippet>`` when the runner left any output.
    """
    diagnostics = collect_diagnostics(full_report) if full_report is not None else []
    error = (report_error or "").strip()
    # the full report often repeats report.error; merge the first diagnostic that adds something
    extra = next((text[:SNIPPET_CHARS] for _, text in diagnostics if text[:SNIPPET_CHARS] not in error), "")
    if extra:
        error = f"{error} | {extra}" if error else extra
    error = error or "no error message from Lona"
    category = classify("\n".join([error, *(text for _, text in diagnostics)]))
    stderr = next((text for key, text in diagnostics if STDERR_KEY.search(key)), "")[-SNIPPET_CHARS:]
    lines = [f"Backtest report {report_id} failed [{category}]: {error}", HINTS[category]]
    if stderr:
        lines.append(f"stderr: {stderr}")
    return BacktestFailed(
        report_id, "\n".join(lines), category=category, error=error, hint=HINTS[category], stderr=stderr,
        full_report=full_report if isinstance(full_report, dict) else None,
    )

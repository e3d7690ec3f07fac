"""Rationale per step: the deterministic summary, plus (with XAI_API_KEY) a short text Grok writes from it.

The LLM only comments: its text is stored beside the numbers and never feeds back into a weight, an
order or a check. A timeout or an error costs the run nothing but the text, and the rationale says so;
after one failure the rest of the run does not wait on the LLM again.
"""

from __future__ import annotations

import json
from typing import Any

from services.core.config import Settings

MAX_TEXT = 1500
MAX_TOKENS = 220
SYSTEM = (
    "You are the desk analyst of an automated trading system. In at most three plain sentences, explain the "
    "result of one step of the pipeline to the person who approves its orders, using only the numbers given. "
    "Do not recommend changes, do not invent numbers, no markdown."
)


class Commentary:
    """Writes each step's rationale; ``enabled`` is the run's LLM switch (the key must be set too)."""

    def __init__(self, settings: Settings, enabled: bool):
        self.settings = settings
        self.failure: str | None = None
        self.unavailable: str | None = None
        if not enabled:
            self.unavailable = "LLM off for this run"
        elif settings.xai_api_key is None:
            self.unavailable = "no XAI_API_KEY configured"
        self._chat = None if self.unavailable else _chat_model(settings)

    def explain(self, step: str, summary: str, facts: dict[str, Any]) -> tuple[dict, dict]:
        """The step's rationale entry and the token usage it cost (empty when no LLM was asked)."""
        entry: dict[str, Any] = {"summary": summary, "llm": None, "note": None}
        if self._chat is None:
            entry["note"] = f"{self.unavailable}: deterministic summary"
            return entry, {}
        if self.failure:
            entry["note"] = f"LLM skipped: it failed earlier in this run ({self.failure}); deterministic summary"
            return entry, {}
        from langchain_core.messages import HumanMessage, SystemMessage

        prompt = f"Step: {step}\nSummary:\n{summary}\nNumbers (JSON):\n{json.dumps(facts, default=str)[:6000]}"
        try:
            reply = self._chat.invoke([SystemMessage(SYSTEM), HumanMessage(prompt)])
        except Exception as error:  # any LLM failure: the run goes on without the text
            self.failure = describe_failure(error, self.settings.xai_timeout_seconds)
            entry["note"] = f"LLM rationale failed ({self.failure}); the run went on with the deterministic summary"
            return entry, {"llm_failures": 1}
        entry["llm"] = str(reply.content).strip()[:MAX_TEXT]
        usage = reply.usage_metadata or {}
        return entry, {"llm_calls": 1, "input_tokens": int(usage.get("input_tokens", 0)),
                       "output_tokens": int(usage.get("output_tokens", 0)),
                       "total_tokens": int(usage.get("total_tokens", 0)), "model": self.settings.xai_model}


def _chat_model(settings: Settings):
    from langchain_xai import ChatXAI

    options: dict[str, Any] = {}
    if settings.xai_base_url:
        options["base_url"] = settings.xai_base_url
    return ChatXAI(model=settings.xai_model, api_key=settings.xai_api_key, timeout=settings.xai_timeout_seconds,
                   max_retries=1, max_tokens=MAX_TOKENS, temperature=0.2, **options)


def describe_failure(error: Exception, timeout_s: float) -> str:
    """What went wrong, in words that carry no secret (never the API's echoed request or key)."""
    import openai

    if isinstance(error, openai.APITimeoutError):
        return f"timed out after {timeout_s:g} s"
    if isinstance(error, openai.APIStatusError):
        return f"the LLM API answered HTTP {error.status_code}"
    if isinstance(error, openai.APIConnectionError):
        return "the LLM API could not be reached"
    return type(error).__name__

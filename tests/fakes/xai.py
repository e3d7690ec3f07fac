"""A fake xAI API: OpenAI-style ``POST /v1/chat/completions`` with Bearer auth, as langchain-xai calls it.

langchain-xai's ChatXAI is an OpenAI client on ``base_url`` (default ``https://api.x.ai/v1/``): it posts
``{"model", "messages": [{"role", "content"}], "max_tokens", "temperature", "stream": false}`` and reads
``choices[0].message.content`` and ``usage.{prompt,completion,total}_tokens``.
"""

from __future__ import annotations

import time

from tests.fakes.server import FakeServer, Request, Response

API_KEY = "xai-test-key-0123456789"


class FakeXAI(FakeServer):
    """Answers every completion with ``reply``; ``calls`` keeps the request bodies."""

    def __init__(self, reply: str = "The numbers support the proposal; nothing here changes an order.") -> None:
        super().__init__()
        self.reply = reply
        self.calls: list[dict] = []
        self.route("POST", r"/v1/chat/completions")(self._complete)

    @property
    def base_url(self) -> str:
        """What XAI_BASE_URL is set to."""
        return f"{self.url}/v1"

    def authorize(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return Response(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                            "code": "invalid_api_key"}})
        return None

    def _complete(self, request: Request) -> Response:
        body = request.json()
        self.calls.append(body)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len(self.reply.split())
        return Response(200, {
            "id": f"chatcmpl-{len(self.calls)}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": self.reply, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

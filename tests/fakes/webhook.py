"""A generic webhook receiver: what apprise's ``json://host:port/path`` posts (``{"version", "title", "message",
"type", ...}``), recorded in ``messages``."""

from __future__ import annotations

from tests.fakes.server import FakeServer, Request, Response


class FakeWebhook(FakeServer):
    """Accepts POST /hook and keeps each JSON body; ``fail_next`` makes it refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict] = []
        self.route("POST", r"/hook")(self._hook)

    def _hook(self, request: Request) -> Response:
        self.messages.append(request.json())
        return Response(200, {"ok": True})

    @property
    def apprise_url(self) -> str:
        """The apprise URL that posts JSON here."""
        return self.url.replace("http://", "json://") + "/hook"

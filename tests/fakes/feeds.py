"""A fake web server of RSS 2.0 and Atom 1.0 feeds (and of pages that are not feeds)."""

from __future__ import annotations

from email.utils import format_datetime
from xml.sax.saxutils import escape

from tests.fakes.server import FakeServer, Response


def rss(items: list[dict], title: str = "Markets") -> str:
    """An RSS 2.0 document; each item dict may carry title, link, guid, description, published (datetime)."""
    parts = []
    for item in items:
        fields = []
        for key in ("title", "link", "guid", "description"):
            if key in item:
                fields.append(f"<{key}>{escape(str(item[key]))}</{key}>")
        if "published" in item:
            fields.append(f"<pubDate>{format_datetime(item['published'])}</pubDate>")
        parts.append(f"<item>{''.join(fields)}</item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>http://example.test/</link><description>d</description>{''.join(parts)}</channel></rss>")


def atom(entries: list[dict], title: str = "Markets") -> str:
    """An Atom 1.0 document; each entry dict may carry title, link, id, summary, updated (datetime)."""
    parts = []
    for entry in entries:
        fields = []
        if "title" in entry:
            fields.append(f"<title>{escape(entry['title'])}</title>")
        if "link" in entry:
            fields.append(f'<link href="{escape(entry["link"])}"/>')
        if "id" in entry:
            fields.append(f"<id>{escape(entry['id'])}</id>")
        if "summary" in entry:
            fields.append(f"<summary>{escape(entry['summary'])}</summary>")
        if "updated" in entry:
            fields.append(f"<updated>{entry['updated'].isoformat()}</updated>")
        parts.append(f"<entry>{''.join(fields)}</entry>")
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:fake</id><updated>2025-01-01T00:00:00Z</updated>"
            f"{''.join(parts)}</feed>")


class FakeFeeds(FakeServer):
    """Serves whatever documents are put at a path: ``serve("/rss", text, "application/rss+xml")``."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[str, tuple[str, str]] = {}
        self.route("GET", "(/.*)")(self._document)

    def serve(self, path: str, body: str, content_type: str = "application/rss+xml") -> str:
        """Serve ``body`` at ``path``; the full URL."""
        self.documents[path] = (body, content_type)
        return f"{self.url}{path}"

    def _document(self, request, path: str) -> Response:
        if path not in self.documents:
            return Response(404, "not found")
        body, content_type = self.documents[path]
        return Response(200, body, {"Content-Type": content_type})


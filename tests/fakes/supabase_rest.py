"""A fake of Supabase's REST API for RPC calls: ``POST /rest/v1/rpc/<function>`` as PostgREST serves it.

PostgREST takes the function's named arguments as a JSON object, checks the ``apikey`` header (and the
``Authorization: Bearer`` JWT), and answers a set-returning function with a JSON array of row objects; errors are
``{"code", "details", "hint", "message"}`` (PGRST202: no such function; PGRST301: bad JWT). Given an engine, the
fake runs the real SQL function there, so the rows are the database's own.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT

from tests.fakes.server import FakeServer, Request, Response

SERVICE_KEY = "sb-test-service-key-0123456789"


class FakeSupabaseRest(FakeServer):
    """``calls`` keeps (function, arguments); ``rows`` answers when no engine is given."""

    def __init__(self, engine: Engine | None = None, rows: list[dict] | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.rows = rows or []
        self.calls: list[tuple[str, dict]] = []
        self.route("POST", r"/rest/v1/rpc/(\w+)")(self._rpc)

    def authorize(self, request: Request) -> Response | None:
        if request.headers.get("apikey") != SERVICE_KEY or \
                request.headers.get("authorization") != f"Bearer {SERVICE_KEY}":
            return Response(401, {"code": "PGRST301", "details": None, "hint": None, "message": "JWSError"})
        return None

    def _rpc(self, request: Request, function: str) -> Response:
        arguments = request.json()
        self.calls.append((function, arguments))
        if function != "kb_search":
            return Response(404, {"code": "PGRST202", "details": None, "hint": None,
                                  "message": f"Could not find the function public.{function} in the schema cache"})
        if self.engine is None:
            return Response(200, self.rows)
        statement = text("SELECT * FROM kb_search(CAST(:query_embedding AS vector), :match_count, :filter_kinds, "
                         ":filter_assets)").bindparams(bindparam("filter_kinds", type_=ARRAY(TEXT)),
                                                        bindparam("filter_assets", type_=ARRAY(TEXT)))
        try:
            with self.engine.begin() as connection:
                rows = [dict(r) for r in connection.execute(statement, arguments).mappings()]
        except Exception as error:  # PostgREST hands the database's error back as a 400
            return Response(400, {"code": "P0001", "details": None, "hint": None,
                                  "message": str(getattr(error, "orig", error)).splitlines()[0]})
        return Response(200, json.loads(json.dumps(rows, default=str)))

"""A fake LangSmith API: what the langsmith client (0.15) calls to trace runs and to build a run's link.

- ``GET /info``: server info; ``batch_ingest_config.use_multipart_endpoint`` says where traces go.
- ``GET /sessions?name=…&limit=1`` (read a project; ``[]`` when unknown), ``GET /sessions?limit=1`` (the
  tenant lookup), ``POST /sessions`` (create a project; 409 when the name exists).
- Traces: ``POST /runs/multipart`` (form parts ``post.<run id>`` / ``patch.<run id>`` with the run's JSON,
  plus ``post.<run id>.inputs`` etc.), ``POST /runs/batch`` (``{"post": [...], "patch": [...]}``), and the
  single-run ``POST /runs`` / ``PATCH /runs/<id>``. Every request needs ``x-api-key``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import uuid
from datetime import UTC, datetime

from tests.fakes.server import FakeServer, Request, Response

API_KEY = "lsv2_test_key_0123456789"
TENANT_ID = "11111111-2222-3333-4444-555555555555"


class FakeLangSmith(FakeServer):
    """Projects and runs in memory; ``runs`` maps run id -> the run's fields merged over posts and patches."""

    def __init__(self, multipart: bool = True) -> None:
        super().__init__()
        self.multipart = multipart
        self.projects: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.route("GET", r"/info")(self._info)
        self.route("GET", r"/sessions")(self._sessions)
        self.route("POST", r"/sessions")(self._create_session)
        self.route("POST", r"/runs/multipart")(self._multipart)
        self.route("POST", r"/runs/batch")(self._batch)
        self.route("POST", r"/runs")(self._post_run)
        self.route("PATCH", r"/runs/([0-9a-f-]+)")(self._patch_run)

    def authorize(self, request: Request) -> Response | None:
        if request.headers.get("x-api-key") != API_KEY:
            return Response(401, {"detail": "Invalid token"})
        return None

    # --- projects ---------------------------------------------------------------------------------------
    def _info(self, _request: Request) -> Response:
        return Response(200, {"version": "0.11.0", "instance_flags": {}, "batch_ingest_config": {
            "use_multipart_endpoint": self.multipart, "scale_up_qsize_trigger": 1000, "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4, "size_limit": 100, "size_limit_bytes": 20_971_520}})

    def _sessions(self, request: Request) -> Response:
        name = request.query.get("name")
        found = [p for p in self.projects.values() if name is None or p["name"] == name]
        return Response(200, found[: int(request.query.get("limit", 100))])

    def _create_session(self, request: Request) -> Response:
        body = request.json()
        if body["name"] in {p["name"] for p in self.projects.values()}:
            return Response(409, {"detail": "Session already exists"})
        project = {"id": str(body.get("id") or uuid.uuid4()), "name": body["name"], "tenant_id": TENANT_ID,
                   "start_time": datetime.now(UTC).isoformat(), "description": body.get("description"),
                   "extra": body.get("extra"), "reference_dataset_id": None}
        self.projects[project["id"]] = project
        return Response(200, project)

    # --- traces -----------------------------------------------------------------------------------------
    def _merge(self, run: dict) -> None:
        self.runs.setdefault(str(run["id"]), {}).update(run)

    def _post_run(self, request: Request) -> Response:
        self._merge(request.json())
        return Response(202, {})

    def _patch_run(self, request: Request, run_id: str) -> Response:
        self._merge({**request.json(), "id": run_id})
        return Response(202, {})

    def _batch(self, request: Request) -> Response:
        body = request.json()
        for run in body.get("post", []) + body.get("patch", []):
            self._merge(run)
        return Response(202, {})

    def _multipart(self, request: Request) -> Response:
        if not self.multipart:
            return Response(404, {"detail": "Not Found"})
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            operation, run_id, *field = name.split(".")
            if operation not in ("post", "patch"):
                continue
            value = json.loads(part.get_payload(decode=True))
            self._merge({"id": run_id, **({field[0]: value} if field else value)})
        return Response(202, {})

    def roots(self) -> list[dict]:
        """Runs without a parent: one per graph invocation."""
        return [r for r in self.runs.values() if not r.get("parent_run_id")]

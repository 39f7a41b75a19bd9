"""Sandbox help requests: what a city's attendant console would receive from its kiosks.

`POST /v1/kiosks/{kiosk}/help-requests` files one (idempotent on its id), `GET .../{id}` tells
its status, `DELETE .../{id}` withdraws it, and `POST /v1/sandbox/help-requests/{id}/answer`
lets a test or a demo play the attendant who answered it. Kept in memory: a help request only
matters while the citizen is at the kiosk.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from kiosk.sandbox.server import Request, Response, SandboxApp

KIOSK = r"/v1/kiosks/(?P<kiosk>[A-Za-z0-9_-]{1,64})/help-requests"


class HelpRequests:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, dict[str, Any]] = {}

    def install(self, app: SandboxApp) -> None:
        app.route("POST", KIOSK, self.file)
        app.route("GET", KIOSK, self.list_open)
        app.route("GET", KIOSK + r"/(?P<id>[0-9a-f]{8,64})", self.get)
        app.route("DELETE", KIOSK + r"/(?P<id>[0-9a-f]{8,64})", self.withdraw)
        app.route("POST", r"/v1/sandbox/help-requests/(?P<id>[0-9a-f]{8,64})/answer", self.answer)

    def file(self, request: Request) -> Response:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return Response.problem(400, "Bad Request", "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"].isalnum():
            return Response.problem(422, "Unprocessable Content", "'id' must be the request's hexadecimal id")
        assert request.match is not None  # the router sets it before it calls a route's handler
        kiosk = request.match["kiosk"]
        with self._lock:
            existing = self.requests.get(body["id"])
            if existing is None:
                existing = self.requests[body["id"]] = {
                    "id": body["id"], "kiosk": kiosk, "location": str(body.get("location", ""))[:200],
                    "screen": str(body.get("screen", ""))[:64], "status": "open", "received_at": time.time(),
                }
            return Response.json(201, existing)

    def list_open(self, request: Request) -> Response:
        assert request.match is not None  # the router sets it before it calls a route's handler
        kiosk = request.match["kiosk"]
        with self._lock:
            found = [r for r in self.requests.values() if r["kiosk"] == kiosk and r["status"] == "open"]
        return Response.json(200, {"help_requests": found})

    def get(self, request: Request) -> Response:
        found = self._find(request)
        return Response.json(200, found) if found else Response.problem(404, "Not Found", "no such help request")

    def withdraw(self, request: Request) -> Response:
        return self._set(request, "cancelled")

    def answer(self, request: Request) -> Response:
        return self._set(request, "answered")

    def _find(self, request: Request) -> dict[str, Any] | None:
        assert request.match is not None  # the router sets it before it calls a route's handler
        with self._lock:
            found = self.requests.get(request.match["id"])
            kiosk = request.match.groupdict().get("kiosk")
            return dict(found) if found and (kiosk is None or found["kiosk"] == kiosk) else None

    def _set(self, request: Request, status: str) -> Response:
        assert request.match is not None  # the router sets it before it calls a route's handler
        with self._lock:
            found = self.requests.get(request.match["id"])
            if found is None:
                return Response.problem(404, "Not Found", "no such help request")
            if found["status"] == "open":
                found["status"] = status
            return Response.json(200, found)

"""Sandbox fleet view: what a city's monitoring would keep of its kiosks' heartbeats.

`POST /v1/kiosks/{kiosk}/heartbeat` validates the heartbeat (422 with the offending field
otherwise) and keeps the last one per kiosk with the time it arrived; `GET /v1/sandbox/fleet`
lists every kiosk's last heartbeat with its age and a `stale` flag (nothing heard for three of
the intervals the kiosk itself declared). Kept in memory: it is a live view, not history.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.core.errors import SandboxError
from kiosk.sandbox.server import Request, Response, SandboxApp

KIOSK_PATH = r"/v1/kiosks/(?P<kiosk>[A-Za-z0-9_-]{1,64})/heartbeat"
STATUSES = ("ok", "warn", "fail")
STALE_AFTER_INTERVALS = 3
MAX_BODY = 64 * 1024
_MAC = re.compile(r"^[0-9A-Za-z+/=_-]{8,256}$")


class Invalid(SandboxError, ValueError):
    code = "sandbox.invalid"


def validate_heartbeat(body: Any, kiosk: str) -> dict[str, Any]:
    """The heartbeat as stored, or Invalid naming the first problem (docs/municipal-api.yaml)."""
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    if body.get("kiosk_id") != kiosk:
        raise Invalid("'kiosk_id' must be the kiosk id in the URL")
    for name in ("version", "sent_at", "location"):
        if not isinstance(body.get(name), str) or len(body[name]) > 200:
            raise Invalid(f"'{name}' must be a string of at most 200 characters")
    try:
        dt.datetime.fromisoformat(body["sent_at"].replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("'sent_at' must be an ISO 8601 date-time") from None
    if body.get("status") not in STATUSES:
        raise Invalid(f"'status' must be one of {', '.join(STATUSES)}")
    interval = body.get("interval_s")
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval <= 86400:
        raise Invalid("'interval_s' must be a number of seconds between 0 and 86400")
    attention = body.get("attention", [])
    if not isinstance(attention, list) or not all(isinstance(item, str) for item in attention):
        raise Invalid("'attention' must be a list of check names")
    if not isinstance(body.get("summary"), dict):
        raise Invalid("'summary' must be an object")
    _check_audit_head(body.get("audit_head"))
    return body


def _check_audit_head(head: Any) -> None:
    if head is None:
        return
    if not isinstance(head, dict) or isinstance(head.get("seq"), bool) or not isinstance(head.get("seq"), int) \
            or head["seq"] < 0 or not isinstance(head.get("mac"), str) or not _MAC.match(head["mac"]):
        raise Invalid("'audit_head' must be {\"seq\": non-negative integer, \"mac\": hex or base64 text}")


class Fleet:
    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self.last: dict[str, dict[str, Any]] = {}  # kiosk id -> {"received_at", "heartbeat"}

    def install(self, app: SandboxApp) -> None:
        app.route("POST", KIOSK_PATH, self.receive)
        app.route("GET", r"/v1/sandbox/fleet", self.fleet)

    def receive(self, request: Request) -> Response:
        if len(request.body) > MAX_BODY:
            return Response.problem(413, "Content Too Large", f"a heartbeat is at most {MAX_BODY} bytes")
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return Response.problem(400, "Bad Request", "the body is not JSON")
        kiosk = request.match["kiosk"] if request.match else ""
        try:
            heartbeat = validate_heartbeat(body, kiosk)
        except Invalid as problem:
            return Response.problem(422, "Unprocessable Content", str(problem))
        received_at = self.clock()
        with self._lock:
            self.last[kiosk] = {"received_at": received_at, "heartbeat": heartbeat}
        return Response.json(200, {"kiosk_id": kiosk, "received_at": received_at})

    def fleet(self, request: Request) -> Response:
        now = self.clock()
        with self._lock:
            kept = sorted(self.last.items())
        kiosks = []
        for kiosk, entry in kept:
            heartbeat, age = entry["heartbeat"], now - entry["received_at"]
            kiosks.append({"kiosk_id": kiosk, "received_at": entry["received_at"], "age_s": round(age, 3),
                           "stale": age > STALE_AFTER_INTERVALS * heartbeat["interval_s"],
                           "status": heartbeat["status"], "heartbeat": heartbeat})
        return Response.json(200, {"kiosks": kiosks, "count": len(kiosks),
                                   "stale": sum(1 for kiosk in kiosks if kiosk["stale"])})

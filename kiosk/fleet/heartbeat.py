"""The heartbeat: every minute the kiosk tells the municipal API it is alive and how it is.

`POST {api.base_url}/v1/kiosks/{id}/heartbeat` with a compact summary of the health report
(docs/municipal-api.yaml, `Heartbeat`): overall status, which checks need attention, device
states and supplies, queue depth and oldest age, catalog revision and age, free disk, recent
errors, sessions. It declares its own interval, so the server can call a kiosk stale after
missing three. Counts and states only: no folio, no personal data, no secrets.

`audit_head` anchors the tamper-evident staff audit log outside the kiosk: the log's newest
(seq, mac), so a truncated log shows up at the server (research: reliability-security §3.6).
It comes from a provider callable, so this module does not depend on the audit log's code.

Sending never raises: a failure is counted and returned, and the kiosk carries on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kiosk.core.http_limits import BodyTooLarge, read_body
from kiosk.core.logs import event
from kiosk.fleet.model import HealthReport

log = logging.getLogger("kiosk.fleet.heartbeat")
HEARTBEAT_PATH = "/v1/kiosks/{kiosk_id}/heartbeat"
_MAC = re.compile(r"^[0-9A-Za-z+/=_-]{8,256}$")


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _raw(report: HealthReport, name: str) -> Mapping[str, Any]:
    check = report.check(name)
    return check.raw if check is not None else {}


def heartbeat_payload(config: Any, report: HealthReport, sent_at: float,
                      audit_head: Mapping[str, Any] | None = None,
                      sessions: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The JSON body: identity, overall status and a summary small enough for every minute."""
    backlog, catalog = _raw(report, "queue.backlog"), _raw(report, "catalog.age")
    payload: dict[str, Any] = {
        "kiosk_id": config.kiosk.id,
        "location": config.kiosk.location,
        "version": report.version,
        "sent_at": _iso(sent_at),
        "interval_s": config.fleet.heartbeat_interval_s,
        "status": report.status,
        "attention": [check.name for check in report.needs_attention],
        "summary": {
            "devices": {check.name.removeprefix("device."): {"state": check.raw.get("state", "unknown"),
                                                             "supplies": dict(check.raw.get("supplies") or {})}
                        for check in report.section("devices")},
            "queue": {"pending": backlog.get("pending", 0),
                      "needs_attendant": _raw(report, "queue.attendant").get("needs_attendant", 0),
                      "oldest_pending_age_s": backlog.get("oldest_pending_age_s")},
            "catalog": {"revision": catalog.get("revision"), "age_s": catalog.get("age_s"),
                        "verified": bool(_raw(report, "catalog.signature").get("verified"))},
            "api_latency_ms": _latency_ms(_raw(report, "api")),
            "disk_free_mb": _megabytes(_raw(report, "disk").get("free_bytes")),
            "errors_last_hour": _raw(report, "errors").get("last_hour", 0),
            "sessions": dict(sessions or {}),
        },
    }
    if audit_head is not None:
        payload["audit_head"] = {"seq": int(audit_head["seq"]), "mac": str(audit_head["mac"])}
    return payload


def _latency_ms(api: Mapping[str, Any]) -> float | None:
    latency = api.get("latency_s")
    return None if latency is None else round(latency * 1000, 1)


def _megabytes(size: int | None) -> float | None:
    return None if size is None else round(size / (1024 * 1024), 1)


def read_audit_head(provider: Callable[[], Mapping[str, Any] | None] | None) -> dict[str, Any] | None:
    """The audit log's head from its provider, or None; a failing provider never stops a heartbeat."""
    if provider is None:
        return None
    try:
        head = provider()
        if head is None:
            return None
        seq, mac = int(head["seq"]), str(head["mac"])
    except Exception as error:  # the audit log is another module's; its bug must not stop heartbeats
        event(log, "fleet.audit_head_failed", level=logging.WARNING, error=type(error).__name__)
        return None
    if seq < 0 or not _MAC.match(mac):
        event(log, "fleet.audit_head_invalid", level=logging.WARNING)
        return None
    return {"seq": seq, "mac": mac}


@dataclass(frozen=True)
class HeartbeatResult:
    ok: bool
    at: float
    status_code: int | None = None
    error: str = ""
    latency_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "at": self.at, "status_code": self.status_code, "error": self.error,
                "latency_s": self.latency_s}


class HeartbeatSender:
    """POSTs heartbeats with the API's (connect, read) timeouts on one keep-alive session."""

    def __init__(self, base_url: str, kiosk_id: str, connect_timeout_s: float = 5.0, read_timeout_s: float = 10.0,
                 session: Any = None, clock: Callable[[], float] = time.time):
        self.url = base_url.rstrip("/") + HEARTBEAT_PATH.format(kiosk_id=quote(kiosk_id, safe=""))
        self.timeout = (connect_timeout_s, read_timeout_s)
        self._session = session
        self.clock = clock
        self.sent = 0
        self.failures = 0
        self.last: HeartbeatResult | None = None

    @classmethod
    def from_config(cls, config: Any, clock: Callable[[], float] = time.time) -> HeartbeatSender:
        api = config.api
        return cls(api.base_url, config.kiosk.id, api.connect_timeout_s, api.timeout_s, clock=clock)

    def send(self, payload: Mapping[str, Any]) -> HeartbeatResult:
        import requests

        if self._session is None:
            self._session = requests.Session()
        started = time.perf_counter()
        try:
            response = self._session.post(self.url, json=dict(payload), timeout=self.timeout, stream=True)
            body = read_body(response)  # read it all (bounded), so the connection is reused
        except (requests.RequestException, BodyTooLarge) as error:
            return self._done(HeartbeatResult(False, self.clock(), error=type(error).__name__))
        except Exception as error:  # e.g. a value json cannot encode: counted, not raised
            return self._done(HeartbeatResult(False, self.clock(), error=type(error).__name__))
        ok = 200 <= response.status_code < 300
        problem = "" if ok else _problem(response.status_code, body)
        return self._done(HeartbeatResult(ok, self.clock(), response.status_code, problem,
                                          time.perf_counter() - started))

    def _done(self, result: HeartbeatResult) -> HeartbeatResult:
        if result.ok:
            self.sent += 1
        else:
            self.failures += 1
            if self.last is None or self.last.ok:  # log the change, not every minute of an outage
                event(log, "fleet.heartbeat_failed", level=logging.WARNING, status=result.status_code,
                      error=result.error)
        self.last = result
        return result

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def _problem(status: int, body: bytes) -> str:
    try:
        problem = json.loads(body)
        return f"HTTP {status}: {problem.get('detail') or problem.get('title')}"
    except (ValueError, AttributeError):
        return f"HTTP {status}"

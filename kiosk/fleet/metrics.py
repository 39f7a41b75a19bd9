"""Prometheus metrics of one kiosk, served on 127.0.0.1 only (docs/fleet.md lists them).

The metrics live in their own CollectorRegistry (not the process-wide default), so tests can
make several and nothing else in the process adds to what the city scrapes. Values come from
the health report (`observe(report)`), plus counters the app feeds as things happen: sessions,
log records at WARNING or worse, heartbeats.

The HTTP endpoint binds to loopback only: a kiosk in a mall must not publish anything on its
LAN. The city scrapes it through an SSH tunnel or a local agent (docs/fleet.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Info, generate_latest, start_http_server

from kiosk import __version__
from kiosk.fleet.model import STATUSES, HealthReport

DEVICE_STATES = ("unknown", "ready", "busy", "degraded", "error", "offline", "no_device", "closed")
SUPPLY_LEVELS = {"full": 2.0, "low": 1.0, "out": 0.0, "unknown": -1.0}  # alert on "< 2"
STATUS_LEVELS = {"ok": 0.0, "warn": 1.0, "fail": 2.0}
QUEUE_STATES = ("created", "paying", "paid", "queued", "submitted", "confirmed", "rejected", "needs_attendant",
                "cancelled", "abandoned")


@dataclass
class MetricsServer:
    """The running endpoint; `port` is the bound one (useful when asked for port 0)."""

    server: Any
    thread: Any

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class FleetMetrics:
    def __init__(self, kiosk_id: str, location: str = "", version: str = __version__):
        self.registry = CollectorRegistry()
        r = self.registry
        Info("kiosk_build", "Kiosk software version and identity", registry=r).info(
            {"version": version, "kiosk_id": kiosk_id, "location": location})
        Gauge("kiosk_up", "1 while the kiosk application runs", registry=r).set(1)
        self.health = Gauge("kiosk_health_status", "Overall health: 0 ok, 1 warn, 2 fail", registry=r)
        self.checks = Gauge("kiosk_health_checks", "Checks of the last health report by status", ["status"],
                            registry=r)
        self.check_status = Gauge("kiosk_health_check_status", "Each check: 0 ok, 1 warn, 2 fail", ["check"],
                                  registry=r)
        self.report_time = Gauge("kiosk_health_report_timestamp_seconds", "When the last report was made",
                                 registry=r)
        self.device_state = Enum("kiosk_device_state", "Device state", ["device", "kind"], states=list(DEVICE_STATES),
                                 registry=r)
        self.device_usable = Gauge("kiosk_device_usable", "1 when the device can do its job", ["device", "kind"],
                                   registry=r)
        self.device_failures = Gauge("kiosk_device_failures", "Failures the adapter counted since start",
                                     ["device"], registry=r)
        self.device_reconnects = Gauge("kiosk_device_reconnects", "Reconnections since start", ["device"],
                                       registry=r)
        self.supply = Gauge("kiosk_device_supply_level", "Supply level: 2 full, 1 low, 0 out, -1 unknown",
                            ["device", "supply"], registry=r)
        self.queue = Gauge("kiosk_queue_transactions", "Transactions in the outbox by state", ["state"], registry=r)
        self.queue_pending = Gauge("kiosk_queue_pending", "Transactions not yet confirmed by the API", registry=r)
        self.queue_age = Gauge("kiosk_queue_oldest_pending_age_seconds",
                               "Age of the oldest unconfirmed transaction (0 when none)", registry=r)
        self.sync_age = Gauge("kiosk_catalog_sync_age_seconds",
                              "Seconds since the last successful catalog sync (+Inf: never)", registry=r)
        self.catalog_revision = Gauge("kiosk_catalog_revision", "Revision of the stored catalog", registry=r)
        self.catalog_verified = Gauge("kiosk_catalog_signature_verified", "1 when the catalog's signature was verified",
                                      registry=r)
        self.api_up = Gauge("kiosk_api_up", "1 when the API's health check answered 200", registry=r)
        self.api_latency = Gauge("kiosk_api_latency_seconds", "Latency of the API's health check", registry=r)
        self.tls_expiry = Gauge("kiosk_api_certificate_expiry_timestamp_seconds",
                                "notAfter of the API's TLS certificate (absent over plain http)", registry=r)
        self.disk_free = Gauge("kiosk_disk_free_bytes", "Free bytes in the data directory", registry=r)
        self.memory_rss = Gauge("kiosk_memory_rss_bytes", "Resident memory of the kiosk process", registry=r)
        self.memory_available = Gauge("kiosk_memory_available_bytes", "MemAvailable of the system", registry=r)
        self.sessions_started = Counter("kiosk_sessions_started", "Citizen sessions started", registry=r)
        self.sessions_ended = Counter("kiosk_sessions_ended", "Citizen sessions ended, by reason (idle, finished...)",
                                      ["reason"], registry=r)
        self.log_records = Counter("kiosk_log_errors", "Log records at WARNING or worse, by level", ["level"],
                                   registry=r)
        self.heartbeats = Counter("kiosk_heartbeats_sent", "Heartbeats the API accepted", registry=r)
        self.heartbeat_failures = Counter("kiosk_heartbeat_failures", "Heartbeats that failed", registry=r)
        for status in STATUSES:
            self.checks.labels(status).set(0)

    # ---- what the app reports as it happens ---------------------------------------------------------

    def session_started(self) -> None:
        self.sessions_started.inc()

    def session_ended(self, reason: str) -> None:
        self.sessions_ended.labels(reason or "unknown").inc()

    def log_record(self, level: str) -> None:
        self.log_records.labels(level.lower()).inc()

    def heartbeat(self, ok: bool) -> None:
        (self.heartbeats if ok else self.heartbeat_failures).inc()

    # ---- the health report --------------------------------------------------------------------------

    def observe(self, report: HealthReport) -> None:
        self.health.set(STATUS_LEVELS[report.status])
        self.report_time.set(report.generated_at)
        for status in STATUSES:
            self.checks.labels(status).set(sum(1 for check in report.checks if check.status == status))
        for check in report.checks:
            self.check_status.labels(check.name).set(STATUS_LEVELS[check.status])
            if check.section == "devices":
                self._device(check.name.removeprefix("device."), check.raw)
        self._queue(_raw(report, "queue.backlog"))
        self._catalog(_raw(report, "catalog.age"), _raw(report, "catalog.signature"))
        self._network(_raw(report, "api"), _raw(report, "tls"))
        self._system(_raw(report, "disk"), _raw(report, "memory"))

    def _device(self, name: str, raw: Mapping[str, Any]) -> None:
        kind = str(raw.get("kind") or raw.get("driver") or "")
        state = str(raw.get("state", "unknown"))
        self.device_state.labels(name, kind).state(state if state in DEVICE_STATES else "unknown")
        self.device_usable.labels(name, kind).set(1 if state in ("ready", "busy", "degraded") else 0)
        counters = raw.get("counters") or {}
        self.device_failures.labels(name).set(counters.get("failures", 0))
        self.device_reconnects.labels(name).set(counters.get("reconnects", 0))
        for supply, level in (raw.get("supplies") or {}).items():
            self.supply.labels(name, supply).set(SUPPLY_LEVELS.get(level, -1.0))

    def _queue(self, raw: Mapping[str, Any]) -> None:
        counts = raw.get("counts") or {}
        for state in QUEUE_STATES:
            self.queue.labels(state).set(counts.get(state, 0))
        self.queue_pending.set(raw.get("pending") or 0)
        self.queue_age.set(raw.get("oldest_pending_age_s") or 0)

    def _catalog(self, age: Mapping[str, Any], signature: Mapping[str, Any]) -> None:
        seconds = age.get("age_s")
        self.sync_age.set(math.inf if seconds is None else seconds)
        self.catalog_revision.set(age.get("revision") or 0)
        self.catalog_verified.set(1 if signature.get("verified") else 0)

    def _network(self, api: Mapping[str, Any], tls: Mapping[str, Any]) -> None:
        self.api_up.set(1 if api.get("up") else 0)
        self.api_latency.set(api.get("latency_s") or 0)
        if tls.get("not_after") is not None:
            self.tls_expiry.set(tls["not_after"])

    def _system(self, disk: Mapping[str, Any], memory: Mapping[str, Any]) -> None:
        if disk.get("free_bytes") is not None:
            self.disk_free.set(disk["free_bytes"])
        if memory.get("rss_bytes") is not None:
            self.memory_rss.set(memory["rss_bytes"])
        if memory.get("available_bytes") is not None:
            self.memory_available.set(memory["available_bytes"])

    # ---- exposition ---------------------------------------------------------------------------------

    def scrape(self) -> bytes:
        """The text exposition format, as the endpoint serves it."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve on loopback; `port=0` picks a free port (tests). Raises OSError if it is taken."""
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        return MetricsServer(server, thread)


def _raw(report: HealthReport, name: str) -> Mapping[str, Any]:
    check = report.check(name)
    return check.raw if check is not None else {}

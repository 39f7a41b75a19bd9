"""The technician's health report: what is wrong with this kiosk, in seconds.

    report = collect_report(config, Sources(devices=lambda: hub.adapters, transactions=lambda: service))
    report.status                 # "ok", "warn" or "fail"
    report.needs_attention        # the checks that are not ok, each naming the problem and the fix
    report.section("devices")     # Check(section, name, status, value, explanation, raw)
    report.to_dict()              # JSON-able, no personal data, no secrets
    report.render_text(_=collector.gettext)  # for the shell (`kiosk diag`)

Every text in a check is translated when the check is made, into the kiosk's configured
language (`[kiosk] language`, Spanish by default), through `Collector.gettext`.

One collector serves both places a report is made. Inside the running app the devices are
already open (adapters from the DeviceHub) and the TransactionService holds the outbox; in a
shell `kiosk diag` opens what it needs itself and reads the rest from disk. `Sources` says which
is which; anything missing is read from the files in the data directory.

Collecting does I/O (an HTTP request, a TLS handshake, SQLite reads): call it off the UI thread.
The FleetMonitor (kiosk/fleet/monitor.py) does so on its own thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk import __version__
from kiosk.core.i18n import Translator
from kiosk.fleet import checks as C
from kiosk.fleet.errorlog import ErrorEntry, ErrorLog, error_log_path
from kiosk.fleet.model import FAIL, SECTIONS, Check, HealthReport
from kiosk.fleet.probes import disk_free_bytes, memory_facts, probe_api, probe_tls

log = logging.getLogger("kiosk.fleet")

__all__ = ["SECTIONS", "Check", "Collector", "HealthReport", "Sources", "collect_report"]


@dataclass
class Sources:
    """Where the facts come from. Every field is optional: what is not given is read from disk.

    - devices: the open adapters by name (the app: `lambda: hub.adapters`; empty until opened).
    - transactions: the TransactionService, or None while it is opening (its outbox is used).
    - catalog_feed: the app's CatalogFeed; `force_sync` triggers its sync service.
    - app_checks: checks read from the running app's status.json (its devices, memory and
      heartbeat), used instead of computing them here (`kiosk diag` while the app holds the devices).
    - app_state: what the "app" check says (running or not, pid).
    - self_tests: device name -> `SelfTestReport.to_dict()` of the last self-test run.
    - heartbeat: the last heartbeat's outcome (the FleetMonitor gives it).
    - clock: Unix time; tests inject one.
    - ca_file: CA bundle for the TLS check (default: what `requests` trusts).
    - origin: "app" or "shell", shown on the report.
    """

    devices: Callable[[], Mapping[str, Any]] | None = None
    transactions: Callable[[], Any] | None = None
    catalog_feed: Any = None
    app_checks: Sequence[Check] = ()
    app_state: Mapping[str, Any] | None = None
    self_tests: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    heartbeat: Callable[[], Mapping[str, Any] | None] | None = None
    clock: Callable[[], float] = time.time
    ca_file: str | None = None
    origin: str = "app"


class Collector:
    """Makes reports again and again with the same handles (HTTP session, SQLite stores).
    Not thread-safe: one thread collects (the monitor's, or the shell's main thread)."""

    def __init__(self, config: Any, sources: Sources | None = None):
        self.config = config
        self.sources = sources or Sources()
        self._http: Any = None
        self._catalog_store: Any = None
        self._outbox: Any = None
        self._error_log = ErrorLog(error_log_path(config.data_path), read_only=True)
        self.gettext = Translator(config.kiosk.language).gettext  # the technician reads the kiosk's language

    def collect(self) -> HealthReport:
        now = self.sources.clock()
        errors = self._errors()
        gatherers: list[tuple[str, Callable[[float], list[Check]]]] = [
            ("devices", self._devices), ("network", self._network), ("tls", self._tls), ("catalog", self._catalog),
            ("queue", self._queue), ("system", self._system), ("application", self._application),
        ]
        found: list[Check] = []
        for section, gather in gatherers:
            found += self._safely(section, gather, now)
        found.append(C.errors_check(errors, now, _=self.gettext))
        return HealthReport(self.config.kiosk.id, __version__, now, tuple(found), tuple(errors), self.sources.origin)

    def close(self) -> None:
        for handle in (self._http, self._catalog_store, self._outbox, self._error_log):
            if handle is not None:
                try:
                    handle.close()
                except Exception as error:  # closing is best effort
                    log.debug("fleet.close_failed %s", type(error).__name__)
        self._http = self._catalog_store = self._outbox = None

    # ---- sections -------------------------------------------------------------------------------

    def _safely(self, section: str, gather: Callable[[float], list[Check]], now: float) -> list[Check]:
        """A bug or surprise in one section becomes a failed check, never a missing report."""
        _ = self.gettext
        try:
            return gather(now)
        except Exception as error:
            log.warning("fleet.check_failed", exc_info=True, extra={"fields": {"section": section}})
            return [Check(section, f"{section}.collector", FAIL, _("no se pudo revisar"),
                          _("Falló la revisión de esta sección ({error}); repórtelo junto con los registros.").format(
                              error=f"{type(error).__name__}: {error}"),
                          {"error": type(error).__name__})]

    def _devices(self, _now: float) -> list[Check]:
        borrowed = [check for check in self.sources.app_checks if check.section == "devices"]
        if borrowed:
            return borrowed
        adapters = self.sources.devices() if self.sources.devices else {}
        found = []
        for name, entry in self.config.devices.items():
            adapter = adapters.get(name)
            if adapter is None:
                found.append(C.device_not_open_check(name, entry.driver, _=self.gettext))
                continue
            found.append(C.device_check(adapter.status().to_dict(), adapter.capabilities().to_dict(),
                                        adapter.diagnostics(), self.sources.self_tests.get(name),
                                        _=self.gettext))
        return found

    def _network(self, _now: float) -> list[Check]:
        api = self.config.api
        if self._http is None:
            import requests

            self._http = requests.Session()
        found = [C.api_check(probe_api(self._http, api.base_url, api.connect_timeout_s, api.timeout_s,
                                       self.sources.ca_file), _=self.gettext)]
        if self.sources.origin == "app":
            last = self.sources.heartbeat() if self.sources.heartbeat else None
            heartbeat = C.heartbeat_check(last, self.config.fleet.heartbeat_interval_s, _=self.gettext)
            if heartbeat is not None:
                found.append(heartbeat)
        else:  # only the running app sends heartbeats: show how its last one went
            found += [check for check in self.sources.app_checks if check.name == "heartbeat"]
        return found

    def _tls(self, now: float) -> list[Check]:
        api = self.config.api
        probe = probe_tls(api.base_url, api.connect_timeout_s, self.sources.ca_file)
        return [C.tls_check(api.base_url, probe, self.config.fleet.tls_warn_days, now, _=self.gettext)]

    def _catalog(self, now: float) -> list[Check]:
        from kiosk.catalog.service import store_path

        path = store_path(self.config)
        if self._catalog_store is None:
            if not path.exists():
                return C.catalog_checks(None, self.config.fleet.max_sync_age_s, _=self.gettext)
            from kiosk.catalog.store import CatalogStore

            self._catalog_store = CatalogStore(path)
        status = self._catalog_store.status(now=dt.datetime.fromtimestamp(now, dt.UTC))
        return C.catalog_checks(status, self.config.fleet.max_sync_age_s, _=self.gettext)

    def _queue(self, now: float) -> list[Check]:
        facts = self._queue_facts(now)
        return C.queue_checks(facts, self.config.fleet.max_queue_age_s, _=self.gettext)

    def _queue_facts(self, now: float) -> C.QueueFacts | None:
        service = self.sources.transactions() if self.sources.transactions else None
        outbox = getattr(service, "outbox", None) or self._own_outbox()
        if outbox is None:
            return None
        from offline_cache.outbox import NEEDS_ATTENDANT, StorageError

        try:
            counts = outbox.counts()
            age = outbox.oldest_pending_age(now)
            waiting = outbox.list_states((NEEDS_ATTENDANT,), limit=10)
        except StorageError as error:
            return C.QueueFacts({}, None, storage_error=error.code)
        storage = outbox.last_error.code if outbox.last_error is not None else ""
        # No health() here: it commits a 64 KiB probe, and every 15 s that would wear an SD card.
        return C.QueueFacts(counts, age, getattr(service, "online", None),
                            str(getattr(getattr(service, "submitter", None), "last_error", "") or ""), storage,
                            [{"folio": r.folio, "state": r.state, "reason": r.reason} for r in waiting])

    def _own_outbox(self) -> Any:
        """The outbox file opened here (shell, or the app before its service is up); never created."""
        if self._outbox is None:
            path = self.config.data_path / "outbox.sqlite"
            if not path.exists():
                return None
            from offline_cache.outbox import Outbox

            self._outbox = Outbox(path, busy_timeout_ms=self.config.transactions.busy_timeout_ms)
        return self._outbox

    def _system(self, _now: float) -> list[Check]:
        data_dir = self.config.data_path
        disk = C.disk_check(str(data_dir), disk_free_bytes(data_dir), self.config.fleet.min_free_mb,
                            self.config.transactions.min_free_mb, _=self.gettext)
        borrowed = [check for check in self.sources.app_checks if check.name == "memory"]
        if borrowed:
            return [disk, *borrowed]
        rss, available, total = memory_facts()
        if self.sources.origin != "app":
            rss = None  # this process is `kiosk diag`, not the kiosk: its size means nothing
        return [disk, C.memory_check(rss, available, total, _=self.gettext)]

    def _application(self, _now: float) -> list[Check]:
        state = self.sources.app_state or {"running": True, "pid": os.getpid(),
                                           "text": self.gettext("en marcha (pid {pid})").format(pid=os.getpid())}
        return C.application_checks(__version__, C.config_summary(self.config), state, _=self.gettext)

    def _errors(self) -> list[ErrorEntry]:
        return self._error_log.recent()


def collect_report(config: Any, sources: Sources | None = None) -> HealthReport:
    """One report with fresh handles, closed afterwards (the shell; tests)."""
    collector = Collector(config, sources)
    try:
        return collector.collect()
    finally:
        collector.close()

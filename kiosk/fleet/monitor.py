"""FleetMonitor: the running app's health, refreshed on its own thread.

    monitor = FleetMonitor(config, Sources(devices=lambda: hub.adapters,
                                           transactions=lambda: app.transactions,
                                           catalog_feed=app.catalog_feed), call_soon)
    monitor.start()                       # error log, metrics endpoint, the thread
    monitor.latest                        # the last HealthReport (None before the first)
    monitor.refresh(on_done)              # collect now; on_done(report) arrives through call_soon
    monitor.session_started()             # counters for the metrics and the heartbeat
    monitor.session_ended("idle")
    monitor.stop()                        # prompt: wakes the thread and joins it

Every `[fleet] status_interval_s` the thread collects the report (never on the UI thread: it
makes HTTP requests and reads SQLite), updates the metrics, writes `<data_dir>/diag/status.json`
for `kiosk diag`, and tells systemd a one-line STATUS=. Every `heartbeat_interval_s` it also sends
the heartbeat. Nothing here raises into the app: a failed cycle is logged and the next one runs.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.core import sdnotify
from kiosk.core.logs import event
from kiosk.core.threads import CallSoon, immediate
from kiosk.fleet.errorlog import install_error_log, uninstall_error_log
from kiosk.fleet.heartbeat import HeartbeatResult, HeartbeatSender, heartbeat_payload, read_audit_head
from kiosk.fleet.metrics import FleetMetrics, MetricsServer
from kiosk.fleet.model import HealthReport
from kiosk.fleet.report import Collector, Sources
from kiosk.fleet.statusfile import status_path, write_status

log = logging.getLogger("kiosk.fleet")
ReportCallback = Callable[[HealthReport | None], None]  # None: no collection has succeeded yet


class FleetMonitor:
    def __init__(self, config: Any, sources: Sources | None = None, call_soon: CallSoon = immediate, *,
                 audit_head: Callable[[], Mapping[str, Any] | None] | None = None,
                 metrics: FleetMetrics | None = None, sender: HeartbeatSender | None = None,
                 clock: Callable[[], float] | None = None, install_log_handler: bool = True):
        self.config = config
        self.sources = sources or Sources()
        if clock is not None:
            self.sources.clock = clock
        self.sources.heartbeat = lambda: self.last_heartbeat.to_dict() if self.last_heartbeat else None
        self.call_soon = call_soon
        self.audit_head = audit_head
        self.metrics = metrics or FleetMetrics(config.kiosk.id, config.kiosk.location)
        self.sender = sender or HeartbeatSender.from_config(config, clock=self.sources.clock)
        self.install_log_handler = install_log_handler
        self.latest: HealthReport | None = None
        self.last_heartbeat: HeartbeatResult | None = None
        self.metrics_server: MetricsServer | None = None
        self.sessions = {"started": 0, "ended": 0}
        self._collector = Collector(config, self.sources)
        self._callbacks: list[ReportCallback] = []
        self._lock = threading.Lock()
        self._cycle_lock = threading.Lock()  # one collection at a time (thread, refresh, tests)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_heartbeat_at = 0.0  # run_once() alone sends one at once; start() delays it (below)

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        if self.install_log_handler:
            install_error_log(self.config.data_path, on_record=self.metrics.log_record)
        self._start_metrics_server()
        # The first heartbeat waits one status interval: at start the devices are still opening,
        # and a "warn: not open" would reach the city's fleet view after every restart.
        self._next_heartbeat_at = self.sources.clock() + min(self.config.fleet.status_interval_s,
                                                             self.config.fleet.heartbeat_interval_s)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="fleet-monitor", daemon=True)
        self._thread.start()

    def _start_metrics_server(self) -> None:
        port = self.config.fleet.metrics_port
        if not port:
            return
        try:
            self.metrics_server = self.metrics.serve(port)
        except OSError as error:  # port taken (a second instance?): the kiosk runs without metrics
            event(log, "fleet.metrics_unavailable", level=logging.ERROR, port=port, error=str(error))
            return
        event(log, "fleet.metrics_serving", address=f"127.0.0.1:{self.metrics_server.port}")

    def stop(self, timeout: float = 5.0) -> bool:
        """Wake the thread and wait for it; False if a probe is still inside its own timeout."""
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        stopped = True
        if thread is not None:
            thread.join(timeout)
            stopped = not thread.is_alive()
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None
        if self.install_log_handler:
            uninstall_error_log()  # the next monitor (a restarted app, the next test) installs its own
        if stopped:
            self._collector.close()
            self.sender.close()
        return stopped

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- for the app and the technician screen --------------------------------------------------

    def refresh(self, on_done: ReportCallback) -> None:
        """Collect now (on the monitor's thread); `on_done(report)` runs through call_soon."""
        with self._lock:
            self._callbacks.append(on_done)
        if self.running:
            self._wake.set()
            return
        threading.Thread(target=self._cycle_and_deliver, name="fleet-refresh", daemon=True).start()

    def session_started(self) -> None:
        self.sessions["started"] += 1
        self.metrics.session_started()

    def session_ended(self, reason: str) -> None:
        self.sessions["ended"] += 1
        self.metrics.session_ended(reason)

    def record_self_test(self, report: Any) -> None:
        """Keep a device's self-test result (a SelfTestReport or its dict) for the next reports."""
        data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
        self.sources.self_tests[str(data["device"])] = data

    # ---- the cycle ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            self._cycle_and_deliver()
            self._wake.wait(self._seconds_to_next_cycle())

    def _seconds_to_next_cycle(self) -> float:
        wait = self.config.fleet.status_interval_s
        if self.config.fleet.heartbeat_interval_s > 0:
            wait = min(wait, max(0.0, self._next_heartbeat_at - self.sources.clock()))
        return wait

    def _cycle_and_deliver(self) -> None:
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
        report = self.run_once()
        for callback in callbacks:
            self.call_soon(functools.partial(callback, report))

    def run_once(self) -> HealthReport | None:
        """One cycle on the calling thread: collect, metrics, status file, heartbeat when due."""
        with self._cycle_lock:
            try:
                report = self._collector.collect()
            except Exception:  # the collector guards each section; this is a last resort
                log.error("fleet.collect_failed", exc_info=True)
                return self.latest
            self.latest = report
            self._publish(report)
            if self.config.fleet.heartbeat_interval_s > 0 and report.generated_at >= self._next_heartbeat_at:
                self.send_heartbeat(report)
            return report

    def _publish(self, report: HealthReport) -> None:
        try:
            self.metrics.observe(report)
            write_status(status_path(self.config.data_path), report, report.generated_at,
                         self.config.fleet.status_interval_s)
        except Exception as error:  # a full disk must not stop the metrics or the heartbeat
            event(log, "fleet.publish_failed", level=logging.WARNING, error=type(error).__name__)
        sdnotify.status(f"health {report.summary_line()}"[:200])

    def send_heartbeat(self, report: HealthReport) -> HeartbeatResult:
        now = self.sources.clock()
        self._next_heartbeat_at = now + self.config.fleet.heartbeat_interval_s
        try:
            payload = heartbeat_payload(self.config, report, now, read_audit_head(self.audit_head), self.sessions)
        except Exception as error:  # never let a summary bug stop the cycle
            result = HeartbeatResult(False, now, error=type(error).__name__)
        else:
            result = self.sender.send(payload)
        self.last_heartbeat = result
        self.metrics.heartbeat(result.ok)
        return result

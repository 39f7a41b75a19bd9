"""FleetMonitor on its own thread, as the app runs it: refresh results arrive through call_soon on
the "UI thread", status.json is written for `kiosk diag`, metrics are served on the configured
port, and stop() is prompt."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import requests

from kiosk.fleet.errorlog import ErrorLog, error_log_path, uninstall_error_log
from kiosk.fleet.model import HealthReport
from kiosk.fleet.monitor import FleetMonitor
from kiosk.fleet.report import Sources
from kiosk.fleet.statusfile import read_status, status_path
from tests.fleet.conftest import SIM_DEVICES, free_port, kiosk_diag


class UiThread:
    """Plays the Kivy clock: call_soon queues, `run_next` runs one callback on the test thread."""

    def __init__(self) -> None:
        self.callbacks: queue.Queue[Callable[[], None]] = queue.Queue()
        self.thread = threading.current_thread()

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.callbacks.put(callback)

    def run_next(self, timeout: float = 20.0) -> None:
        self.callbacks.get(timeout=timeout)()


def test_the_monitor_thread_serves_the_app_and_the_shell(make_kiosk, open_adapters, sandbox):
    port = free_port()
    path, config = make_kiosk(devices=dict(SIM_DEVICES, printer=("escpos", "sim://?paper=low")),
                              fleet={"metrics_port": port, "status_interval_s": 3600, "heartbeat_interval_s": 3600})
    adapters = open_adapters(config)
    ui = UiThread()
    monitor = FleetMonitor(config, Sources(devices=lambda: adapters), ui.call_soon)
    delivered: list[tuple[HealthReport, threading.Thread]] = []
    monitor.start()
    try:
        monitor.refresh(lambda report: delivered.append((report, threading.current_thread())))
        ui.run_next()
        report, thread = delivered[0]
        assert thread is ui.thread  # collected on the monitor's thread, delivered on the UI's
        assert report.check("device.printer").status == "warn" and monitor.latest is not None

        monitor.session_started()
        monitor.session_ended("finished")
        logging.getLogger("kiosk.test").error("payments.unavailable")  # into the error log and its counter
        monitor.refresh(lambda report: delivered.append((report, threading.current_thread())))
        ui.run_next()

        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'kiosk_sessions_ended_total{reason="finished"} 1.0' in metrics
        assert 'kiosk_log_errors_total{level="error"} 1.0' in metrics
        assert 'kiosk_device_supply_level{device="printer",supply="paper"} 1.0' in metrics
        assert "kiosk_heartbeats_sent_total 0.0" in metrics  # the first waits for the devices to open

        status = read_status(status_path(config.data_path), time.time())
        assert status is not None and status.fresh
        assert {check.name for check in status.checks} >= {"device.printer", "api", "queue.backlog"}
        shell = kiosk_diag(path)  # the app "runs" (this process): diag shows its devices, not its own
        assert shell.returncode == 1 and "- device.printer:" in shell.stdout
        assert "running (pid" in shell.stdout and "payments.unavailable" in shell.stdout
        assert any(e.event == "payments.unavailable" for e in ErrorLog(error_log_path(config.data_path)).recent())
    finally:
        started = time.monotonic()
        assert monitor.stop(timeout=10)
        uninstall_error_log()
    assert time.monotonic() - started < 5  # the thread was waiting an hour: stop wakes it
    assert not monitor.running
    assert not _listening(port)


def test_refresh_works_before_start_too(make_kiosk):
    _path, config = make_kiosk(devices={}, fleet={"heartbeat_interval_s": 0})
    ui = UiThread()
    monitor = FleetMonitor(config, call_soon=ui.call_soon, install_log_handler=False)
    reports: list[HealthReport] = []
    monitor.refresh(reports.append)
    ui.run_next()
    assert reports[0].status == "ok", reports[0].render_text()
    assert reports[0].check("heartbeat").value.startswith("off")
    assert monitor.stop()


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_first_heartbeat_waits_one_status_interval(make_kiosk, sandbox, clock):
    _path, config = make_kiosk(devices={})
    ui = UiThread()
    monitor = FleetMonitor(config, call_soon=ui.call_soon, clock=clock, install_log_handler=False)
    reports: list[HealthReport] = []
    monitor.start()
    try:
        monitor.refresh(reports.append)
        ui.run_next()
        assert monitor.sender.sent == 0 and sandbox.fleet.last == {}
        clock.advance(config.fleet.status_interval_s)
        monitor.refresh(reports.append)
        ui.run_next()
        assert monitor.sender.sent == 1 and list(sandbox.fleet.last) == ["kiosk-test-07"]
    finally:
        assert monitor.stop()

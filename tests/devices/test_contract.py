"""The adapter contract: URLs, reasons, deadlines, events on the UI thread, supervision, config, CLI."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from devices.contract import REASONS, Action, Adapter, DeviceError, State, Supply, reason
from devices.printer import PrinterAdapter
from devices.registry import DRIVERS, create_adapter, create_adapters, validate_entry
from devices.supervisor import Supervisor
from devices.urls import UrlError, parse_device_url
from kiosk.cli import main
from kiosk.core.config import ConfigError, load_config, parse_config


@pytest.mark.parametrize(("text", "scheme", "where"), [
    ("tcp://10.0.0.5:9100?timeout=2", "tcp", ("10.0.0.5", 9100, "")),
    ("serial:///dev/serial/by-id/usb-Acme-if00?baudrate=38400", "serial",
     ("", None, "/dev/serial/by-id/usb-Acme-if00")),
    ("usb://04b8:0202", "usb", ("04b8:0202", None, "")),
    ("file:///dev/usb/lp0", "file", ("", None, "/dev/usb/lp0")),
    ("pcsc://Virtual PCD?profile=auth_cert", "pcsc", ("", None, "Virtual PCD")),
    ("sim://?paper=low&cover=open", "sim", ("", None, "")),
])
def test_device_urls(text, scheme, where):
    url = parse_device_url(text)
    assert url.scheme == scheme and (url.host, url.port, url.path) == where


def test_url_options_and_errors():
    url = parse_device_url("serial:///dev/ttyUSB0?baudrate=9600&timeout=1.5&offline=1")
    assert url.int_option("baudrate", 0) == 9600 and url.float_option("timeout", 0) == 1.5 and url.flag("offline")
    for bad in ("http://x", "tcp://nohost", "usb://zz:1", "serial://", "/dev/ttyUSB0"):
        with pytest.raises(UrlError):
            parse_device_url(bad)


def test_every_reason_has_an_action_and_a_translated_message():
    from kiosk.core.i18n import Translator

    english = Translator("en").gettext
    for code, entry in REASONS.items():
        assert entry.code == code and isinstance(entry.action, Action)
        assert entry.message.strip(), code
        assert entry.text(english) != entry.text(), f"{code}: no English translation of {entry.message!r}"
    unknown = reason("vendor.weird_thing")
    assert unknown.action == Action.TECHNICIAN and "vendor.weird_thing" in unknown.text()
    assert unknown.text(english) == "Device error (vendor.weird_thing)."


def test_registry_checks_driver_and_transport():
    validate_entry("printer", "escpos", "tcp://127.0.0.1:9100")
    with pytest.raises(ValueError, match="driver"):
        validate_entry("printer", "star", "sim://")
    with pytest.raises(ValueError, match="cannot use"):
        validate_entry("card_reader", "pcsc", "tcp://127.0.0.1:1")
    with pytest.raises(DeviceError) as caught:
        create_adapter("printer", "escpos", "tcp://x")
    assert caught.value.code == "config.invalid"
    assert set(DRIVERS) == {"escpos", "pcsc", "transbank", "cctalk", "scanner"}


class _Slow(Adapter):
    kind = "slow"

    def __init__(self, **kwargs):
        super().__init__("slow", "test", parse_device_url("sim://?timeout=0.2"), **kwargs)
        self.release = threading.Event()
        self.fail_open = False

    def _open(self):
        if self.fail_open:
            raise DeviceError("transport.no_device", "not plugged")

    def _close(self):
        pass

    def _probe(self):
        self._set_state(State.READY, "ok")

    def hang(self):
        self.release.wait(10)

    def hang_briefly(self):
        return self.call(lambda: self.release.wait(1), 0.2)


def test_a_call_that_overruns_its_deadline_fails_fast_and_the_next_call_works():
    adapter = _Slow()
    adapter.open()
    started = time.monotonic()
    with pytest.raises(DeviceError) as caught:
        adapter.call(adapter.hang, 0.2)
    assert caught.value.code == "transport.timeout"
    assert time.monotonic() - started < 1.0
    assert adapter.call(lambda: 42) == 42  # a fresh worker replaced the stuck one
    adapter.release.set()


def test_events_and_request_results_are_delivered_through_call_soon(ui):
    adapter = _Slow(call_soon=ui.call_soon)
    adapter.subscribe(ui.record)
    adapter.open()
    results = []

    def operation() -> tuple[str, str]:  # a public operation: its I/O runs on the worker
        return threading.current_thread().name, adapter.call(lambda: threading.current_thread().name)

    adapter.request(operation, lambda value, error: results.append((value, error, threading.current_thread().name)))
    adapter.request(adapter.hang_briefly, lambda value, error: results.append((value, error, "")))
    assert ui.pump_until(lambda: len(results) == 2, 3)
    (caller, worker), error, delivered_on = results[0]
    assert error is None and caller.startswith("request-") and worker.startswith("device-")
    assert delivered_on == ui.thread.name  # the outcome arrives on the UI thread
    assert results[1][0] is None and results[1][1].code == "transport.timeout"
    assert ui.kinds("state.changed") and ui.threads_seen == {ui.thread.name}


def test_supervisor_restarts_a_failed_adapter_and_counts_reconnects(ui):
    adapter = _Slow(call_soon=ui.call_soon)
    adapter.subscribe(ui.record)
    adapter.fail_open = True
    adapter.open()
    assert adapter.status().state == State.NO_DEVICE
    ticks = [0.0]
    supervisor = Supervisor({"slow": adapter}, interval_s=1.0, backoff_max_s=4.0, clock=lambda: ticks[0])
    supervisor.check_once()  # still unplugged: backoff starts
    assert adapter.status().counters.restarts == 1
    supervisor.check_once()  # within the backoff: no new attempt
    assert adapter.status().counters.restarts == 1
    adapter.fail_open = False  # plugged back
    ticks[0] = 10.0
    supervisor.check_once()
    status = adapter.status()
    assert status.usable and status.counters.reconnects == 1 and status.counters.restarts == 2
    ui.wait_event("device.found")


def test_supervisor_thread_opens_everything_off_the_calling_thread(ui):
    adapters = create_adapters({"printer": type("E", (), {"driver": "escpos", "url": "sim://"})()}, ui.call_soon)
    supervisor = Supervisor(adapters, interval_s=0.05)
    supervisor.start()
    try:
        assert ui.pump_until(lambda: adapters["printer"].status().state == State.READY, 5)
    finally:
        supervisor.stop()
    assert adapters["printer"].status().state == State.CLOSED


def test_sim_printer_faults_from_the_url():
    printer = PrinterAdapter("printer", "escpos", parse_device_url("sim://?paper=low"))
    status = printer.open()
    assert status.state == State.DEGRADED and status.supply("paper") == Supply.LOW
    offline = PrinterAdapter("printer", "escpos", parse_device_url("sim://?offline=1"))
    assert offline.open().state == State.NO_DEVICE


def test_config_validates_device_driver_and_url(tmp_path: Path):
    good = parse_config('[devices.printer]\ndriver = "escpos"\nurl = "sim://?paper=low"\n', tmp_path / "k.toml")
    assert good.devices["printer"].driver == "escpos"
    with pytest.raises(ConfigError, match="driver"):
        parse_config('[devices.printer]\ndriver = "star"\n', tmp_path / "k.toml")
    with pytest.raises(ConfigError, match="url"):
        parse_config('[devices.printer]\ndriver = "escpos"\nurl = "lpt1"\n', tmp_path / "k.toml")


def test_bundled_configs_list_the_five_simulated_devices():
    devices = load_config().devices
    assert set(devices) == {"printer", "card_reader", "payment", "cash", "scanner"}
    assert all(entry.url.startswith("sim://") for entry in devices.values())
    example = load_config(Path(__file__).resolve().parents[2] / "config" / "example.toml").devices
    assert {name: entry.driver for name, entry in example.items()} == {
        "printer": "escpos", "card_reader": "pcsc", "payment": "transbank", "cash": "cctalk", "scanner": "scanner"}


def test_cli_lists_devices_as_json(capsys):
    assert main(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["devices"]
    assert [row["name"] for row in rows] == ["printer", "card_reader", "payment", "cash", "scanner"]
    assert all(row["state"] == "ready" and row["message"] == "Listo." for row in rows)
    assert rows[0]["supplies"] == {"paper": "full"}
    assert rows[0]["capabilities"]["model"] == "SIM-T20" and rows[0]["capabilities"]["firmware"]
    assert rows[1]["diagnostics"]["atr"].startswith("3B DB 96")  # the card's ATR, for technicians
    assert rows[3]["diagnostics"]["can_give_change"] is True and 2000 in rows[3]["diagnostics"]["bills_cents"]


def test_cli_table_and_self_tests(capsys):
    assert main(["devices"]) == 0
    table = capsys.readouterr().out
    assert "printer" in table and "paper=full" in table
    for name in ("printer", "card_reader", "payment", "cash", "scanner"):
        assert main(["devices", "test", name]) == 0, name
    out = capsys.readouterr().out
    assert "PASS" in out and "FAIL" not in out


def test_cli_self_test_fails_with_a_reason_and_unknown_names_are_usage_errors(tmp_path: Path, capsys):
    config = tmp_path / "faulty.toml"
    config.write_text('[devices.printer]\ndriver = "escpos"\nurl = "sim://?cover=open"\n'
                      '[devices.card_reader]\ndriver = "pcsc"\nurl = "sim://?card=mute&timeout=0.3"\n')
    assert main(["devices", "test", "printer", "--config", str(config)]) == 1
    assert "printer.cover_open" in capsys.readouterr().out
    assert main(["devices", "--config", str(config), "test", "printer"]) == 1  # either position
    capsys.readouterr()
    assert main(["devices", "test", "card_reader", "--config", str(config), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert main(["devices", "test", "nothing", "--config", str(config)]) == 2
    bad_option = tmp_path / "bad_option.toml"
    bad_option.write_text('[devices.cash]\ndriver = "cctalk"\nurl = "sim://?timeout=soon"\n')
    assert main(["devices", "--config", str(bad_option)]) == 2
    assert "timeout" in capsys.readouterr().err
    assert main(["devices", "--config", str(config)]) == 0
    assert "printer.cover_open" in capsys.readouterr().out


def test_demo_configuration_end_to_end(ui):
    """What the app does with the bundled sim devices: scan a bill, read the ID, pay, print."""
    from datetime import datetime

    from devices.printer import Receipt

    adapters = create_adapters(load_config().devices, ui.call_soon)
    for adapter in adapters.values():
        adapter.subscribe(ui.record)
    supervisor = Supervisor(adapters, interval_s=0.1)
    supervisor.start()
    try:
        assert ui.pump_until(lambda: all(a.status().usable for a in adapters.values()), 5)
        adapters["scanner"].simulator.scan("https://pagos.example.gob.mx/predial?ref=PRED-2026-000123")
        assert ui.wait_event("scan").data["reference"] == "PRED-2026-000123"
        identity = adapters["card_reader"].read_identity()
        assert identity.id_number
        cash = adapters["cash"].acceptance()
        assert cash.can_give_change and 2000 in cash.bills_cents  # shown before the citizen pays
        assert adapters["printer"].check_ready()  # DLE EOT before taking money
        payments = []
        payment = adapters["payment"]
        payment.request(lambda: payment.sale(125050, "F-2026-000123"), lambda result, error: payments.append(result))
        assert ui.pump_until(lambda: bool(payments), 5) and payments[0].approved
        receipt = Receipt("Municipio de San Andrés del Valle", "F-2026-000123", "Predial 2026", "Bimestre 6",
                          125050, payments[0].masked_card, datetime(2026, 11, 21, 10, 30), "kiosk-demo-01",
                          "Palacio Municipal", "https://verifica.example/r/F-2026-000123")
        assert adapters["printer"].print_receipt(receipt).completed
        assert any("VISA **** 4242" in line for line in adapters["printer"].simulator.decoded().lines)
    finally:
        supervisor.stop()
    assert ui.threads_seen == {ui.thread.name}

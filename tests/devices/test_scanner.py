"""Serial (CDC) scanner over a socat pty pair: the bill reference reaches the UI thread."""

from __future__ import annotations

import pytest

from devices.contract import State
from devices.scanner import ScannerAdapter
from devices.sim.scanner import SimScanner
from devices.sim.servers import SerialPeerThread
from devices.supervisor import Supervisor
from devices.urls import parse_device_url
from tests.devices.conftest import wait_until


@pytest.fixture
def scanner(pty_pair, ui):
    wire = SerialPeerThread(SimScanner(), pty_pair.device, lifetime_s=30).__enter__()
    adapter = ScannerAdapter("scanner", "scanner", parse_device_url(f"serial://{pty_pair.host}?timeout=0.5"),
                             ui.call_soon)
    adapter.subscribe(ui.record)
    assert adapter.open().state == State.READY
    yield adapter, wire, pty_pair
    adapter.close()
    wire.stop()


def test_plain_code_delivers_the_reference(scanner, ui):
    _, wire, _ = scanner
    wire.send(b"PRED-2026-000123\r\n")
    assert ui.wait_event("scan").data == {"reference": "PRED-2026-000123"}


def test_qr_url_with_stx_etx_framing_yields_the_ref_parameter(scanner, ui):
    _, wire, _ = scanner
    wire.send(b"\x02https://pagos.example.gob.mx/agua?ref=AGUA-77812&m=1\x03")
    assert ui.wait_event("scan").data["reference"] == "AGUA-77812"


def test_code_split_across_reads_is_reassembled(scanner, ui):
    _, wire, _ = scanner
    wire.send(b"MULTA-")
    wire.send(b"0042\r")
    assert ui.wait_event("scan").data["reference"] == "MULTA-0042"


def test_garbage_is_reported_as_invalid_not_delivered(scanner, ui):
    adapter, wire, _ = scanner
    wire.send(b"\x00\x01<>\r\n")
    event = ui.wait_event("scan.invalid")
    assert event.data["reason"] == "scanner.invalid_code"
    assert ui.kinds("scan") == []
    assert adapter.status().last_error == "scanner.invalid_code"


def test_scanner_unplugged_and_back_keeps_delivering(scanner, ui):
    adapter, wire, pair = scanner
    supervisor = Supervisor({"scanner": adapter}, interval_s=0.05, backoff_max_s=0.1)
    wire.stop()
    pair.stop()
    assert wait_until(lambda: adapter.status().state in (State.OFFLINE, State.NO_DEVICE), 3)
    ui.wait_event("device.lost")
    pair.start()
    with SerialPeerThread(SimScanner(), pair.device, lifetime_s=30) as again:

        def back() -> bool:
            supervisor.check_once()
            return adapter.status().usable

        assert wait_until(back, 5, 0.05)
        again.send(b"PRED-1\r\n")
        assert ui.wait_event("scan").data["reference"] == "PRED-1"
    assert adapter.status().counters.reconnects >= 1


def test_simulated_scanner_scans_on_request(ui):
    adapter = ScannerAdapter("scanner", "scanner", parse_device_url("sim://"), ui.call_soon)
    adapter.subscribe(ui.record)
    adapter.open()
    adapter.simulator.scan("AGUA-1234")
    assert ui.wait_event("scan").data["reference"] == "AGUA-1234"
    adapter.close()

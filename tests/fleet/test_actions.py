"""The technician's buttons, each against a real counterpart: a printer peer over TCP whose bytes
are decoded, the simulated card and cash devices, the sandbox API for a sync."""

from __future__ import annotations

import datetime as dt
import json
import queue
from pathlib import Path

import pytest

from devices.escpos_decode import decode
from devices.printer import PrinterAdapter
from devices.registry import create_adapter
from devices.sim.printer import SimPrinter
from devices.sim.servers import TcpPeerServer
from devices.urls import parse_device_url
from kiosk.catalog.service import CatalogSyncService
from kiosk.catalog.store import CatalogStore
from kiosk.catalog.sync import CatalogSync, SyncSettings
from kiosk.core.config import load_config
from kiosk.core.i18n import Translator
from kiosk.core.sdnotify import EXIT_DELIBERATE_SHUTDOWN
from kiosk.fleet import actions  # module access: pytest would collect a bare `test_print` as a test
from kiosk.fleet.actions import (
    EXIT_RESTART,
    ActionResult,
    force_sync,
    poll_cash,
    read_card,
    restart_app,
    run_in_background,
    self_test,
)
from tests.fleet.conftest import write_config

EN = Translator("en").gettext  # these tests read the results in English

NOW = dt.datetime(2026, 11, 21, 10, 30, 5)


@pytest.fixture
def config(tmp_path: Path):
    return load_config(write_config(tmp_path, "http://127.0.0.1:9", devices={}))


@pytest.fixture
def printer_peer():
    printer = SimPrinter()
    with TcpPeerServer(printer, lifetime_s=30) as server:
        adapter = PrinterAdapter("printer", "escpos", parse_device_url(f"{server.url}?timeout=2"))
        adapter.open()
        yield printer, adapter
        adapter.close()


def test_test_page_carries_kiosk_id_accents_a_qr_and_a_cut(printer_peer, config):
    printer, adapter = printer_peer
    printer.forget_output()  # only the test page, not the identity request sent at open
    result = actions.test_print(adapter, config, now=NOW, _=EN)
    assert result.ok and result.message.startswith("test page printed")
    decoded = decode(bytes(printer.received))
    text = "\n".join(decoded.lines)
    assert "Identificador: kiosk-test-07" in text and "Ubicación: Mercado Juárez, local 3" in text
    assert "Versión: 0.1.0" in text and "Hora: 21/11/2026 10:30:05" in text
    assert "á é í ó ú ñ ü Á É Í Ó Ú Ñ Ü ¿ ¡ $" in text  # CP858 printed them, no "?" anywhere
    assert "¿Se leen bien los acentos? ¡Sí!" in text and text.count("?") == 1  # never "?" for a character
    assert decoded.qr_codes == ["KIOSK-TEST kiosk-test-07 2026-11-21T10:30:05 v0.1.0"]
    assert decoded.cuts == 1 and decoded.code_pages == ["cp858"] and decoded.unknown == []


def test_test_print_without_paper_says_so(printer_peer, config):
    printer, adapter = printer_peer
    printer.paper = "out"
    result = actions.test_print(adapter, config, now=NOW, _=EN)
    assert not result.ok and result.message == "test page not finished: The printer is out of paper."
    assert result.details["reason"] == "printer.paper_out"


def test_test_print_to_a_silent_printer_fails_without_raising(config):
    adapter = create_adapter("printer", "escpos", "sim://?mute=1&timeout=0.2")
    adapter.open()
    try:
        result = actions.test_print(adapter, config, now=NOW, _=EN)
    finally:
        adapter.close()
    assert not result.ok and "did not report" in result.message
    assert actions.test_print(None, config, _=EN).message == "no printer is configured or open"


def test_read_card_reads_but_never_shows_the_identity():
    reader = create_adapter("card_reader", "pcsc", "sim://?card=normal&profile=esteid")
    reader.open()
    try:
        result = read_card(reader, EN)
        assert result.ok, result
        shown = json.dumps(result.to_dict(), ensure_ascii=False)
        for personal in ("MUÑOZ", "JOSÉ", "38001085718"):
            assert personal not in shown
        assert result.details["atr"] and result.message == "card read with profile esteid (identity not shown)"
    finally:
        reader.close()


def test_read_card_without_a_card_or_with_a_mute_one():
    empty = create_adapter("card_reader", "pcsc", "sim://?card=absent")
    empty.open()
    mute = create_adapter("card_reader", "pcsc", "sim://?card=mute&timeout=0.3")
    mute.open()
    try:
        assert read_card(empty, EN).message == "no card in the reader: insert a test card and try again"
        result = read_card(mute, EN)
        assert not result.ok and result.details["reason"] == "card.mute"
    finally:
        empty.close()
        mute.close()


def test_poll_cash_reports_what_the_acceptors_take():
    cash = create_adapter("cash", "cctalk", "sim://?hopper=3")
    cash.open()
    try:
        result = poll_cash(cash, EN)
    finally:
        cash.close()
    assert result.ok, result
    assert result.details["can_give_change"] is True and 1000 in result.details["coins_cents"]
    assert "change available" in result.message and "$10" in result.message


def test_poll_cash_on_a_dead_bus():
    cash = create_adapter("cash", "cctalk", "sim://?offline=1&timeout=0.3")
    cash.open()
    try:
        result = poll_cash(cash, EN)
    finally:
        cash.close()
    assert not result.ok and result.details["state"] in ("offline", "no_device")


def test_self_test_of_a_device():
    scanner = create_adapter("scanner", "scanner", "sim://")
    scanner.open()
    try:
        result = self_test(scanner, EN)
    finally:
        scanner.close()
    assert result.ok and result.message == "scanner: self-test passed" and result.details["device"] == "scanner"


def test_force_sync_through_the_apps_background_service(make_kiosk, sandbox):
    _path, config = make_kiosk(devices={})
    store = CatalogStore(config.data_path / "catalog.sqlite")
    service = CatalogSyncService(CatalogSync(SyncSettings.from_config(config), store), interval_s=3600)
    service.start()
    try:
        first = force_sync(service, timeout_s=20, _=EN)
        assert first.ok and first.message == "catalog unchanged at revision 1", first
        sandbox.server.stop()
        failed = force_sync(service, timeout_s=20, _=EN)
        assert not failed.ok and failed.message.startswith("sync failed (network)")
    finally:
        service.stop(timeout=5)
        store.close()


def test_force_sync_directly_and_when_sync_is_off(make_kiosk):
    _path, config = make_kiosk(devices={})
    store = CatalogStore(config.data_path / "catalog.sqlite")
    try:
        result = force_sync(CatalogSync(SyncSettings.from_config(config), store), _=EN)
    finally:
        store.close()
    assert result.ok and result.details["revision"] == 1

    class FeedWithoutKey:
        sync_service = None

    assert not force_sync(FeedWithoutKey()).ok


def test_restart_exits_with_a_status_systemd_restarts():
    statuses: list[int] = []
    result = restart_app(statuses.append)
    assert result.ok and statuses == [EXIT_RESTART] and EXIT_RESTART not in (0, EXIT_DELIBERATE_SHUTDOWN)
    unit = (Path(__file__).resolve().parents[2] / "kiosk.service").read_text()
    assert "Restart=always" in unit and f"RestartPreventExitStatus={EXIT_DELIBERATE_SHUTDOWN}" in unit


def test_actions_report_back_through_call_soon(config):
    delivered: queue.Queue = queue.Queue()
    results: list[ActionResult] = []
    thread = run_in_background(lambda: actions.test_print(None, config), results.append, delivered.put)
    thread.join(timeout=5)
    delivered.get(timeout=5)()  # the "UI thread" runs the callback
    assert [result.action for result in results] == ["test_print"] and not results[0].ok

"""'Imprimir esta información': from the procedure page, over a real TCP connection to a
printer peer that answers status like an Epson; the bytes are decoded and checked."""

from __future__ import annotations

import dataclasses

import pytest

from devices.sim.printer import SimPrinter
from devices.sim.servers import TcpPeerServer
from kiosk.core.config import DeviceEntry
from tests.ui.conftest import wake


@pytest.fixture
def printer_peer():
    with TcpPeerServer(SimPrinter(), lifetime_s=60) as server:
        yield server


@pytest.fixture
def tcp_printer_app(window, clock, config, printer_peer, sample_snapshot, ui):
    from kiosk.context import build_context
    from kiosk.ui.app import KioskApp

    devices = {"printer": DeviceEntry(driver="escpos", url=printer_peer.url + "?code_page=CP858")}
    app = ui.start_app(KioskApp(build_context(dataclasses.replace(config, devices=devices), now=clock)))
    try:  # whatever happens, the next test must find the window empty
        app.ctx.catalog.replace(sample_snapshot)
        ui.pump_until(lambda: app.devices.get("printer") is not None
                      and app.devices.get("printer").status().state.value == "ready", timeout_s=10)
        yield app
    finally:
        ui.stop_app(app)


def test_information_sheet_prints_in_spanish_with_qr_and_cut(tcp_printer_app, printer_peer, ui):
    app = tcp_printer_app
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    ui.tap(ui.find(contains="Pago del impuesto predial"))
    ui.tap(ui.find(text="Imprimir esta información"))
    dialog = app.dialogs["print"]
    ui.pump_until(lambda: dialog.done, timeout_s=15)
    assert dialog.message.startswith("Listo")
    printed = printer_peer.peer.decoded()
    text = "\n".join(printed.lines)
    assert "Pago del impuesto predial" in text
    assert "¿Qué debe llevar?" in text and "Tesorería Municipal" in text
    assert "año en curso" in text and "Tesorería" in text  # accents survived the code page
    assert printed.qr_codes == ["https://tramites.sanandresdelvalle.example/tramites/pre-001"]
    assert printed.cuts == 1
    assert printed.code_pages and {page.upper() for page in printed.code_pages} == {"CP858"}
    ui.tap(ui.find(id="print_done"))
    assert dialog.parent is None


def test_paper_out_is_told_plainly(tcp_printer_app, printer_peer, ui):
    app = tcp_printer_app
    printer_peer.peer.paper = "out"
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    ui.tap(ui.find(contains="Pago del impuesto predial"))
    ui.tap(ui.find(text="Imprimir esta información"))
    ui.pump_until(lambda: app.dialogs["print"].done, timeout_s=15)
    assert "no tiene papel" in app.dialogs["print"].message
    assert "Ayuda" in app.dialogs["print"].message

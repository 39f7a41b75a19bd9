"""Receipt printer: bytes over a real TCP connection to a peer that answers like a printer."""

from __future__ import annotations

from datetime import datetime

import pytest

from devices.contract import Action, DeviceError, State, Supply
from devices.escpos_decode import decode
from devices.printer import PrinterAdapter, Receipt, normalise_text, parse_printer_info, render_receipt
from devices.sim.printer import SimPrinter
from devices.sim.servers import TcpPeerServer
from devices.supervisor import Supervisor
from devices.urls import parse_device_url
from tests.devices.conftest import wait_until

SPANISH = "á é í ó ú ñ ü Á É Í Ó Ú Ñ Ü ¿ ¡ $"


def make_receipt(**changes) -> Receipt:
    values = dict(
        municipality="Municipio de San Andrés del Valle",
        folio="F-2026-000123",
        procedure="Pago del impuesto predial – 2026",
        concept="Predial “bimestre 6”… ¿pagó? ¡sí! ñandú pingüino",
        amount_cents=125050,
        payment_method="VISA **** 4242",
        issued_at=datetime(2026, 11, 21, 10, 30, 5),
        kiosk_id="kiosk-demo-01",
        location="Palacio Municipal, planta baja",
        verification="https://verifica.sanandres.gob.mx/r/F-2026-000123?h=9f2c1a",
        header_lines=("Tesorería Municipal", "RFC MSA850101AB1"),
    )
    values.update(changes)
    return Receipt(**values)


@pytest.fixture
def peer():
    printer = SimPrinter()
    with TcpPeerServer(printer, lifetime_s=30) as server:
        yield printer, server


def tcp_adapter(server: TcpPeerServer, ui=None, query: str = "timeout=0.5") -> PrinterAdapter:
    url = parse_device_url(f"{server.url}?{query}")
    adapter = PrinterAdapter("printer", "escpos", url, ui.call_soon) if ui else PrinterAdapter("printer", "escpos", url)
    if ui:
        adapter.subscribe(ui.record)
    return adapter


def test_normalise_keeps_spanish_and_never_produces_question_marks():
    text = SPANISH + " – — “x” ‘y’ … • € № ☃"
    out = normalise_text(text, "CP858")
    assert out.startswith(SPANISH)
    assert "?" not in out
    assert out.encode("cp858")  # everything left is printable in the configured code page
    assert "-" in out and '"x"' in out and "'y'" in out and "..." in out


def test_receipt_refuses_a_full_card_number():
    with pytest.raises(ValueError):
        make_receipt(payment_method="VISA 4111111111111111")


def test_receipt_over_tcp_carries_every_field_code_page_qr_and_cut(peer):
    printer, server = peer
    adapter = tcp_adapter(server)
    assert adapter.open().state == State.READY
    result = adapter.print_receipt(make_receipt())
    adapter.close()
    assert result.completed and result.reason == "ok"

    decoded = decode(bytes(printer.received))
    assert all(len(line) <= 42 for line in decoded.lines)  # wrapped to the paper width
    text = " ".join(decoded.lines)  # fields may wrap; read them back as one text
    for expected in ("Tesorería Municipal", "Folio: F-2026-000123", "Trámite: Pago del impuesto predial - 2026",
                     'Concepto: Predial "bimestre 6"... ¿pagó? ¡sí! ñandú pingüino',
                     "Importe: $1,250.50 MXN", "Pago: VISA **** 4242", "Fecha: 21/11/2026 10:30:05",
                     "Kiosco: kiosk-demo-01", "Lugar: Palacio Municipal, planta baja"):
        assert expected in text, expected
    assert "Andrés" in text  # the municipality's header (wrapped over two lines in double width)
    assert text.count("?") == text.count("¿")  # every "?" closes a "¿": no character was lost to "?"
    assert decoded.code_pages == ["cp858"]  # chosen once, explicitly (ESC t 19)
    assert decoded.qr_codes == ["https://verifica.sanandres.gob.mx/r/F-2026-000123?h=9f2c1a"]
    assert decoded.cuts == 1
    assert decoded.unknown == []
    realtime = [request for request in decoded.status_requests if request[0] == "DLE EOT"]
    assert realtime[:4] == [("DLE EOT", 1), ("DLE EOT", 2), ("DLE EOT", 3), ("DLE EOT", 4)]
    assert len(realtime) >= 4 * (result.blocks_total + 1)  # before the job and after every block
    assert "4111" not in text


def test_wpc1252_code_page_is_selected_when_configured(peer):
    printer, server = peer
    adapter = tcp_adapter(server, query="timeout=0.5&code_page=CP1252")
    adapter.open()
    assert adapter.print_receipt(make_receipt()).completed
    adapter.close()
    decoded = decode(bytes(printer.received))
    assert decoded.code_pages == ["cp1252"]
    assert "¿pagó? ¡sí! ñandú pingüino" in " ".join(decoded.lines)
    assert "“bimestre 6”…" in " ".join(decoded.lines)  # WPC1252 has typographic quotes: kept


def test_status_before_money_reports_paper_low_as_degraded_with_an_event(peer, ui):
    printer, server = peer
    printer.paper = "low"
    adapter = tcp_adapter(server, ui)
    adapter.open()
    status = adapter.status()
    assert status.state == State.DEGRADED and status.reason.code == "printer.paper_low"
    assert status.supply("paper") == Supply.LOW
    assert status.reason.action == Action.REPLACE_CONSUMABLE
    assert adapter.check_ready()  # low paper still prints
    ui.wait_event("paper.low")
    adapter.close()


def test_paper_out_before_printing_sends_nothing(peer, ui):
    printer, server = peer
    printer.paper = "out"
    adapter = tcp_adapter(server, ui)
    adapter.open()
    assert not adapter.check_ready()
    result = adapter.print_receipt(make_receipt())
    adapter.close()
    assert not result.completed and result.reason == "printer.paper_out" and result.blocks_sent == 0
    assert decode(bytes(printer.received)).lines == []
    assert adapter.status().supply("paper") == Supply.OUT
    ui.wait_event("paper.out")


def test_silent_printer_is_unknown_never_paper_ok(peer):
    printer, server = peer
    printer.mute = True
    adapter = tcp_adapter(server, query="timeout=0.3")
    status = adapter.open()
    adapter.close()
    assert status.supply("paper") == Supply.UNKNOWN
    assert status.state == State.OFFLINE and status.reason.code == "status_unknown"
    assert not status.usable


def test_cover_open_is_a_technician_error(peer):
    printer, server = peer
    printer.cover_open = True
    adapter = tcp_adapter(server)
    status = adapter.open()
    adapter.close()
    assert status.state == State.ERROR and status.reason.code == "printer.cover_open"
    assert status.reason.action == Action.TECHNICIAN
    assert status.reason.message


def test_paper_out_mid_print_is_detected_and_the_receipt_can_be_reprinted(peer, ui):
    printer, server = peer
    printer.paper_out_after = 6  # runs out while the receipt body is printing
    adapter = tcp_adapter(server, ui)
    adapter.open()
    result = adapter.print_receipt(make_receipt())
    assert not result.completed
    assert result.reason == "printer.paper_out"
    assert 0 < result.blocks_sent < result.blocks_total
    assert adapter.status().state == State.ERROR
    ui.wait_event("print.incomplete")
    ui.wait_event("paper.out")
    states = [e.data["state"] for e in ui.kinds("state.changed")]
    assert states == ["ready", "busy", "error"]  # no READY/BUSY flapping between blocks

    printer.paper, printer.paper_out_after = "ok", None  # the attendant loads a new roll
    printer.forget_output()
    assert adapter.check_ready()
    again = adapter.reprint(result.job_id)
    adapter.close()
    assert again.completed
    decoded = decode(bytes(printer.received))
    assert any("COPIA / REIMPRESIÓN" in line for line in decoded.lines)
    assert decoded.qr_codes == ["https://verifica.sanandres.gob.mx/r/F-2026-000123?h=9f2c1a"]
    assert decoded.cuts == 1


def test_reprint_of_an_unknown_job_fails_clearly(peer):
    _, server = peer
    adapter = tcp_adapter(server)
    adapter.open()
    with pytest.raises(DeviceError):
        adapter.reprint(999_999)
    adapter.close()


def test_network_printer_unplugged_and_back_is_picked_up_by_the_supervisor(ui):
    printer = SimPrinter()
    server = TcpPeerServer(printer, lifetime_s=30).__enter__()
    adapter = tcp_adapter(server, ui, query="timeout=0.3")
    assert adapter.open().usable
    supervisor = Supervisor({"printer": adapter}, interval_s=0.05, backoff_max_s=0.1)
    server.stop()  # cable pulled: the connection drops and nobody answers on the port

    def lost() -> bool:
        supervisor.check_once()
        return adapter.status().state in (State.OFFLINE, State.NO_DEVICE)

    assert wait_until(lost, 3, 0.05)
    ui.wait_event("device.lost")
    with TcpPeerServer(printer, lifetime_s=30, port=server.port):  # plugged back, same address

        def back() -> bool:
            supervisor.check_once()
            return adapter.status().usable

        assert wait_until(back, 5, 0.05)
        ui.wait_event("device.found")
    assert adapter.status().counters.reconnects >= 1
    adapter.close()


def test_render_is_pure_and_fast_enough_to_call_before_payment():
    first = render_receipt(make_receipt())
    second = render_receipt(make_receipt())
    assert first == second and len(first) > 200


def test_write_only_device_file_prints_with_paper_unknown(tmp_path):
    target = tmp_path / "lp0"
    adapter = PrinterAdapter("printer", "escpos", parse_device_url(f"file://{target}"))
    status = adapter.open()
    assert status.state == State.DEGRADED and status.reason.code == "printer.no_status"
    assert status.supply("paper") == Supply.UNKNOWN
    assert adapter.print_receipt(make_receipt()).completed
    adapter.close()
    assert decode(target.read_bytes()).qr_codes == ["https://verifica.sanandres.gob.mx/r/F-2026-000123?h=9f2c1a"]


def test_model_firmware_and_serial_come_from_the_printer(peer):
    _, server = peer
    adapter = tcp_adapter(server)
    adapter.open()
    capabilities = adapter.capabilities()
    adapter.close()
    assert (capabilities.model, capabilities.firmware, capabilities.serial_number) == (
        "SIM-T20", "1.02 ESC/POS", "SIM0001234")
    assert dict(capabilities.details)["code_page"] == "CP858"
    assert {"cut", "status.realtime", "qr.native", "reprint"} <= capabilities.features


def test_serial_printer_over_a_pty_pair(pty_pair):
    from devices.sim.servers import SerialPeerThread

    printer = SimPrinter(paper="low")
    with SerialPeerThread(printer, pty_pair.device, lifetime_s=20):
        adapter = PrinterAdapter("printer", "escpos",
                                 parse_device_url(f"serial://{pty_pair.host}?baudrate=38400&timeout=0.5"))
        assert adapter.open().supply("paper") == Supply.LOW
        assert adapter.print_receipt(make_receipt()).completed
        adapter.close()
    decoded = decode(bytes(printer.received))
    assert decoded.cuts == 1 and decoded.code_pages == ["cp858"] and decoded.unknown == []


def test_image_qr_for_printers_without_native_qr():
    decoded = decode(render_receipt(make_receipt(), qr="image"))
    assert decoded.qr_codes == [] and len(decoded.images) == 1
    width, height = decoded.images[0]
    assert width >= 100 and height >= 100 and decoded.cuts == 1 and decoded.unknown == []


def test_an_unknown_code_page_is_recorded_and_its_text_still_decodes():
    decoded = decode(b"\x1bt\x05Tr\x82mite\n")  # ESC t 5: a page the decoder has no codec for
    assert decoded.code_pages == ["unknown-5"]
    assert decoded.lines == ["Trémite"]  # read as the printer default, CP437


@pytest.mark.parametrize(("reply", "expected"), [
    (b"_1.02 ESC/POS\x00_SIM-T20\x00_SIM0001234\x00", ("1.02 ESC/POS", "SIM-T20", "SIM0001234")),
    (b"_1.0\x1b[2J\x00_TM\r\nT20\x00_\xff42\x00", ("1.0[2J", "TMT20", "42")),  # no control bytes
    (b"_1.0\x00_TM-T20\x00_SER", None),  # the third answer never ended
    (b"_1.0\x00\x00_SER\x00", None),  # an empty model
    (b"", None),
])
def test_printer_info_keeps_printable_text_only(reply, expected):
    assert parse_printer_info(reply) == expected

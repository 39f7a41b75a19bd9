"""Paying the property tax with touches: account on the keyboard, the bill from the sandbox API
on loopback, the simulated card terminal, the receipt from the simulated printer, and the
transaction applied exactly once in the sandbox's ledger."""

from __future__ import annotations

import requests

from tests.ui.conftest import wake


def type_text(ui, text: str) -> None:
    for character in text:
        ui.tap(ui.find(text=character))


def start_paying_property_tax(app, ui) -> None:
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    ui.tap(ui.find(contains="Pago del impuesto predial"))
    ui.tap(ui.find(text="Pagar aquí"))
    assert app.root.manager.current == "account"
    assert "clave catastral" in ui.find(id="prompt").text


def test_pay_property_tax_by_card_with_receipt_applied_once(pay_app, ui, sandbox):
    app = pay_app
    start_paying_property_tax(app, ui)
    type_text(ui, "001-002-003-0001")
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=10)
    assert "Total a pagar hoy: $" in ui.find(id="total").text
    ui.tap(ui.find(id="pay_card"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=20)
    assert ui.find(id="title").text == "Pago registrado"
    assert app.ctx.payments.folio in ui.find(id="summary").text
    ui.pump_until(lambda: "Tome su recibo" in ui.find(id="receipt").text, timeout_s=20)
    ledger = lambda: requests.get(f"{sandbox.url}/v1/sandbox/ledger", timeout=5).json()  # noqa: E731
    ui.pump_until(lambda: ledger()["applied"] == 1, timeout_s=30)
    assert ledger()["transactions"][0]["account"]["ref"] == "001-002-003-0001"


def test_unknown_account_is_told_plainly_and_nothing_is_charged(pay_app, ui, sandbox):
    app = pay_app
    start_paying_property_tax(app, ui)
    type_text(ui, "999")
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: ui.find(id="status").text and "Consultando" not in ui.find(id="status").text,
                  timeout_s=10)
    assert app.root.manager.current == "account"
    assert requests.get(f"{sandbox.url}/v1/sandbox/ledger", timeout=5).json()["applied"] == 0


def open_procedure(app, ui, name: str) -> None:
    wake(ui)
    ui.tap(ui.find(contains="Buscar"))
    for character in name.upper()[:12]:
        ui.tap(ui.find(text=character) if character != " " else ui.find(id="space_key"))
    ui.tap(ui.find(text=name))
    assert app.root.manager.current == "procedure"


def test_request_a_certificate_identified_by_the_chip_and_paid_by_card(pay_app, ui, sandbox):
    app = pay_app
    open_procedure(app, ui, "Copia certificada de acta de nacimiento")
    ui.tap(ui.find(text="Solicitar aquí"))
    assert app.root.manager.current == "identify"
    ui.pump_until(lambda: not ui.find(id="use_chip").disabled, timeout_s=10)
    ui.tap(ui.find(id="use_chip"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=15)
    assert ui.find(id="details").text.startswith("A nombre de: ")
    assert "$84.49" in ui.find(id="total").text
    ui.tap(ui.find(id="pay_card"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=20)
    assert ui.find(id="title").text == "Solicitud registrada"
    ledger = lambda: requests.get(f"{sandbox.url}/v1/sandbox/ledger", timeout=5).json()  # noqa: E731
    ui.pump_until(lambda: ledger()["applied"] == 1, timeout_s=30)
    assert ledger()["transactions"][0]["kind"] == "certificate"
    # The receipt waited for the API to issue it: its QR downloads the certificate.
    ui.pump_until(lambda: "Tome su recibo" in ui.find(id="receipt").text, timeout_s=30)
    receipt = app.transactions.receipt(app.ctx.payments.transaction)
    assert "/v1/certificates/" in receipt.verification


def test_free_request_with_typed_data_and_nothing_spoken_of_it(pay_app, ui, sandbox):
    app = pay_app
    open_procedure(app, ui, "Reporte de alumbrado público")
    ui.tap(ui.find(text="Solicitar aquí"))
    ui.tap(ui.find(id="type_data"))
    for character in "ANA LOPEZ":
        ui.tap(ui.find(text=character) if character != " " else ui.find(id="space_key"))
    ui.tap(ui.find(id="curp_box"))
    for character in "LOPA800101MDFPRN09":
        ui.tap(ui.find(text=character))
    from screens.common import spoken_text

    spoken = spoken_text(app.screens["identify"])
    assert "ANA" not in spoken and "LOPA800101" not in spoken and "MDFPRN" not in spoken  # never read aloud
    ui.tap(ui.find(id="identify_continue"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=10)
    assert ui.find(id="total").text == "Sin costo"
    ui.tap(ui.find(id="request_free"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=20)
    assert ui.find(id="title").text == "Solicitud registrada"


def test_offline_banner_and_a_plain_reason_when_the_api_is_gone(pay_app, ui, sandbox):
    app = pay_app
    start_paying_property_tax(app, ui)
    port = sandbox.httpd.server_address[1]
    sandbox.stop()
    type_text(ui, "001-002-003-0001")
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: "Consultando" not in ui.find(id="status").text, timeout_s=20)
    assert app.root.manager.current == "account"
    assert "conexión" in ui.find(id="status").text.lower() or "red" in ui.find(id="status").text.lower()
    ui.pump_until(lambda: app.root.offline, timeout_s=5)
    assert "Sin conexión con la oficina" in ui.find(id="offline_banner").text
    from kiosk.sandbox import SandboxServer

    again = SandboxServer(sandbox.app, port=port)
    sandbox.app.stop_event.clear()
    again.start()
    try:
        assert app.transactions.check_online()
        ui.pump_until(lambda: not app.root.offline, timeout_s=5)
    finally:
        again.stop()


def test_offline_a_scanned_bill_can_still_be_paid_in_cash_not_by_card(pay_app, ui, sandbox):
    app = pay_app
    start_paying_property_tax(app, ui)
    assert "acercar el código de su recibo" in ui.find(id="prompt").text
    sandbox.stop()
    app.transactions.check_online()  # the kiosk notices the API is gone
    scanner = app.ctx.device("scanner")
    # A bill's QR code as the scanner reads it off the wire (its own parsing, its own event path).
    scanner._deliver(b"https://pagos.sanandres.example/predial?ref=001-002-003-0001&amount=2450.00&concept=Predial+2026")
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=10)
    assert "$2,450.00" in ui.find(id="total").text
    ui.pump_until(lambda: ui.find(id="card_note").text, timeout_s=10)  # checked off the UI thread
    assert ui.find_all(id="pay_card")[0].disabled and ui.find(id="card_note").text  # says why
    assert not ui.find(id="pay_cash").disabled


def test_pay_a_water_bill_the_same_way_with_its_card_fee_shown(pay_app, ui, sandbox):
    app = pay_app
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    ui.tap(ui.find(contains="Pago del recibo de agua"))
    ui.tap(ui.find(text="Pagar aquí"))
    assert "contrato de agua" in ui.find(id="prompt").text
    type_text(ui, "AGU-100234")
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=10)
    assert "comisión" in ui.find(id="card_fee").text  # water bills carry a card fee in the sandbox
    ui.tap(ui.find(id="pay_card"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=20)
    assert ui.find(id="title").text == "Pago registrado"


def test_a_second_start_while_paying_is_refused_and_charges_once(pay_app, ui, sandbox):
    app = pay_app
    start_paying_property_tax(app, ui)
    type_text(ui, "001-002-003-0001")
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=10)
    ui.tap(ui.find(id="pay_card"))
    refused = []
    again = lambda: app.ctx.payments.pay("card", lambda tx: None, lambda paid, total: None,  # noqa: E731
                                         lambda outcome: None, refused.append)
    again()  # while the terminal works, or just after it approved: either way, no second charge
    assert [problem.code for problem in refused] in (["payment.in_progress"], ["payment.done"])
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=20)
    again()
    assert refused[-1].code == "payment.done"
    ledger = lambda: requests.get(f"{sandbox.url}/v1/sandbox/ledger", timeout=5).json()  # noqa: E731
    ui.pump_until(lambda: ledger()["applied"] == 1, timeout_s=30)
    ui.pump(30)
    assert ledger()["applied"] == 1 and ledger()["keys"] == 1


def test_after_a_request_the_screen_and_the_receipt_say_where_and_when(pay_app, ui, sandbox):
    """The catalog's output, deadline and office: on the done screen and on the printed receipt."""
    app = pay_app
    open_procedure(app, ui, "Constancia de no adeudo del predial")
    ui.tap(ui.find(text="Solicitar aquí"))
    ui.tap(ui.find(id="type_data"))
    for character in "ANA LOPEZ":
        ui.tap(ui.find(text=character) if character != " " else ui.find(id="space_key"))
    ui.tap(ui.find(id="identify_continue"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=10)
    ui.tap(ui.find(id="pay_card"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=20)
    ui.pump_until(lambda: "Tome su recibo" in ui.find(id="receipt").text, timeout_s=30)
    summary = ui.find(id="summary").text
    assert "Su documento: Constancia de no adeudo" in summary and "Dónde recogerlo: " in summary
    printed = " ".join(app.devices.get("printer").simulator.decoded().lines)
    assert "Su documento: Constancia de no adeudo" in printed and "Dónde recogerlo:" in printed
    assert "ANA LOPEZ" not in printed  # no personal data on the paper

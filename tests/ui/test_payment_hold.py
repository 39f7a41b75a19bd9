"""The citizen's cash journey with real touches: while money can come in nothing leaves the payment
(Atrás, Inicio, language, help, idle, staff gesture), the progress says what is in and what is
missing, and "Cancelar" gives the money back from the hopper before the screen changes; a note
offered afterwards is refused by the validator."""

from __future__ import annotations

import pytest

from tests.ui.test_payment import start_paying_property_tax, type_text

pytestmark = pytest.mark.ui


def _to_cash_payment(app, ui) -> None:
    start_paying_property_tax(app, ui)
    type_text(ui, "001-002-003-0001")
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=10)
    ui.tap(ui.find(id="pay_cash"))
    ui.pump_until(lambda: app.screens["paying"].can_cancel, timeout_s=15)  # recorded, acceptor on


def test_nothing_leaves_a_cash_payment_but_its_ending(pay_app, ui, clock, config):
    app = pay_app
    _to_cash_payment(app, ui)
    bus = app.devices.get("cash").simulator
    instructions = ui.find(id="instructions").text
    assert "da cambio hasta $200.00 MXN" in instructions  # said before any money goes in
    assert bus.insert_bill(3)  # $100
    ui.pump_until(lambda: "Ha ingresado $100.00 MXN de" in ui.find(id="progress").text, timeout_s=10)
    assert "Faltan $" in ui.find(id="progress").text

    for button in ("home_button", "back_button", "language_button"):  # hidden or greyed out
        assert app.root.ids[button].disabled
    app.ctx.navigator.back()
    app.ctx.navigator.home()
    assert not app.ctx.sessions.set_language("en")
    ui.staff_gesture(clock.advance)
    assert app.dialogs["staff_pin"].parent is None
    ui.tap(ui.find(id="help_button"))
    assert app.dialogs["help"].parent is None and app.ctx.help.open_request is not None
    assert "Una persona viene a ayudarle" in ui.find(id="instructions").text
    clock.advance(config.kiosk.idle_timeout_s * 10)  # the citizen stands there: no wipe mid-payment
    ui.pump(20)
    assert app.root.manager.current == "paying" and app.ctx.navigator.refused >= 2

    ui.tap(ui.find(id="cancel_payment"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=30)
    assert not bus.bills.master_enabled  # inhibited before the screen changed
    assert ui.find(id="title").text == "Pago cancelado"
    assert "Tome su dinero de la bandeja: $100.00 MXN" in ui.find(id="summary").text
    assert bus.hopper_tally()["paid"] == 10  # ten $10 coins back
    assert not bus.insert_bill(3)  # a note offered now is refused, not taken
    ui.tap(ui.find(id="home_button"))  # the ending let the citizen go
    assert app.root.manager.current == "home"

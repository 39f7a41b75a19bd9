"""Staff at the kiosk, with touches: the hidden gesture, the PIN pad, lockout across a restart,
the attendant resolving a transaction that waits for a person, and the technician's test print
decoded from a printer peer on loopback. Every step is checked in the audit log too."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import requests

from devices.sim.printer import SimPrinter
from devices.sim.servers import TcpPeerServer
from kiosk.core.config import DeviceEntry

ATTENDANT = ("1001", "Ana Pérez", "attendant", "482915")
TECHNICIAN = ("2001", "Luis Gómez", "technician", "739264")
WRONG_PIN = "555123"


def provision(config, *members) -> None:
    from kiosk.staff import StaffAccess

    access = StaffAccess(config)
    try:
        for member in members:
            access.add(*member)
    finally:
        access.close()


def audit_actions(config) -> list[str]:
    from kiosk.staff import AuditLog

    log = AuditLog.open(config)
    try:
        assert log.verify().ok
        return [entry.action for entry in log.tail(1000)]
    finally:
        log.close()


def start(config, clock, ui, **devices: str):
    from kiosk.context import build_context
    from kiosk.ui.app import KioskApp

    if devices:
        entries = dict(config.devices)
        entries.update({name: DeviceEntry(driver=config.devices[name].driver, url=url)
                        for name, url in devices.items()})
        config = dataclasses.replace(config, devices=entries)
    return ui.start_app(KioskApp(build_context(config, now=clock)))


def log_in(app, ui, clock, staff_id: str, pin: str) -> None:
    ui.staff_gesture(clock.advance)
    pad = app.dialogs["staff_pin"]
    assert pad.parent is not None, "the gesture must open the PIN pad"
    for digit in staff_id:
        ui.tap(ui.find(text=digit, root=pad))
    ui.tap(ui.find(id="enter_key"))
    for digit in pin:
        ui.tap(ui.find(text=digit, root=pad))
    assert pad.ids.pin_field.text == "●" * len(pin) and pin not in pad.ids.pin_field.text
    ui.tap(ui.find(id="enter_key"))
    ui.pump_until(lambda: not pad.busy, timeout_s=10)


@pytest.fixture
def staff_app(window, clock, config, ui):
    provision(config, ATTENDANT, TECHNICIAN)
    app = start(config, clock, ui)
    try:
        yield app
    finally:
        ui.stop_app(app)


def test_gesture_and_pin_open_the_attendant_panel_and_leaving_locks_it(staff_app, ui, clock, config):
    app = staff_app
    ui.tap_at(3, 3)  # a lone corner touch opens nothing: it wakes the kiosk like any touch
    assert app.dialogs["staff_pin"].parent is None and app.root.manager.current == "home"
    log_in(app, ui, clock, ATTENDANT[0], ATTENDANT[3])
    ui.pump_until(lambda: app.root.manager.current == "attendant")
    assert "Ana Pérez" in ui.find(id="title").text
    assert not app.root.chrome, "the citizen's bars are not shown on a staff panel"
    ui.tap(ui.find(id="staff_leave"))
    assert app.root.manager.current == "home" and app.ctx.staff.member is None  # the citizen's place
    assert audit_actions(config)[-2:] == ["staff.login", "staff.logout"]


def test_five_wrong_pins_lock_staff_access_even_after_a_restart(window, clock, config, ui):
    provision(config, ATTENDANT)
    app = start(config, clock, ui)
    try:
        for _ in range(config.staff.lockout_attempts):
            log_in(app, ui, clock, ATTENDANT[0], WRONG_PIN)
        message = app.dialogs["staff_pin"].message
        assert "bloqueado" in message and "30 min" in message
        ui.tap(ui.find(id="pin_cancel"))
    finally:
        ui.stop_app(app)
    app = start(config, clock, ui)  # a new process would read the same database: so does this app
    try:
        ui.staff_gesture(clock.advance)
        pad = app.dialogs["staff_pin"]
        ui.pump_until(lambda: pad.locked, timeout_s=10)
        assert "bloqueado" in pad.message
        assert not ui.visible(pad.ids.enter_key) and not ui.visible(pad.ids.keypad), "no attempt while locked"
        answers: list = []
        app.ctx.staff.login(ATTENDANT[0], ATTENDANT[3], answers.append)  # even the right PIN
        ui.pump_until(lambda: answers, timeout_s=10)
        assert not answers[0].ok and "bloqueado" in answers[0].message
        assert app.root.manager.current != "attendant" and app.ctx.staff.member is None
        ui.tap(ui.find(id="pin_cancel"))
    finally:
        ui.stop_app(app)
    actions = audit_actions(config)
    attempts = config.staff.lockout_attempts
    assert actions.count("staff.login_failed") + actions.count("staff.locked_out") == attempts
    assert "staff.login_refused" in actions and "staff.login" not in actions


def test_a_staff_session_left_alone_locks_itself(staff_app, ui, clock, config):
    app = staff_app
    log_in(app, ui, clock, TECHNICIAN[0], TECHNICIAN[3])
    ui.pump_until(lambda: app.root.manager.current == "technician")
    clock.advance(config.staff.session_idle_s + 1)
    ui.pump_until(lambda: app.root.manager.current == "attract", timeout_s=5)
    assert app.ctx.staff.member is None


def test_attendant_confirms_a_card_payment_whose_answer_was_lost(window, clock, config, ui, sandbox):
    provision(config, ATTENDANT)
    app = start(config, clock, ui, payment="sim://?result=timeout&sale_timeout=0.3")
    try:
        ui.pump_until(lambda: app.transactions is not None, timeout_s=15)
        service = app.transactions
        tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
        outcomes: list = []
        service.pay_by_card(tx, outcomes.append)
        ui.pump_until(lambda: outcomes, timeout_s=15)
        assert outcomes[0].state == "needs_attendant"
        log_in(app, ui, clock, ATTENDANT[0], ATTENDANT[3])
        screen = app.screens["attendant"]
        ui.pump_until(lambda: screen.waiting == 1, timeout_s=10)
        ui.tap(ui.find(contains=f"Folio {tx.folio}"))
        ui.tap(ui.find(id="write_note"))
        for character in "VOUCHER EN TERMINAL":
            ui.tap(ui.find(text="Espacio" if character == " " else character, root=app.dialogs["resolve"]))
        ui.tap(ui.find(id="note_done"))
        ui.tap(ui.find(id="confirm_paid"))
        ui.pump_until(lambda: app.dialogs["resolve"].parent is None, timeout_s=10)
        ui.pump_until(lambda: service.get(tx.key).state == "confirmed", timeout_s=15)
        account = requests.get(sandbox.url + "/v1/accounts/clave_catastral/001-002-003-0001", timeout=5).json()
        assert account["paid_up"], "the sandbox ledger must show the payment applied"
        ui.pump_until(lambda: screen.waiting == 0, timeout_s=10)
        assert "transaction.confirm" in audit_actions(config)
    finally:
        ui.stop_app(app)


@pytest.fixture
def printer_peer():
    with TcpPeerServer(SimPrinter(), lifetime_s=60) as server:
        yield server


def test_technician_test_print_is_decoded_from_the_printer_peer(window, clock, config, ui, printer_peer):
    provision(config, TECHNICIAN)
    app = start(config, clock, ui, printer=printer_peer.url + "?code_page=CP858")
    try:
        ui.pump_until(lambda: app.devices.get("printer") is not None
                      and app.devices.get("printer").status().state.value == "ready", timeout_s=10)
        log_in(app, ui, clock, TECHNICIAN[0], TECHNICIAN[3])
        ui.pump_until(lambda: app.root.manager.current == "technician")
        screen = app.screens["technician"]
        ui.pump_until(lambda: "OK" in screen.report_page, timeout_s=15)
        ui.tap(ui.find(id="test_print"))
        ui.pump_until(lambda: screen.result and screen.result != "Probando…", timeout_s=15)
        printed = printer_peer.peer.decoded()
        text = "\n".join(printed.lines)
        assert config.kiosk.id in text
        assert printed.qr_codes and printed.cuts == 1
        assert {page.upper() for page in printed.code_pages} == {"CP858"}
        assert "technician.test_print" in audit_actions(config)
        ui.tap(ui.find(id="self_test"))
        # A Spanish kiosk: the technician's panel and its report speak Spanish.
        ui.pump_until(lambda: "autoprueba" in screen.result, timeout_s=20)
        ui.pump_until(lambda: "autoprueba superada" in screen.report_page, timeout_s=15)
        logging.getLogger("kiosk.test").error("test.fault_for_the_technician")
        for handler in logging.getLogger().handlers:
            handler.flush()  # the error log writes on its own thread; the report reads the file
        ui.tap(ui.find(id="refresh_report"))
        ui.pump_until(lambda: any("test.fault_for_the_technician" in line for line in screen._lines), timeout_s=15)
    finally:
        ui.stop_app(app)


def test_technician_restart_is_audited_and_asks_for_a_restart_status(staff_app, ui, clock, config):
    from kiosk.core.sdnotify import EXIT_DELIBERATE_SHUTDOWN
    from kiosk.fleet.actions import EXIT_RESTART

    app = staff_app
    statuses: list[int] = []
    app.ctx.staff.restart = statuses.append  # the real hook stops the app (and this test's window)
    log_in(app, ui, clock, TECHNICIAN[0], TECHNICIAN[3])
    ui.pump_until(lambda: app.root.manager.current == "technician")
    ui.tap(ui.find(id="restart_app"))
    ui.pump_until(lambda: statuses, timeout_s=10)
    assert statuses == [EXIT_RESTART] and EXIT_RESTART != EXIT_DELIBERATE_SHUTDOWN  # systemd restarts on it
    assert "app.restart" in audit_actions(config)


def test_an_attendant_may_not_use_technician_tools(staff_app, ui, clock):
    app = staff_app
    log_in(app, ui, clock, ATTENDANT[0], ATTENDANT[3])
    ui.pump_until(lambda: app.root.manager.current == "attendant")
    with pytest.raises(PermissionError):
        app.ctx.staff.technician("test_print", lambda _outcome: None)

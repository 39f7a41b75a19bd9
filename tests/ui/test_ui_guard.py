"""The last-resort guard (kiosk/ui/ui_guard.py): an exception in a screen never kills the kiosk.

Faults are injected into real screens and reached with real touches: the citizen sees a plain
dialog in their language with a way home, an attendant is called, the payment's money stays
recorded, one log line carries a stable code and nothing personal, and the kiosk goes on. Errors
in a loop, or a guard that fails itself, end the app with a non-zero status (a real process).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.core.logs import LogfmtFormatter
from kiosk.ui.ui_guard import EXIT_UI_FAILED, MAX_ERRORS, PASS, RAISE, error_code
from tests.ui.conftest import wake
from tests.ui.crawler import Invariants

ROOT = Path(__file__).resolve().parents[2]
PERSONAL = "ANA LOPEZ PEREZ LOPA800101MPLPRN09"  # what a careless exception message could carry


class InjectedFault(RuntimeError):
    pass


def boom(*_args, **_kwargs):
    raise InjectedFault(f"could not show {PERSONAL}")


def guard_lines(caplog, name: str = "ui.unexpected_error") -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == name]


@pytest.fixture
def cash_app(catalog_app, ui):
    """Payments open and the simulated cash acceptor ready to take bills."""
    ui.pump_until(lambda: catalog_app.devices.get("cash").status().state.value == "ready", timeout_s=30)
    return catalog_app


def test_a_fault_while_cash_is_in_keeps_the_money_calls_help_and_goes_on(cash_app, ui, monkeypatch, caplog):
    app = cash_app
    caplog.set_level(logging.INFO)
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    ui.tap(ui.find(contains="Pago del impuesto predial"))
    ui.tap(ui.find(text="Pagar aquí"))
    for character in "001-002-003-0001":
        ui.tap(ui.find(text=character))
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=15)
    monkeypatch.setattr(app.screen("paying"), "_credited", boom)  # the screen's answer to each bill
    ui.tap(ui.find(id="pay_cash"))
    ui.pump_until(lambda: app.screens["paying"].can_cancel, timeout_s=15)
    app.devices.get("cash").simulator.insert_bill(2)  # 50 pesos go in; showing it fails
    ui.pump_until(lambda: app.guard.caught == 1, timeout_s=15)

    dialog = app.dialogs["error"]
    assert dialog.parent is not None
    assert ui.find(id="error_title").text == "Algo salió mal"
    assert app.guard.last_code in ui.find(id="error_code").text
    folio = app.ctx.payments.folio
    assert folio and f"folio {folio} quedó registrada" in ui.find(id="error_message").text
    assert app.ctx.help.open_request is not None and app.ctx.help.open_request.screen == "paying"
    lines = guard_lines(caplog)
    assert len(lines) == 1 and lines[0].fields["code"] == app.guard.last_code
    assert lines[0].levelno == logging.ERROR and lines[0].fields["screen"] == "paying"
    logged = "\n".join(LogfmtFormatter().format(record) for record in caplog.records)
    assert "LOPA800101" not in logged and "ANA LOPEZ" not in logged
    transaction = app.ctx.payments.transaction
    assert app.transactions.get(transaction.key).paid_cents == 5000

    # Money is in: the way on is back to the payment (home would leave the $50 behind).
    assert ui.find(id="error_home").text == "Volver a su pago"
    ui.tap(ui.find(id="error_home"))
    assert app.root.manager.current == "paying" and dialog.parent is None
    monkeypatch.undo()
    ui.tap(ui.find(id="cancel_payment"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=30)
    assert "Tome su dinero de la bandeja: $50.00 MXN" in ui.find(id="summary").text
    ui.tap(ui.find(id="home_button"))
    ui.tap(ui.find(contains="Trámites y requisitos"))  # the kiosk goes on
    assert app.root.manager.current == "menu"
    recorded = app.transactions.get(transaction.key)
    assert recorded.paid_cents == 5000 and recorded.state != "created"
    app.guard.caught = 0  # the one fault was injected and checked above


def test_a_fault_in_english_says_so_in_english_and_leads_home(catalog_app, ui, monkeypatch, caplog):
    app = catalog_app
    wake(ui)
    ui.tap(ui.find(id="language_button"))
    ui.tap(ui.find(id="display_button"))
    ui.tap(ui.find(id="text_larger"))
    ui.tap(ui.find(id="contrast_on"))
    ui.tap(ui.find(id="done_button"))
    monkeypatch.setattr(app.screen("menu"), "show", boom)
    ui.tap(ui.find(contains="Procedures and requirements"))
    assert app.guard.caught == 1
    # The dialog keeps the kiosk's rules at the largest text: texts on screen, 20 mm targets, a way on.
    assert [rule for rule, _ in Invariants(app).check() if rule != "uncaught_error"] == []
    assert ui.find(id="error_title").text == "Something went wrong"
    assert ui.find(id="error_home").text == "Back to the start"
    assert "folio" not in ui.find(id="error_message").text  # no payment in this session
    assert app.ctx.help.open_request is not None
    ui.tap(ui.find(id="error_home"))
    assert app.ctx.navigator.current.screen == "home" == app.root.manager.current
    monkeypatch.undo()
    ui.tap(ui.find(contains="Procedures and requirements"))
    assert app.root.manager.current == "menu"
    app.guard.caught = 0  # injected and checked above


def code_of(fault) -> str:
    try:
        fault()
    except Exception as error:
        return error_code(error)[0]
    raise AssertionError("no fault")


def test_the_code_names_the_fault_not_its_message():
    assert code_of(lambda: int("LOPA800101")) == code_of(lambda: int("something else"))
    assert code_of(lambda: int("x")) != code_of(lambda: {}["x"])
    assert code_of(lambda: int("x")).startswith("UI-") and len(code_of(lambda: int("x"))) == 9


def fail_every_frame() -> Callable[[], None]:
    """A clock callback that fails and comes back next frame (Kivy drops a failing interval);
    returns what stops it."""
    from kivy.clock import Clock

    running = [True]

    def fail(_dt: float) -> None:
        if running:
            Clock.schedule_once(fail, 0)
            boom()

    Clock.schedule_once(fail, 0)
    return lambda: running.clear()


def test_the_guard_answers_kivy_in_its_own_terms():
    from kivy.base import ExceptionManager

    assert (RAISE, PASS) == (ExceptionManager.RAISE, ExceptionManager.PASS)


def test_errors_in_a_loop_stop_the_app_for_systemd_to_restart(app, ui, caplog):
    statuses: list[int] = []
    app.guard.stop = statuses.append  # the real one stops the app and this test's window with it
    stop_failing = fail_every_frame()
    try:
        ui.pump_until(lambda: app.guard.gave_up, timeout_s=10)
    finally:
        stop_failing()
    assert statuses == [EXIT_UI_FAILED] and EXIT_UI_FAILED not in (0, 64)  # 64: systemd would not restart
    assert app.guard.caught == MAX_ERRORS + 1
    assert [r.fields["why"] for r in guard_lines(caplog, "ui.guard_gave_up")] == ["errors_in_a_loop"]
    app.guard.caught = 0  # injected and checked above


def test_the_idle_check_survives_a_fault_in_it(catalog_app, ui, clock, monkeypatch, config):
    app = catalog_app
    wake(ui)
    monkeypatch.setattr(app.ctx.idle, "state", boom)
    ui.pump_until(lambda: app.guard.caught == 1)  # the next idle check fails; Kivy drops its interval
    monkeypatch.undo()
    ui.tap(ui.find(id="error_home"))
    app.ctx.help.close("cancelled")  # an open help call pauses the idle timer; the citizen said no
    clock.advance(config.kiosk.idle_timeout_s + 1)
    ui.pump_until(lambda: app.dialogs["idle"].parent is not None)  # the check runs again
    app.guard.caught = 0  # injected and checked above


def test_a_guard_that_fails_itself_stops_the_app(app, ui, monkeypatch, caplog):
    statuses: list[int] = []
    app.guard.stop = statuses.append
    monkeypatch.setattr(app, "close_dialogs", boom)  # the guard's own recovery breaks
    monkeypatch.setattr(app.screens["home"], "show", boom)
    wake(ui)
    assert statuses == [EXIT_UI_FAILED]
    assert [r.fields["why"] for r in guard_lines(caplog, "ui.guard_gave_up")] == ["guard_failed"]
    app.guard.caught = 0  # injected and checked above


def test_the_real_main_loop_exits_non_zero_without_a_traceback(tmp_path):
    """`kiosk run`'s own loop, in a process: a clock callback failing every frame ends it with
    EXIT_UI_FAILED and one-line log records, never a traceback."""
    script = tmp_path / "failing_kiosk.py"
    script.write_text(textwrap.dedent(f"""
        import dataclasses, sys
        from kiosk.ui import kivyenv
        from kiosk.core.config import load_config
        from kiosk.core.logs import setup_logging

        config = load_config()
        config = dataclasses.replace(
            config, kiosk=dataclasses.replace(config.kiosk, data_dir={str(tmp_path / "data")!r}),
            api=dataclasses.replace(config.api, public_key="", base_url="http://127.0.0.1:9"),
            fleet=dataclasses.replace(config.fleet, metrics_port=0))
        setup_logging("INFO")
        kivyenv.prepare(config, headless=True)
        from kivy.clock import Clock
        from kiosk.ui import app as kiosk_app
        started = kiosk_app.KioskApp.on_start

        def on_start(self):
            started(self)
            def fail(_dt):
                Clock.schedule_once(fail, 0)  # back next frame: Kivy drops a failing interval
                raise RuntimeError("injected")
            Clock.schedule_once(fail, 1)

        kiosk_app.KioskApp.on_start = on_start
        sys.exit(kiosk_app.run_kiosk(config))
    """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, whatever the venv installed
    run = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == EXIT_UI_FAILED, run.stdout[-2000:] + run.stderr[-2000:]
    assert "event=ui.guard_gave_up" in run.stdout and "why=errors_in_a_loop" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr

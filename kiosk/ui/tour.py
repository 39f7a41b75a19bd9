"""`kiosk tour`: drive the real app headless through every screen and dialog, one PNG each.

The tour is a script of steps; each step brings one screen or dialog up with real touches and
photographs it as `<name>.png`. A screen or dialog without a step makes the tour fail, so a
new view cannot be forgotten. Time is a manual clock, so the idle prompt appears on demand.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from kiosk.core.config import Config
from kiosk.core.errors import KioskError
from kiosk.core.logs import setup_logging
from kiosk.shell.idle import ManualClock
from kiosk.ui import kivyenv


class TourIncomplete(KioskError):
    code = "tour.incomplete"


def run_tour(config: Config, out_dir: Path) -> list[Path]:
    from kiosk.ui.demo import sandbox_for_demo

    with sandbox_for_demo(config):  # the payment screens need an API that answers
        return _run_tour(config, out_dir)


def _run_tour(config: Config, out_dir: Path) -> list[Path]:
    setup_logging(config.log.level)
    kivyenv.prepare(config, headless=True)
    from kivy.base import EventLoop

    from kiosk.context import build_context
    from kiosk.ui import uidriver
    from kiosk.ui.app import KioskApp

    EventLoop.ensure_window()
    clock = ManualClock()
    ctx = build_context(config, now=clock)
    app = uidriver.start_app(KioskApp(ctx))
    show_some_catalog(ctx, uidriver)
    wait_for_payments(ctx, uidriver)
    try:
        return _visit_all(app, clock, out_dir)
    finally:
        uidriver.stop_app(app)


def show_some_catalog(ctx, ui) -> None:
    """The synced catalog if the kiosk has one, else the bundled sample (and say which)."""
    from kiosk.flows.journey import sample_snapshot

    store = ctx.config.data_path / "catalog.sqlite"
    try:
        ui.pump_until(lambda: not ctx.catalog.snapshot.empty, timeout_s=10 if store.exists() else 0)
        source = str(store)
    except TimeoutError:
        ctx.catalog.replace(sample_snapshot(ctx.config.kiosk.languages))
        source = "the bundled sample catalog"
    logging.getLogger("kiosk.ui.tour").info("tour.catalog", extra={"fields": {"source": source}})


def wait_for_payments(ctx, ui, timeout_s: float = 15) -> None:
    """Payments are offered once the transaction service has opened its outbox (in the background)."""
    try:
        ui.pump_until(lambda: ctx.payments is not None, timeout_s=timeout_s)
    except TimeoutError:
        logging.getLogger("kiosk.ui.tour").warning("tour.no_payments", extra={"fields": {"waited_s": timeout_s}})


def tour_steps(app, clock: ManualClock) -> Iterator[str]:
    """Bring up each screen and dialog with real touches; yield its name while it is shown."""
    from kiosk.ui import uidriver as ui
    ctx = app.ctx
    yield "attract"
    ui.tap(ui.find(id="invitation"))
    yield "home"
    ui.tap(ui.find(contains=ctx.translator.gettext("Trámites y requisitos")))
    yield "menu"
    ui.tap(ui.find(contains=ctx.nav_tree.find("procedures").children[0].title))
    ui.tap(app.screens["menu"].ids.options.children[-1])
    yield "procedure"
    if "print" in ctx.actions.available:
        printer = app.devices.get("printer")
        ui.pump_until(lambda: printer.status().state.value in ("ready", "degraded"), timeout_s=10)
        ui.tap(ui.find(text=ctx.translator.gettext("Imprimir esta información")))
        ui.pump_until(lambda: app.dialogs["print"].done, timeout_s=15)
        yield "print"
        ui.tap(ui.find(id="print_done"))
    if "pay" in ctx.actions.available:
        yield from _payment_steps(app, ctx, ui)
    ui.tap(ui.find(id="home_button"))
    ui.tap(ui.find(contains=ctx.translator.gettext("Buscar")))
    while app.screens["search"].query:  # the session remembers an earlier search
        ui.tap(ui.find(id="erase_key"))
    for letter in "PREDAL":  # a misspelling, as citizens type
        ui.tap(ui.find(text=letter))
    yield "search"
    ui.tap(ui.find(id="help_button"))
    # The dialog's text changes (and the dialog resizes) when the request reaches the API; with
    # no API answering it keeps saying it is calling.
    with contextlib.suppress(TimeoutError):
        ui.pump_until(lambda: ctx.help.delivered, timeout_s=5)
    yield "help"
    ui.tap(ui.find(id="cancel_button"))
    ui.tap(ui.find(id="display_button"))
    yield "display"
    ui.tap(ui.find(id="done_button"))
    clock.advance(ctx.config.kiosk.idle_timeout_s + 1)
    ui.pump_until(lambda: app.dialogs["idle"].parent is not None)
    yield "idle"
    ui.tap(ui.find(id="continue_button"))
    yield from _staff_steps(app, clock, ui)


def _payment_steps(app, ctx, ui) -> Iterator[str]:
    """Pay a sandbox account's property tax: cash first (shown, then cancelled), then by card."""
    ui.tap(ui.find(id="home_button"))
    ui.tap(ui.find(contains=ctx.translator.gettext("Pagar")))
    ui.tap(app.screens["menu"].ids.options.children[-1])  # the most paid: the property tax
    ui.tap(ui.find(text=ctx.translator.gettext("Pagar aquí")))
    for character in "001-002-003-0001":  # a sandbox account with debt
        ui.tap(ui.find(text=character))
    yield "account"
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=15)
    yield "bill"
    cash = app.devices.get("cash")
    if not app.screens["bill"].ids.pay_cash.disabled and hasattr(cash, "simulator"):
        yield from _cash_steps(app, ui, cash.simulator)
    else:
        ui.tap(ui.find(id="pay_card"))
        ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=30)
        ui.pump_until(lambda: "…" not in app.screens["done"].ids.receipt.text, timeout_s=30)
        yield "done"
    ui.tap(ui.find(id="home_button"))
    ui.tap(ui.find(contains=ctx.translator.gettext("Buscar")))
    for character in "ACTA":
        ui.tap(ui.find(text=character))
    ui.tap(app.screens["search"].ids.results.children[-1])
    ui.tap(ui.find(text=ctx.translator.gettext("Solicitar aquí")))
    ui.tap(ui.find(id="type_data"))
    yield "identify"


def _cash_steps(app, ui, bus) -> Iterator[str]:
    """Cash with the simulated bus: the paying screen with its change limit and progress; a
    cancellation the hopper can only partly give back (a voucher for the rest); then the bill
    paid with notes over the amount and the change paid by the hopper."""
    ui.tap(ui.find(id="pay_cash"))
    ui.pump_until(lambda: app.screens["paying"].can_cancel, timeout_s=15)  # recorded, acceptor on
    paying = app.screens["paying"]
    progressed = paying.ids.progress.text
    bus.insert_bill(2)  # $50 in
    ui.pump_until(lambda: paying.ids.progress.text != progressed, timeout_s=15)
    yield "paying"
    hopper = bus.hopper()
    bus.control(lambda: setattr(hopper, "inventory", 2))  # the hopper holds $20 now: $30 goes on a voucher
    ui.tap(ui.find(id="cancel_payment"))
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=30)
    yield "done"  # "Pago cancelado": $20 back, a voucher for $30, a person called
    bus.control(lambda: setattr(hopper, "inventory", 100))  # refilled by a technician...
    app.devices.get("cash").refresh()  # ...and read again: the change limit is back
    ui.tap(ui.find(id="try_again"))
    ui.pump_until(lambda: app.root.manager.current == "bill", timeout_s=15)
    ui.tap(ui.find(id="pay_cash"))
    ui.pump_until(lambda: app.screens["paying"].can_cancel, timeout_s=15)
    remaining = app.ctx.payments.transaction.amount_cents
    while remaining > 0:  # $500 notes, one at a time as a citizen does: the last one overpays
        before = paying.ids.progress.text
        bus.insert_bill(5)
        remaining -= 50000
        ui.pump_until(lambda before=before: paying.ids.progress.text != before
                      or app.root.manager.current == "done", timeout_s=15)
    ui.pump_until(lambda: app.root.manager.current == "done", timeout_s=60)
    ui.pump_until(lambda: "…" not in app.screens["done"].ids.receipt.text, timeout_s=30)
    yield "done-change"


def _staff_steps(app, clock: ManualClock, ui) -> Iterator[str]:
    """The demo attendant deals with the cancelled cash payment's voucher, counts the cash box and serves a
    citizen in assisted mode; then the demo technician opens the diagnostics."""
    from kiosk.ui.demo import DEMO_STAFF, ensure_demo_staff

    if not ensure_demo_staff(app.ctx.config):
        return  # a kiosk with its own staff: the tour does not guess PINs (each miss counts to a lockout)
    attendant, technician = DEMO_STAFF
    yield from _log_in(app, clock, ui, attendant, photograph=True)
    screen = app.screens["attendant"]
    ui.pump_until(lambda: screen.listed, timeout_s=15)
    yield "attendant"
    voucher = next((item.voucher for item in screen._records if getattr(item, "voucher", "")), "")
    if voucher:  # the voucher the cancelled cash payment left: the attendant has seen the citizen
        pager = screen.ids.attention_pager
        while not ui.find_all(contains=voucher) and pager.page < pager.count - 1:
            ui.tap(pager.ids.next_page)
        ui.tap(ui.find(contains=voucher))
        yield "resolve"
        ui.tap(ui.find(id="voucher_acknowledged"))
        ui.pump_until(lambda: app.dialogs["resolve"].parent is None, timeout_s=15)
    ui.tap(ui.find(id="cash_button"))
    ui.pump_until(lambda: not app.dialogs["cash"].busy, timeout_s=15)
    yield "cash"
    ui.tap(ui.find(id="cash_close"))
    ui.tap(ui.find(id="assisted_button"))
    yield "assisted"
    ui.tap(ui.find(id="assisted_finish"))
    yield from _log_in(app, clock, ui, technician)
    technician_screen = app.screens["technician"]
    ui.pump_until(lambda: technician_screen.report_page.count("\n") > 2, timeout_s=20)
    yield "technician"
    ui.tap(ui.find(id="staff_leave"))


def _log_in(app, clock: ManualClock, ui, member: tuple[str, ...], photograph: bool = False) -> Iterator[str]:
    staff_id, _name, role, pin = member
    ui.staff_gesture(clock.advance)
    pad = app.dialogs["staff_pin"]
    for digit in staff_id:
        ui.tap(ui.find(text=digit, root=pad))
    ui.tap(ui.find(id="enter_key"))
    if photograph:
        yield "staff_pin"
    for digit in pin:
        ui.tap(ui.find(text=digit, root=pad))
    ui.tap(ui.find(id="enter_key"))
    ui.pump_until(lambda: app.root.manager.current == role, timeout_s=15)


def _visit_all(app, clock: ManualClock, out_dir: Path) -> list[Path]:
    from kiosk.ui import uidriver as ui
    written = [ui.screenshot(out_dir / f"{name}.png") for name in tour_steps(app, clock)]
    not_configured = {view for view, needs in (("print", {"print"}), ("account", {"pay"}), ("bill", {"pay"}),
                                                 ("paying", {"pay"}), ("done", {"pay"}),
                                                 ("identify", {"request"}), ("resolve", {"pay"}),
                                                 ("cash", {"pay"}))
                      if not needs <= app.ctx.actions.available}
    if app.ctx.staff.member is None and "staff_pin" not in {path.stem for path in written}:
        not_configured |= {"staff_pin", "attendant", "technician", "resolve", "cash"}  # not a demo kiosk
    missing = set(view_names()) - not_configured - {path.stem for path in written}
    if missing:
        raise TourIncomplete(f"the tour has no step for: {', '.join(sorted(missing))}")
    logging.getLogger("kiosk.ui.tour").info("tour.done", extra={"fields": {"screens": len(written)}})
    return written


def view_names() -> list[str]:
    from screens import dialog_classes, screen_classes

    return [*screen_classes(), *dialog_classes()]

"""Forms a citizen can finish, with real touches: the identify form keeps its labels and says
why "Continuar" is disabled; a short real name goes through; the account field starts empty at
every lookup, has "Borrar todo" and finds the account with or without separators; and both
forms keep their targets and texts in place at the largest text size."""

from __future__ import annotations

import pytest

from kiosk.core.theme import MIN_GAP_MM, MIN_TARGET_MM, TEXT_SCALES
from tests.ui.conftest import wake

ACCOUNT = "001-002-003-0001"  # a sandbox account with debt (kiosk.sandbox.payments)


def type_text(ui, text: str) -> None:
    """Touch the on-screen keys of `text`, "Espacio" for a space."""
    for character in text:
        ui.tap(ui.find(text="Espacio" if character == " " else character))


def open_identify(app, ui) -> None:
    """A certificate request, up to the typed-data form (as the tour goes)."""
    wake(ui)
    ui.tap(ui.find(contains="Buscar"))
    type_text(ui, "ACTA")
    ui.tap(app.screens["search"].ids.results.children[-1])
    ui.tap(ui.find(text="Solicitar aquí"))
    ui.tap(ui.find(id="type_data"))
    assert app.root.manager.current == "identify"


def open_account(app, ui) -> None:
    """Property tax: Pagar, the most paid procedure, Pagar aquí."""
    if app.root.manager.current != "home":
        ui.tap(ui.find(id="home_button"))
    ui.tap(ui.find(contains="Pagar"))
    ui.tap(ui.find(contains="Pago del impuesto predial"))
    ui.tap(ui.find(text="Pagar aquí"))
    assert app.root.manager.current == "account"


def shown(ui, widget) -> bool:
    return ui.visible(widget) and widget.height > 0 and bool(ui.plain(widget.text).strip())


def test_identify_keeps_its_labels_and_says_why_continue_waits(catalog_app, ui):
    app = catalog_app
    open_identify(app, ui)
    screen = app.screens["identify"]
    name_label, curp_label = screen.ids.name_label, screen.ids.curp_label
    continue_button, reason = screen.ids.identify_continue, screen.ids.continue_reason
    assert shown(ui, name_label) and shown(ui, curp_label)
    assert continue_button.disabled and "nombre completo" in reason.text and shown(ui, reason)

    type_text(ui, "ANA")
    assert screen.name_text == "ANA" and continue_button.disabled
    assert "apellido" in reason.text, "one word: the line asks for the surname"
    assert shown(ui, name_label) and shown(ui, curp_label), "labels stay while a field is active"

    type_text(ui, " LI")
    assert not continue_button.disabled and reason.text == "" and reason.height == 0

    ui.tap(screen.ids.curp_box)
    assert screen.field == "curp" and shown(ui, curp_label) and shown(ui, name_label)
    type_text(ui, "GODE56")
    assert continue_button.disabled and "18 caracteres" in reason.text and "6" in reason.text
    ui.tap(ui.find(text="Borrar todo"))
    assert screen.curp_text == "" and not continue_button.disabled
    type_text(ui, "GODE561231HDFRRN09")
    assert not continue_button.disabled

    ui.tap(continue_button)
    assert app.root.manager.current == "bill"
    assert app.ctx.payments.identity.name == "ANA LI"
    assert app.ctx.payments.identity.id_number == "GODE561231HDFRRN09"


def test_identify_reason_follows_the_language(catalog_app, ui):
    app = catalog_app
    open_identify(app, ui)
    reason = app.screens["identify"].ids.continue_reason
    assert "nombre completo" in reason.text
    ui.tap(ui.find(id="language_button"))
    assert "full name" in reason.text and "surname" in app.screens["identify"].ids.name_label.text


def look_up(app, ui) -> None:
    """Touch "Continuar" and wait for the API's answer."""
    screen = app.screens["account"]
    ui.tap(screen.ids.continue_button)
    ui.pump_until(lambda: not screen.busy, timeout_s=15)


def test_account_starts_empty_every_lookup_and_accepts_any_separators(catalog_app, ui):
    app = catalog_app
    wake(ui)
    for typed in ("001 002 003 0001", "0010020030001", "001002003001"):
        open_account(app, ui)
        screen = app.screens["account"]
        assert screen.reference == "", f"the field starts empty, before typing {typed!r}"
        assert ui.find(id="reference_box").text == "|"
        assert screen.ids.continue_button.disabled and "escriba el número" in screen.ids.status.text
        type_text(ui, typed)
        look_up(app, ui)
        assert app.root.manager.current == "bill", (typed, screen.ids.status.text)
        assert app.ctx.payments.reference == ACCOUNT
    ui.tap(ui.find(id="back_button"))
    assert app.root.manager.current == "account" and screen.reference == "", "back from the bill: empty"
    type_text(ui, "0")
    assert screen.ids.status.text == "" and not screen.ids.continue_button.disabled


def test_borrar_todo_empties_the_account_field_in_one_touch(catalog_app, ui):
    app = catalog_app
    wake(ui)
    open_account(app, ui)
    screen = app.screens["account"]
    type_text(ui, "001-002-003-00")
    ui.tap(ui.find(text="Borrar"))
    assert screen.reference == "001-002-003-0"
    ui.tap(ui.find(text="Borrar todo"))
    assert screen.reference == "" and ui.find(id="reference_box").text == "|"
    assert screen.ids.continue_button.disabled


def test_a_wrong_number_stays_to_be_corrected(catalog_app, ui):
    app = catalog_app
    wake(ui)
    open_account(app, ui)
    screen = app.screens["account"]
    type_text(ui, "9 9 9 9")
    look_up(app, ui)
    assert app.root.manager.current == "account"
    assert screen.ids.status.text and "Consultando" not in screen.ids.status.text, "the refusal is shown"
    assert screen.reference == "009-009-009-0009", "shown as the bill writes it, to compare"


def rect_mm(widget, theme) -> tuple[float, float, float, float]:
    x, y = widget.to_window(*widget.pos)
    return tuple(theme.px_to_mm(v) for v in (x, y, x + widget.width, y + widget.height))


def layout_problems(app, ui, view: str) -> list[str]:
    """Targets of 20 mm with 5 mm between them, and every text inside the screen's area between
    the top and bottom bars, on what is shown now."""
    from kivy.core.window import Window
    from kivy.uix.label import Label

    theme, screen = app.theme, app.screens[view]
    top, bottom = rect_mm(app.root.ids.top_bar, theme), rect_mm(app.root.ids.bottom_bar, theme)
    width_mm = theme.px_to_mm(Window.width)
    problems = []
    targets = [(ui.plain(t.text), rect_mm(t, theme)) for t in ui.touch_targets(screen)]
    for label, (x1, y1, x2, y2) in targets:
        if x2 - x1 < MIN_TARGET_MM or y2 - y1 < MIN_TARGET_MM:
            problems.append(f"{view}: '{label}' is {x2 - x1:.1f} x {y2 - y1:.1f} mm")
    for index, (label_a, a) in enumerate(targets):
        for label_b, b in targets[index + 1:]:
            gap = max(max(a[0], b[0]) - min(a[2], b[2]), max(a[1], b[1]) - min(a[3], b[3]))
            if gap < MIN_GAP_MM:
                problems.append(f"{view}: '{label_a}' and '{label_b}' are {gap:.1f} mm apart")
    for widget in screen.walk(restrict=True):
        if isinstance(widget, Label) and ui.visible(widget) and ui.plain(widget.text).strip():
            x1, y1, x2, y2 = rect_mm(widget, theme)
            if y1 < bottom[3] - 0.1 or y2 > top[1] + 0.1 or x1 < -0.1 or x2 > width_mm + 0.1:
                problems.append(f"{view}: '{ui.plain(widget.text)[:30]}' is outside the bars")
            if widget.texture_size[0] > widget.width + 1 and widget.text_size[0] is not None:
                problems.append(f"{view}: '{ui.plain(widget.text)[:30]}' is wider than its box")
    return problems


@pytest.mark.parametrize("step", [0, len(TEXT_SCALES) - 1], ids=["standard", "largest"])
def test_forms_fit_between_the_bars_with_large_targets(catalog_app, ui, step, tmp_path):
    app = catalog_app
    open_identify(app, ui)
    app.set_text_step(step)
    ui.pump(3)
    problems = layout_problems(app, ui, "identify")
    type_text(ui, "ANA")  # the longest refusal line shows
    ui.tap(app.screens["identify"].ids.curp_box)  # digits join the keyboard
    type_text(ui, "GODE5")
    ui.pump(2)
    ui.screenshot(tmp_path / "identify.png")
    problems += layout_problems(app, ui, "identify")
    ui.tap(ui.find(id="home_button"))
    open_account(app, ui)
    ui.pump(2)
    problems += layout_problems(app, ui, "account")
    assert not problems, "\n".join(problems)

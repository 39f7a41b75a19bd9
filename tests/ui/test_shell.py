"""The application shell driven with real touches: attract, home, language, help, idle, lock-down."""

from __future__ import annotations

from kivy.core.window import Window

from tests.ui.conftest import wake


def current(app) -> str:
    return app.root.manager.current


def test_starts_on_attract_without_bars(app, ui):
    assert current(app) == "attract"
    assert app.root.chrome is False
    assert ui.find_all(id="help_button") and not [w for w in ui.find_all(id="help_button") if ui.visible(w)]


def test_first_touch_only_wakes(app, ui):
    # Touch exactly where the first home option will be: the wake touch must not press it.
    wake_point = (Window.width / 2, Window.height * 0.8)
    ui.tap_at(*wake_point)
    assert current(app) == "home"
    assert app.ctx.navigator.depth == 0


def test_home_offers_at_most_three_options_plus_help_and_language(app, ui):
    wake(ui)
    options = app.screens["home"].ids.options.children
    assert 1 <= len(options) <= 3
    labels = [ui.plain(button.text) for button in options]
    assert any(label.startswith("Pagar") for label in labels)
    assert ui.find(id="help_button").text == "Ayuda"
    assert ui.find(id="language_button").text == "English"


def test_help_and_language_stay_at_fixed_places(app, ui):
    wake(ui)
    places = {}
    for step in ("home", "menu"):
        places[step] = [tuple(button.to_window(*button.pos))
                        for button in (ui.find(id="help_button"), ui.find(id="language_button"))]
        if step == "home":
            ui.tap(ui.find(contains="Trámites y requisitos"))
            assert current(app) == "menu"
    assert places["home"] == places["menu"]


def test_option_leads_down_and_back_returns(app, ui):
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    assert current(app) == "menu"
    assert app.screens["menu"].ids.title.text == "Pagar"
    ui.tap(ui.find(id="home_button"))
    assert current(app) == "home"


def test_language_switches_live_and_back(app, ui):
    wake(ui)
    ui.tap(ui.find(id="language_button"))
    assert app.screens["home"].ids.title.text == "What do you need to do?"
    assert ui.find(id="help_button").text == "Help"
    assert ui.find(contains="Property tax")
    assert ui.find(id="language_button").text == "Español"
    ui.tap(ui.find(id="language_button"))
    assert app.screens["home"].ids.title.text == "¿Qué necesita hacer?"


def test_idle_prompt_counts_down_and_a_touch_continues(app, ui, clock, config):
    wake(ui)
    ui.tap(ui.find(contains="Pagar"))
    clock.advance(config.kiosk.idle_timeout_s - 1)
    ui.pump(20)  # longer than one idle check
    assert app.dialogs["idle"].parent is None
    clock.advance(2)
    ui.pump_until(lambda: app.dialogs["idle"].parent is not None)
    prompt = ui.find(id="question")
    assert prompt.text == "¿Sigue ahí?"
    assert app.dialogs["idle"].seconds_left >= 20
    assert str(app.dialogs["idle"].seconds_left) in ui.find(id="countdown").text
    ui.tap_at(10, 10)  # anywhere at all
    assert app.dialogs["idle"].parent is None
    assert current(app) == "menu"  # nothing was lost


def test_idle_expiry_wipes_every_trace(app, ui, clock, config):
    wake(ui)
    first_session = app.ctx.sessions.session.id
    ui.tap(ui.find(id="language_button"))
    ui.tap(ui.find(contains="Procedures and requirements"))
    assert current(app) == "menu"
    clock.advance(config.kiosk.idle_timeout_s + config.kiosk.idle_warning_s + 1)
    ui.pump_until(lambda: current(app) == "attract")
    assert app.ctx.translator.language == config.kiosk.language
    assert app.ctx.sessions.session.id != first_session
    assert app.ctx.navigator.depth == 0 and not app.ctx.navigator.can_go_back
    assert all(dialog.parent is None for dialog in app.dialogs.values())
    # No view still holds what the citizen looked at.
    menu = app.screens["menu"]
    assert menu.title == "" and not menu.ids.options.children
    assert not app.screens["home"].ids.options.children
    # The next citizen starts in the default language with a fresh home.
    wake(ui)
    assert ui.find(id="language_button").text == "English"
    assert app.screens["home"].ids.title.text == "¿Qué necesita hacer?"


def test_help_request_shows_location_and_extends_idle(app, ui, clock, config, sandbox):
    import requests

    wake(ui)
    ui.tap(ui.find(id="help_button"))
    assert app.ctx.help.open_request is not None
    assert config.kiosk.location in ui.find(id="where").text
    ui.pump_until(lambda: ui.find(id="delivery").text == "El personal ya recibió su aviso.", timeout_s=10)
    filed = requests.get(f"{sandbox.url}/v1/kiosks/{config.kiosk.id}/help-requests", timeout=5).json()
    assert [r["location"] for r in filed["help_requests"]] == [config.kiosk.location]
    clock.advance(config.kiosk.idle_timeout_s + 60)  # help extends the timeout (tests/ui/test_help.py: not for ever)
    ui.pump(20)  # longer than one idle check
    assert app.dialogs["idle"].parent is None
    assert current(app) == "home"
    ui.tap(ui.find(id="cancel_button"))
    assert app.ctx.help.open_request is None
    clock.advance(config.kiosk.idle_timeout_s + 1)
    ui.pump_until(lambda: app.dialogs["idle"].parent is not None)


def test_window_refuses_close_and_escape(app):
    assert Window.dispatch("on_request_close") is True
    assert Window.dispatch("on_keyboard", 27, 41, None, []) is True  # Escape
    assert Window.dispatch("on_keyboard", 285, 0, None, ["alt"]) is True  # Alt+F4
    assert Window.dispatch("on_keyboard", 99, 0, "c", ["ctrl"]) is True  # Ctrl+C
    assert app.root.manager.current == "attract"


def test_double_press_with_two_fingers_navigates_once(app, ui):
    from kivy.tests.common import UnitTestTouch

    wake(ui)
    button = ui.find(contains="Pagar")
    x, y = button.to_window(*button.center)
    first, second = UnitTestTouch(x, y), UnitTestTouch(x + 5, y + 5)
    first.touch_down()
    second.touch_down()
    ui.pump(1)
    first.touch_up()
    second.touch_up()
    ui.pump(2)
    assert app.ctx.navigator.depth == 1

"""Help that does not lie and does not leak, with real touches: an undelivered call says so and
where to find staff (in Spanish and English) and turns into "a person is coming" only once the
API has it; help gives more time but a citizen who walks away is still wiped, call withdrawn,
typed data gone; an attendant who logs in at the calling kiosk gets their panel on top."""

from __future__ import annotations

import dataclasses
import socket

import pytest
import requests

from kiosk.shell.helpdesk import DELIVERED, NOT_DELIVERED
from tests.ui.conftest import wake
from tests.ui.test_forms import open_identify, type_text
from tests.ui.test_staff import ATTENDANT, log_in, provision


def free_port() -> int:
    """A loopback port nobody listens on (yet): connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_at_api(sandbox_url: str, config, request_id: str) -> str:
    """The help request's status as the municipal API (the sandbox) has it."""
    url = f"{sandbox_url}/v1/kiosks/{config.kiosk.id}/help-requests/{request_id}"
    return str(requests.get(url, timeout=5).json().get("status"))


def on_screen_text(ui) -> str:
    return "\n".join(ui.plain(getattr(widget, "text", "")) for widget in ui.walk() if ui.visible(widget))


@pytest.fixture
def refusing_app(window, clock, config, ui):
    """The kiosk with its municipal API on a port that refuses every connection."""
    from kiosk.context import build_context
    from kiosk.ui.app import KioskApp

    port = free_port()
    api = dataclasses.replace(config.api, base_url=f"http://127.0.0.1:{port}")
    app = ui.start_app(KioskApp(build_context(dataclasses.replace(config, api=api), now=clock)))
    app.ctx.help.retry_base_s, app.ctx.help.retry_cap_s = 0.05, 0.2  # retries in the background, fast
    app.api_port = port
    try:
        yield app
    finally:
        ui.stop_app(app)


def test_an_undelivered_call_says_so_and_where_to_find_staff_then_turns_when_delivered(
        refusing_app, ui, config, tmp_path):
    from kiosk.sandbox import SandboxServer, create_app, install_extensions

    app = refusing_app
    dialog = app.dialogs["help"]
    wake(ui)
    ui.tap(ui.find(id="help_button"))
    ui.pump_until(lambda: app.ctx.help.delivery == NOT_DELIVERED, timeout_s=10)
    assert dialog.ids.coming.text == "No pudimos avisar al personal"
    assert "ventanilla de atención" in dialog.ids.where.text and config.kiosk.location in dialog.ids.where.text
    assert "Una persona viene" not in on_screen_text(ui), "no promise of a person who was never called"
    failed = app.ctx.help.failed_attempts
    ui.pump_until(lambda: app.ctx.help.failed_attempts > failed, timeout_s=10)  # still trying behind it

    ui.tap(ui.find(id="cancel_button"))
    ui.tap(ui.find(id="language_button"))
    ui.tap(ui.find(id="help_button"))
    ui.pump_until(lambda: app.ctx.help.delivery == NOT_DELIVERED, timeout_s=10)
    assert dialog.ids.coming.text == "We could not reach staff"
    assert "service counter" in dialog.ids.where.text and config.kiosk.location in dialog.ids.where.text

    api = create_app(data_dir=tmp_path / "sandbox")  # the API comes back on the same port
    install_extensions(api)
    server = SandboxServer(api, port=app.api_port).start()
    try:
        ui.pump_until(lambda: app.ctx.help.delivery == DELIVERED, timeout_s=15)
        assert dialog.ids.coming.text == "A person is coming to help you"
        request_id = app.ctx.help.open_request.id
        assert status_at_api(server.url, config, request_id) == "open"
        ui.tap(ui.find(id="cancel_button"))
        ui.pump_until(lambda: status_at_api(server.url, config, request_id) == "cancelled", timeout_s=10)
    finally:
        server.stop()


def test_help_gives_more_time_but_walking_away_still_wipes_the_typed_data(catalog_app, ui, clock, config,
                                                                          sandbox):
    app = catalog_app
    open_identify(app, ui)
    type_text(ui, "ANA LI")
    ui.tap(app.screens["identify"].ids.curp_box)
    type_text(ui, "GODE561231HDFRRN09")
    ui.tap(ui.find(id="help_button"))
    ui.pump_until(lambda: app.ctx.help.delivered, timeout_s=10)
    request_id = app.ctx.help.open_request.id
    prompt = app.dialogs["idle"]

    clock.advance(config.kiosk.idle_timeout_s + 1)
    ui.pump(8)  # a few idle checks
    assert prompt.parent is None, "help gives the citizen more time than usual"
    clock.advance(app.ctx.help.extra_idle_s)
    ui.pump_until(lambda: prompt.parent is not None)
    from kivy.core.window import Window

    assert Window.children[0] is prompt, "'¿Sigue ahí?' shows above the help dialog"
    clock.advance(config.kiosk.idle_warning_s + 1)
    ui.pump_until(lambda: app.root.manager.current == "attract")
    assert app.ctx.help.open_request is None and app.dialogs["help"].parent is None
    ui.pump_until(lambda: status_at_api(sandbox.url, config, request_id) == "cancelled", timeout_s=10)
    left = "\n".join(ui.plain(getattr(w, "text", "")) for screen in app.screens.values() for w in screen.walk())
    assert "ANA" not in left and "GODE561231" not in left


def test_the_attendant_panel_comes_above_the_citizens_help_dialog(window, clock, config, ui, sandbox):
    from kivy.core.window import Window

    from kiosk.context import build_context
    from kiosk.ui.app import KioskApp

    provision(config, ATTENDANT)
    app = ui.start_app(KioskApp(build_context(config, now=clock)))
    try:
        dialog = app.dialogs["help"]
        wake(ui)
        ui.tap(ui.find(id="help_button"))
        ui.pump_until(lambda: app.ctx.help.delivered, timeout_s=10)
        log_in(app, ui, clock, ATTENDANT[0], ATTENDANT[3])
        ui.pump_until(lambda: app.root.manager.current == "attendant", timeout_s=10)
        assert dialog.parent is None and Window.children[0] is app.root, "the panel is on top"
        ui.tap(ui.find(id="staff_leave"))  # gone without answering: the citizen sees the call again
        assert app.root.manager.current == "home" and dialog.parent is not None
        assert app.ctx.help.open_request is not None

        log_in(app, ui, clock, ATTENDANT[0], ATTENDANT[3])
        ui.pump_until(lambda: app.root.manager.current == "attendant", timeout_s=10)
        ui.tap(ui.find(id="answer_help"))  # a real touch on the panel reaches it
        assert app.ctx.help.open_request is None
        ui.tap(ui.find(id="staff_leave"))
        assert dialog.parent is None and app.root.manager.current == "home"
    finally:
        ui.stop_app(app)

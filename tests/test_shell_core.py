"""The shell's core without Kivy: idle timing, sessions, navigation, theme, logs, translations."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.context import build_context
from kiosk.core.config import load_config
from kiosk.core.i18n import Translator, missing_translations
from kiosk.core.logs import event, redact, setup_logging
from kiosk.core.theme import HIGH_CONTRAST, MIN_CONTRAST, STANDARD, Theme, contrast_ratio
from kiosk.flows.forms import clean_name, curp_refusal, identity_refusal, name_refusal, normalise_account
from kiosk.shell.idle import IdleMonitor, IdlePhase, ManualClock
from kiosk.shell.navigation import ATTRACT, HOME, Navigator

ROOT = Path(__file__).resolve().parent.parent


# -- idle -------------------------------------------------------------------------------------
def test_idle_phases_follow_the_clock():
    clock = ManualClock()
    idle = IdleMonitor(timeout_s=60, warning_s=30, now=clock)
    assert idle.state().phase is IdlePhase.DORMANT
    idle.start()
    clock.advance(59.9)
    assert idle.state().phase is IdlePhase.ACTIVE
    clock.advance(0.2)
    state = idle.state()
    assert state.phase is IdlePhase.WARNING and state.seconds_left == pytest.approx(29.9)
    idle.touch()
    assert idle.state().phase is IdlePhase.ACTIVE
    clock.advance(90.1)
    assert idle.state().phase is IdlePhase.EXPIRED


def test_pauses_stop_the_clock_until_all_are_released():
    clock = ManualClock()
    idle = IdleMonitor(timeout_s=60, warning_s=30, now=clock)
    idle.start()
    idle.pause("help")
    idle.pause("payment")
    clock.advance(1000)
    assert idle.state().phase is IdlePhase.ACTIVE
    idle.resume("help")
    clock.advance(1000)
    assert idle.state().phase is IdlePhase.ACTIVE
    idle.resume("payment")
    assert idle.state().seconds_left == pytest.approx(60)
    clock.advance(61)
    assert idle.state().phase is IdlePhase.WARNING


def test_extensions_delay_the_warning_but_never_stop_the_clock():
    clock = ManualClock()
    idle = IdleMonitor(timeout_s=60, warning_s=30, now=clock)
    idle.start()
    idle.extend("help", 120)
    idle.extend("short", 30)  # the longest extension applies; they do not add up
    clock.advance(179)
    assert idle.state().phase is IdlePhase.ACTIVE
    clock.advance(2)
    state = idle.state()
    assert state.phase is IdlePhase.WARNING and state.seconds_left == pytest.approx(29)
    clock.advance(29.5)
    assert idle.state().phase is IdlePhase.EXPIRED, "an extension never keeps the session forever"
    idle.touch()
    idle.unextend("help")
    clock.advance(89)
    assert idle.state().phase is IdlePhase.ACTIVE
    clock.advance(2)
    assert idle.state().phase is IdlePhase.WARNING
    idle.start()  # the next citizen starts with the plain timeout
    assert idle.effective_timeout_s == 60


# -- navigation and sessions ------------------------------------------------------------------
def test_navigator_retraces_the_path():
    seen = []
    nav = Navigator(on_change=seen.append)
    nav.home()
    nav.go("menu", node="pay")
    nav.go("menu", node="pay.water")
    assert nav.depth == 2 and nav.current.params["node"] == "pay.water"
    nav.back()
    assert nav.current.params["node"] == "pay"
    nav.back()
    nav.back()  # cannot go back past home
    assert nav.current.screen == HOME
    nav.reset()
    assert nav.current.screen == ATTRACT
    assert [place.screen for place in seen][-1] == ATTRACT


def test_session_end_wipes_language_path_help_and_identity():
    ctx = build_context(load_config(), now=ManualClock())
    wiped = []
    ctx.sessions.on_wipe(lambda: wiped.append(True))
    ctx.sessions.begin()
    first = ctx.sessions.session
    first.data["search"] = "acta de nacimiento"
    ctx.sessions.set_language("en")
    ctx.navigator.go("menu", node="pay")
    ctx.help.request("menu")
    ctx.sessions.end("idle")
    assert wiped == [True]
    assert ctx.sessions.session is not first and ctx.sessions.session.data == {}
    assert ctx.translator.language == "es"
    assert ctx.navigator.current.screen == ATTRACT
    assert ctx.help.open_request is None and not ctx.idle.paused
    assert ctx.idle.effective_timeout_s == ctx.config.kiosk.idle_timeout_s, "help's extra time goes too"
    assert ctx.idle.state().phase is IdlePhase.DORMANT


def test_language_button_offers_the_next_language():
    ctx = build_context(load_config())
    assert ctx.next_language() == "en"
    ctx.sessions.set_language("en")
    assert ctx.next_language() == "es"


# -- forms ------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["001-002-003-0001", "001 002 003 0001", "0010020030001", "001002003001",
                                   "1-2-3-1", " 001.002.003.0001 ", "001/002/003/0001"])
def test_a_cadastral_key_is_found_however_it_is_separated(typed):
    assert normalise_account("clave_catastral", typed) == "001-002-003-0001"


@pytest.mark.parametrize("typed", ["AGU-100234", "agu 100234", "AGU100234", "AGU - 100234"])
def test_a_water_contract_is_found_however_it_is_separated(typed):
    assert normalise_account("numero_contrato_agua", typed) == "AGU-100234"


def test_what_fits_no_shape_goes_to_the_api_as_typed_without_spaces():
    assert normalise_account("clave_catastral", "U 12345") == "U12345"
    assert normalise_account("clave_catastral", "1234-5678-9012-3") == "1234567890123"


@pytest.mark.parametrize("name", ["ANA LI", "BO LI", "JOSÉ OÑA", "MARÍA DE LA LUZ PÉREZ", " ana  li "])
def test_real_short_names_go_through(name):
    assert name_refusal(name) is None


def test_a_name_needs_a_given_name_and_a_surname_and_says_so():
    assert "nombre completo" in name_refusal("   ").message
    assert "apellido" in name_refusal("ANA").message
    assert clean_name(" ana  li ") == "ANA LI"


def test_the_curp_is_optional_but_whole_when_given():
    assert curp_refusal("") is None and curp_refusal("GODE561231HDFRRN09") is None
    short = curp_refusal("GODE56")
    assert short.text(lambda message: message) == "La CURP tiene 18 caracteres y lleva 6."
    assert "4 letras" in curp_refusal("1ODE561231HDFRRN09").message
    assert "carácter" in curp_refusal("GODE561231HDFRRN0A").message
    assert identity_refusal("ANA", "GODE56").message == name_refusal("ANA").message, "the name comes first"
    translator = Translator("en")
    assert short.text(translator.gettext) == "A CURP has 18 characters and this one has 6."


# -- theme ------------------------------------------------------------------------------------
@pytest.mark.parametrize("palette", [STANDARD, HIGH_CONTRAST], ids=["standard", "high-contrast"])
def test_every_text_pair_reaches_7_to_1(palette):
    failing = [(name, round(contrast_ratio(text, background), 2))
               for name, text, background in palette.text_pairs()
               if contrast_ratio(text, background) < MIN_CONTRAST]
    assert not failing


def test_contrast_formula_matches_known_values():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


def test_sizes_are_physical():
    small_panel, large_panel = Theme(dpi=141, viewing_distance_mm=600), Theme(dpi=69, viewing_distance_mm=600)
    for theme in (small_panel, large_panel):
        assert theme.px_to_mm(theme.target_px) >= 20
        assert theme.min_cap_mm == pytest.approx(7.33, abs=0.01)
    assert small_panel.body_px > large_panel.body_px  # same millimetres, more pixels
    assert Theme(dpi=100, viewing_distance_mm=1000).body_px > Theme(dpi=100, viewing_distance_mm=600).body_px


# -- logs -------------------------------------------------------------------------------------
def test_logs_are_logfmt_lines_without_personal_data():
    stream = io.StringIO()
    setup_logging("INFO", stream=stream)
    log = logging.getLogger("kiosk.test")
    event(log, "payment.done", card="4111 1111 1111 1111", email="ana@correo.mx", curp="GODE561231HDFRRN09",
          note='said "hola"')
    log.debug("hidden")
    setup_logging("INFO")
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert "level=INFO" in line and "logger=kiosk.test" in line and "event=payment.done" in line
    for secret in ("4111", "ana@correo.mx", "GODE561231HDFRRN09"):
        assert secret not in line
    assert 'note="said \\"hola\\""' in line
    assert "hidden" not in line


def test_redact_keeps_ordinary_words_and_short_numbers():
    assert redact("folio 42 en caja 3") == "folio 42 en caja 3"
    assert redact("atr=3B DB 96 00 80 B1 FE") == "atr=3B DB 96 00 80 B1 FE"
    assert "[redacted]" in redact("tarjeta 5555555555554444")
    assert "[redacted]" in redact("tarjeta 5555 5555 5555 4444")
    assert "[redacted]" in redact("tel 222 555 0110")
    assert redact("folio=EMO-01-261121-C0BAF0E8") == "folio=EMO-01-261121-C0BAF0E8"


# -- translations -----------------------------------------------------------------------------
def test_every_interface_message_is_translated():
    assert missing_translations(ROOT) == {}


def test_compiled_catalogs_match_their_sources(tmp_path):
    import shutil

    from kiosk.core.i18n import LOCALE_DIR, compile_all

    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy)
    for mo_path in compile_all(copy):
        shipped = LOCALE_DIR / mo_path.relative_to(copy)
        assert shipped.read_bytes() == mo_path.read_bytes(), f"{shipped} is stale: run `make i18n`"


def test_translator_switches_and_tells_listeners():
    translator = Translator("es")
    heard = []
    translator.add_listener(heard.append)
    assert translator.gettext("Ayuda") == "Ayuda"
    translator.switch("en")
    assert translator.gettext("Ayuda") == "Help"
    assert heard == ["en"]


# -- layout -----------------------------------------------------------------------------------
KIVY_EDGE = {"kiosk.ui.app", "kiosk.ui.tour", "kiosk.ui.uidriver"}


def core_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "kiosk").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in KIVY_EDGE and not name.endswith("__main__"):
            names.append(name)
    return names


def test_core_modules_import_no_kivy():
    script = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'kivy' or m.startswith('kivy.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_layout_of_the_design_card():
    for folder in ("kiosk", "screens", "devices", "offline_cache", "config", "tests"):
        assert (ROOT / folder).is_dir(), folder
    for file in ("setup.cfg", "pyproject.toml", "Makefile", "README.md", ".ci/run"):
        assert (ROOT / file).is_file(), file
    screens = ROOT / "screens"
    for view in screens.glob("*.py"):
        if view.stem != "__init__":
            assert view.with_suffix(".kv").is_file(), f"{view.name} has no .kv"
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme_start = "\n".join((ROOT / "README.md").read_text().splitlines()[:10])
    assert "make demo" in readme_start and "make test" in readme_start


def test_the_command_line_starts_without_the_network_stack_or_kivy():
    script = ("import sys\nfrom kiosk.cli import build_parser\nbuild_parser()\n"
              "print(sorted(m for m in ('requests', 'kivy', 'sqlite_utils', 'escpos') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

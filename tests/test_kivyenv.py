"""The window each way of starting the kiosk gets (kiosk/ui/kivyenv.py): a locked-down full screen
for `kiosk run` with a kiosk's configuration, an ordinary window for `kiosk demo` on a desktop,
offscreen for the tour and the tests. Kivy reads its settings once per process, so what
prepare() really sets is read back in a fresh interpreter."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiosk.core.config import load_config
from kiosk.ui import kivyenv

ROOT = Path(__file__).resolve().parents[1]
WINDOW_KEYS = ("fullscreen", "borderless", "show_cursor", "resizable", "width", "height")


@pytest.fixture
def config(tmp_path):
    base = load_config()  # the bundled demo configuration: fullscreen = true, 1080 x 1920 at 102.5 dpi
    return dataclasses.replace(base, kiosk=dataclasses.replace(base.kiosk, data_dir=str(tmp_path)))


def graphics(plan: kivyenv.WindowPlan) -> dict[str, str]:
    return {key: value for (section, key), value in kivyenv.kivy_settings(plan).items() if section == "graphics"}


def test_kiosk_run_is_locked_down_full_screen(config):
    plan = kivyenv.plan_window(config, headless=False, desktop=False, screen=(1920, 1080))
    assert plan.kind == "kiosk" and plan.locked
    settings = graphics(plan)
    assert (settings["fullscreen"], settings["borderless"], settings["show_cursor"]) == ("auto", "1", "0")
    assert (plan.width, plan.height, plan.dpi) == (1080, 1920, 102.5)  # the panel as configured


def test_the_demo_gets_an_ordinary_window_scaled_to_the_screen(config):
    plan = kivyenv.plan_window(config, headless=False, desktop=True, screen=(1920, 1040))
    assert plan.kind == "desktop" and not plan.locked
    settings = graphics(plan)
    assert (settings["fullscreen"], settings["borderless"], settings["show_cursor"]) == ("0", "0", "1")
    assert plan.height <= 1040 * kivyenv.SCREEN_SHARE and plan.width < 1080
    # Size and DPI scale together, so millimetres, and so the layout, are the kiosk's.
    assert plan.width / plan.dpi == pytest.approx(1080 / 102.5, rel=0.01)
    assert plan.height / plan.dpi == pytest.approx(1920 / 102.5, rel=0.01)
    fitted = kivyenv.fitted(config, plan)
    assert (fitted.display.width, fitted.display.height, fitted.display.dpi) == (plan.width, plan.height, plan.dpi)


def test_a_demo_window_never_grows_past_the_panel_nor_needs_a_screen(config):
    big = kivyenv.plan_window(config, headless=False, desktop=True, screen=(3840, 2160))
    assert (big.width, big.height, big.dpi) == (1080, 1920, 102.5)
    unknown = kivyenv.plan_window(config, headless=False, desktop=True, screen=None)
    assert unknown.kind == "desktop" and (unknown.width, unknown.height) == (1080, 1920)


def test_a_configuration_without_full_screen_is_a_window_that_closes(config):
    windowed = dataclasses.replace(config, display=dataclasses.replace(config.display, fullscreen=False))
    plan = kivyenv.plan_window(windowed, headless=False, desktop=False, screen=None)
    assert plan.kind == "desktop" and not plan.locked


def test_headless_runs_are_offscreen_and_keep_the_kiosk_rules(config):
    plan = kivyenv.plan_window(config, headless=True, desktop=True, screen=(800, 600))
    assert plan.kind == "headless" and plan.locked  # tests drive the kiosk as it is, not the demo
    assert (plan.width, plan.height) == (1080, 1920)


def prepared_settings(config, code: str) -> dict:
    """Run prepare() as `code` says in a fresh interpreter (no display) and read Kivy's settings back."""
    script = textwrap.dedent(f"""
        import dataclasses, json, os
        from kiosk.ui import kivyenv
        from kiosk.core.config import load_config
        config = load_config()
        kiosk = dataclasses.replace(config.kiosk, data_dir={config.kiosk.data_dir!r})
        config = dataclasses.replace(config, kiosk=kiosk)
        {code}
        from kivy.config import Config
        print(json.dumps({{"graphics": {{k: Config.get("graphics", k) for k in {list(WINDOW_KEYS)!r}}},
                          "exit_on_escape": Config.get("kivy", "exit_on_escape"),
                          "dpi": os.environ["KIVY_DPI"], "plan": kivyenv.chosen_window().kind}}))
    """)
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_prepare_for_kiosk_run_sets_the_locked_down_full_screen(config):
    got = prepared_settings(config, "kivyenv.prepare(config, headless=False)")
    assert got["plan"] == "kiosk"
    assert got["graphics"]["fullscreen"] == "auto" and got["graphics"]["show_cursor"] == "0"
    assert got["graphics"]["borderless"] == "1" and got["exit_on_escape"] == "0"
    assert float(got["dpi"]) == 102.5


def test_prepare_after_kiosk_demo_asked_sets_an_ordinary_window(config):
    got = prepared_settings(config, "kivyenv.request_desktop_window(); kivyenv.prepare(config, headless=False)")
    assert got["plan"] == "desktop"
    assert got["graphics"]["fullscreen"] == "0" and got["graphics"]["show_cursor"] == "1"
    assert got["graphics"]["borderless"] == "0"

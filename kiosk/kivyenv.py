"""Kivy's environment, set before the first `import kivy` (Kivy reads it at import time).

Kivy must not parse our argv, write its own log files, read a developer's ~/.kivy, or own the
root logger; sizes must be physical (the panel's DPI from config, density 1). Headless runs
(tour, tests, benchmarks) draw offscreen through SDL2 and Mesa.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kiosk.config import Config


def prepare(config: Config, headless: bool) -> None:
    if "kivy" in sys.modules:
        return  # too late to change anything; the first caller decided
    kivy_home = Path(config.kiosk.data_dir) / "kivy"
    kivy_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "KIVY_NO_ARGS": "1",
            "KIVY_NO_CONSOLELOG": "1",
            "KIVY_NO_FILELOG": "1",
            "KIVY_LOG_MODE": "PYTHON",
            # Kivy reads no config.ini: a file in the writable data dir could otherwise turn on
            # its inspector or keyboard modules. Every setting comes from below.
            "KIVY_NO_CONFIG": "1",
            "KCFG_KIVY_LOG_LEVEL": "debug" if config.log.level == "DEBUG" else "warning",
            "KIVY_HOME": str(kivy_home),
            "KIVY_DPI": str(config.display.dpi),
            "KIVY_METRICS_DENSITY": "1",
            "KIVY_METRICS_FONTSCALE": "1",
        }
    )
    # SDL would turn SIGTERM into a window-close request, which the kiosk refuses; the app
    # handles SIGTERM itself so systemd can stop it cleanly.
    os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy" if headless else "alsa")
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    from kivy.config import Config as KivyConfig

    fullscreen = config.display.fullscreen and not headless
    settings = {
        ("kivy", "exit_on_escape"): "0",
        ("kivy", "pause_on_minimize"): "0",
        ("kivy", "desktop"): "0",
        ("graphics", "fullscreen"): "auto" if fullscreen else "0",
        ("graphics", "borderless"): "1",
        ("graphics", "show_cursor"): "0" if fullscreen else "1",
        ("graphics", "allow_screensaver"): "0",
        ("graphics", "resizable"): "0",
        ("graphics", "width"): str(config.display.width),
        ("graphics", "height"): str(config.display.height),
        ("graphics", "multisamples"): "0",
        # Right-click multitouch emulation would draw red dots a citizen could leave behind.
        ("input", "mouse"): "mouse,disable_multitouch",
    }
    for (section, key), value in settings.items():
        KivyConfig.set(section, key, value)
    if headless:
        for key, _ in KivyConfig.items("input"):
            KivyConfig.remove_option("input", key)  # only synthetic touches drive a headless run

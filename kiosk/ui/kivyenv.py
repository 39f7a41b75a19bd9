"""Kivy's environment, set before the first `import kivy` (Kivy reads it at import time).

Kivy must not parse our argv, write its own log files, read a developer's ~/.kivy, or own the
root logger; sizes must be physical (the panel's DPI from config, density 1). Headless runs
(tour, tests, benchmarks) draw offscreen through SDL2 and Mesa.

Three kinds of window:

- "kiosk": `kiosk run` with a kiosk's configuration (fullscreen = true): full screen, no
  border, no cursor, and the app refuses to close (kiosk.ui.app);
- "desktop": `kiosk demo` on a desktop, or a configuration with fullscreen = false: an ordinary
  window with a border and the cursor, that closes like any window. It shows the kiosk's panel
  scaled down to fit the screen (size and DPI together, so the layout is the kiosk's);
- "headless": offscreen, for the tour, the tests and the benchmarks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.config import Config

SCREEN_SHARE = 0.9  # of the usable screen height a desktop window may take (title bar, panels)


@dataclass(frozen=True)
class WindowPlan:
    kind: str  # "kiosk", "desktop" or "headless"
    width: int
    height: int
    dpi: float

    @property
    def locked(self) -> bool:
        """Locked down: refuses to close and swallows keys that would leave the app."""
        return self.kind != "desktop"


_desktop_requested = False
_chosen: WindowPlan | None = None


def request_desktop_window() -> None:
    """`kiosk demo`: the next prepare() for a display opens an ordinary window."""
    global _desktop_requested
    _desktop_requested = True


def chosen_window() -> WindowPlan | None:
    """What prepare() decided (None before it ran in this process)."""
    return _chosen


def plan_window(config: Config, headless: bool, desktop: bool,
                screen: tuple[int, int] | None = None) -> WindowPlan:
    """The window for this run. `screen` is the usable desktop size when known."""
    display = config.display
    if headless:
        return WindowPlan("headless", display.width, display.height, display.dpi)
    if not desktop and display.fullscreen:
        return WindowPlan("kiosk", display.width, display.height, display.dpi)
    scale = 1.0
    if screen is not None:
        scale = min(1.0, screen[0] * SCREEN_SHARE / display.width, screen[1] * SCREEN_SHARE / display.height)
    return WindowPlan("desktop", round(display.width * scale), round(display.height * scale),
                      round(display.dpi * scale, 2))


def kivy_settings(plan: WindowPlan) -> dict[tuple[str, str], str]:
    kiosk = plan.kind == "kiosk"
    return {
        ("kivy", "exit_on_escape"): "0",  # the app decides (kiosk.ui.app): never in a kiosk, yes in a desktop window
        ("kivy", "pause_on_minimize"): "0",
        ("kivy", "desktop"): "0",
        ("graphics", "fullscreen"): "auto" if kiosk else "0",
        ("graphics", "borderless"): "0" if plan.kind == "desktop" else "1",
        ("graphics", "show_cursor"): "0" if kiosk else "1",
        ("graphics", "allow_screensaver"): "0",
        ("graphics", "resizable"): "0",
        ("graphics", "width"): str(plan.width),
        ("graphics", "height"): str(plan.height),
        ("graphics", "multisamples"): "0",
        # Right-click multitouch emulation would draw red dots a citizen could leave behind.
        ("input", "mouse"): "mouse,disable_multitouch",
    }


def fitted(config: Config, plan: WindowPlan) -> Config:
    """The configuration as the app must see it in this window (a desktop window scales the panel)."""
    if (plan.width, plan.height, plan.dpi) == (config.display.width, config.display.height, config.display.dpi):
        return config
    display = dataclasses.replace(config.display, width=plan.width, height=plan.height, dpi=plan.dpi)
    return dataclasses.replace(config, display=display)


def prepare(config: Config, headless: bool, desktop: bool | None = None) -> WindowPlan:
    """Set Kivy's environment and settings for this run; `desktop` defaults to what `kiosk demo`
    asked for (request_desktop_window)."""
    global _chosen
    if "kivy" in sys.modules:
        # Too late to change anything; the first caller decided.
        return _chosen or plan_window(config, headless=True, desktop=False)
    desktop = _desktop_requested if desktop is None else desktop
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
    wants_window = not headless and (desktop or not config.display.fullscreen)
    plan = plan_window(config, headless, desktop, usable_screen_size() if wants_window else None)
    os.environ["KIVY_DPI"] = str(plan.dpi)
    from kivy.config import Config as KivyConfig

    for (section, key), value in kivy_settings(plan).items():
        KivyConfig.set(section, key, value)
    if headless:
        for key, _ in KivyConfig.items("input"):
            KivyConfig.remove_option("input", key)  # only synthetic touches drive a headless run
    _chosen = plan
    return plan


class _Rect(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int)]


_SDL_INIT_VIDEO = 0x20


def usable_screen_size() -> tuple[int, int] | None:
    """The first display's usable area (without panels), asked of the SDL that Kivy will use;
    None when it cannot be told (no display, no SDL): the window then keeps the panel's size."""
    library = _sdl_library()
    if library is None:
        return None
    try:
        sdl = ctypes.CDLL(library)
        if sdl.SDL_InitSubSystem(_SDL_INIT_VIDEO) != 0:
            return None
        try:
            rect = _Rect()
            if sdl.SDL_GetDisplayUsableBounds(0, ctypes.byref(rect)) != 0 or rect.w <= 0 or rect.h <= 0:
                return None
            return rect.w, rect.h
        finally:
            sdl.SDL_QuitSubSystem(_SDL_INIT_VIDEO)
    except (OSError, AttributeError):
        return None


def _sdl_library() -> str | None:
    """Kivy's wheel carries its own SDL2 (in Kivy.libs beside the package); else the system's."""
    spec = importlib.util.find_spec("kivy")  # finds the package without importing (and starting) Kivy
    if spec is not None and spec.origin:
        bundled = sorted((Path(spec.origin).parent.parent / "Kivy.libs").glob("libSDL2-*.so*"))
        if bundled:
            return str(bundled[0])
    return ctypes.util.find_library("SDL2")

"""Runs in a fresh process for one cold-start measurement: `python -m bench.shell_probe kiosk|bare`.

Both variants start the same way (offscreen SDL2 window, app built into it, the loop pumped
until the wanted screen is drawn), so the difference is the kiosk's own cost. The kiosk variant
goes on to the interactive home screen: attract drawn, the waking touch, home drawn. It prints
one JSON line: the wall-clock time when it was done, resident memory, and touch latencies.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _config():
    from kiosk.core.config import load_config

    config = load_config()
    return dataclasses.replace(
        config,
        kiosk=dataclasses.replace(config.kiosk, data_dir=tempfile.mkdtemp(prefix="kiosk-bench-")),
        display=dataclasses.replace(config.display, fullscreen=False),
    )


def bare() -> dict:
    from kiosk.ui import kivyenv
    kivyenv.prepare(_config(), headless=True)
    from kivy.app import App
    from kivy.base import EventLoop
    from kivy.uix.button import Button

    class BareApp(App):
        def build(self):
            return Button(text="Hola")

    EventLoop.ensure_window()
    app = BareApp()
    app._run_prepare()
    EventLoop.idle()
    return {"done": time.time(), "rss_mb": rss_mb()}


def kiosk(touches: int) -> dict:
    from kiosk.ui import kivyenv
    config = _config()
    kivyenv.prepare(config, headless=True)
    from kivy.base import EventLoop

    from kiosk.context import build_context
    from kiosk.ui import uidriver as ui
    from kiosk.ui.app import KioskApp

    EventLoop.ensure_window()
    app = KioskApp(build_context(config))
    app._run_prepare()
    EventLoop.idle()  # attract drawn
    ui.tap(ui.find(id="invitation"), frames=0)
    EventLoop.idle()  # home drawn
    done = time.time()
    result = {"done": done, "rss_mb": rss_mb(), "screen": app.root.manager.current}
    if touches:  # steady state: after the warm-up has built the other screens, as on a kiosk in use
        ui.pump_until(lambda: len(app.screens) == len(app.screen_classes), timeout_s=30)
    result["touch_ms"] = touch_latencies(app, touches) if touches else []
    ui.stop_app(app)  # stop device and service threads before the interpreter exits
    return result


def touch_latencies(app, count: int) -> list[float]:
    """Touch release to the next screen drawn, alternating home -> menu -> home."""
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch

    from kiosk.ui import uidriver as ui
    latencies = []
    for index in range(count):
        target = ui.find(contains="Pagar") if index % 2 == 0 else ui.find(id="home_button")
        before = app.root.manager.current
        touch = UnitTestTouch(*target.to_window(*target.center))
        touch.touch_down()
        EventLoop.idle()
        started = time.perf_counter()
        touch.touch_up()
        while app.root.manager.current == before:
            EventLoop.idle()
        EventLoop.idle()  # the frame with the new screen
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


if __name__ == "__main__":
    variant = sys.argv[1]
    touches = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(json.dumps(kiosk(touches) if variant == "kiosk" else bare()), flush=True)
    # Done: skip interpreter finalisation, which can abort while Mesa's threads still hold the
    # open window ("exception not rethrown"); the kiosk itself closes its window on SIGTERM.
    os._exit(0)

"""Runs in its own process (one Kivy window each): touches through the sample catalog's screens,
timing touch release to the frame that shows the result. Prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
import time

from bench.shell_probe import _config


def prepare_kivy():
    """The benchmark configuration, with Kivy's environment set before Kivy is imported."""
    from kiosk.ui import kivyenv
    config = _config()
    kivyenv.prepare(config, headless=True)
    return config


def start_catalog_app(config):
    """The real app showing the sample catalog, every screen built by its warm-up."""
    from kivy.base import EventLoop

    from kiosk.context import build_context
    from kiosk.flows.journey import sample_snapshot
    from kiosk.ui import uidriver as ui
    from kiosk.ui.app import KioskApp

    EventLoop.ensure_window()
    app = KioskApp(build_context(config))
    ui.start_app(app)
    app.ctx.catalog.replace(sample_snapshot(config.kiosk.languages))
    ui.pump_until(lambda: len(app.screens) == len(app.screen_classes), timeout_s=30)  # warm-up done
    return app


def main(count: int) -> dict:
    app = start_catalog_app(prepare_kivy())
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch

    from kiosk.ui import uidriver as ui
    ui.tap(ui.find(id="invitation"))

    def timed(widget) -> float:
        touch = UnitTestTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        EventLoop.idle()
        started = time.perf_counter()
        touch.touch_up()  # dispatches the release; the app reacts inside it
        EventLoop.idle()  # the frame that draws the result
        return (time.perf_counter() - started) * 1000

    script = [
        lambda: ui.find(contains="Trámites y requisitos"),
        lambda: app.screens["menu"].ids.options.children[-1],  # a category
        lambda: app.screens["menu"].ids.options.children[-1],  # its first procedure
        lambda: ui.find(id="next_page"),
        lambda: ui.find(id="home_button"),
        lambda: ui.find(contains="Pagar"),
        lambda: app.screens["menu"].ids.options.children[-1],
        lambda: ui.find(id="back_button"),
        lambda: ui.find(id="home_button"),
        lambda: ui.find(contains="Buscar"),
        lambda: ui.find(text="A"),
        lambda: ui.find(text="C"),
        lambda: ui.find(id="home_button"),
    ]
    latencies: list[float] = []
    while len(latencies) < count:
        for step in script:
            latencies.append(timed(step()))
    ui.stop_app(app)  # stop device and service threads before the interpreter exits
    return {"touch_ms": latencies[:count]}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))), flush=True)
    os._exit(0)  # as in shell_probe: no finalisation with the window still open

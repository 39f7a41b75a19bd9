"""Diagnostics for the catalog journey benchmark (not a benchmark itself).

Runs the same touches as bench.journey_probe and prints, per step, where a touch's time goes
(`total` is what the benchmark counts; `pixels` adds waiting, after it, until llvmpipe has
filled the pixels of every frame queued so far):
the release's dispatch, the clock (sleep to the frame rate plus scheduled callbacks), layout
triggers (tick_draw), drawing and the buffer flip; how many label textures were rendered and
how long that took. `--profile N` writes a cProfile of step N's touches to /tmp.

    .venv/bin/python -m bench.journey_profile [touches] [--profile STEP]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import statistics
import time

from bench.journey_probe import prepare_kivy, start_catalog_app


def _callback_name(event) -> str:
    callback = event.get_callback()
    if callback is None:
        return "?"
    owner = getattr(callback, "__self__", None)
    name = getattr(callback, "__qualname__", repr(callback))
    return f"{type(owner).__name__}.{callback.__name__}" if owner is not None else name


_every_frame: set[str] = set()


class Phases:
    """Times the phases of one EventLoop.idle() the way Kivy runs them (kivy/base.py)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = collections.defaultdict(float)

    def idle(self) -> None:
        from kivy.base import EventLoop
        from kivy.clock import Clock
        from kivy.lang import Builder

        def lap(name: str, func) -> None:
            started = time.perf_counter()
            func()
            self.times[name] += (time.perf_counter() - started) * 1000

        clock_idle = Clock.idle
        slept = [0.0]

        def timed_idle():
            started = time.perf_counter()
            result = clock_idle()
            slept[0] += (time.perf_counter() - started) * 1000
            return result

        Clock.idle = timed_idle
        try:
            lap("clock", Clock.tick)
        finally:
            del Clock.idle
        self.times["sleep"] += slept[0]
        self.times["clock"] -= slept[0]
        lap("input", EventLoop.dispatch_input)
        lap("sync", Builder.sync)
        lap("tick_draw", Clock.tick_draw)
        lap("sync", Builder.sync)
        window = EventLoop.window
        if window and window.canvas.needs_redraw:
            lap("clear", window.clear)  # what the window's on_draw does, in two laps
            lap("draw", window.render_context.draw)
            lap("flip", lambda: window.dispatch("on_flip"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("touches", type=int, nargs="?", default=60)
    parser.add_argument("--profile", type=int, default=-1)
    args = parser.parse_args()

    config = prepare_kivy()
    from kivy.base import EventLoop
    from kivy.graphics.opengl import glFinish
    from kivy.tests.common import UnitTestTouch
    from kivy.uix.label import Label

    from kiosk.ui import uidriver as ui
    renders = {"count": 0, "ms": 0.0, "texts": []}
    original_update = Label.texture_update

    def texture_update(self, *largs):  # the clock calls it back by this name
        started = time.perf_counter()
        original_update(self, *largs)
        renders["count"] += 1
        renders["ms"] += (time.perf_counter() - started) * 1000
        renders["texts"].append((self.text or "")[:30])

    Label.texture_update = texture_update

    app = start_catalog_app(config)
    ui.tap(ui.find(id="invitation"))
    profiler = cProfile.Profile()
    from kivy.clock import Clock

    _every_frame.update(_callback_name(event) for event in Clock.get_events())  # intervals

    def timed(widget, step: int) -> dict:
        touch = UnitTestTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        EventLoop.idle()
        renders.update(count=0, ms=0.0, texts=[])
        phases = Phases()
        profiling = step == args.profile
        if profiling:
            profiler.enable()
        started = time.perf_counter()
        touch.touch_up()
        phases.times["release"] = (time.perf_counter() - started) * 1000
        phases.idle()
        total = (time.perf_counter() - started) * 1000
        if profiling:
            profiler.disable()
        # what the benchmark does not wait for: llvmpipe filling the pixels of the frames queued
        glFinish()
        pixels = (time.perf_counter() - started) * 1000
        rendered = {"renders": renders["count"], "render_ms": renders["ms"], "texts": list(renders["texts"])}
        # what spills into the next frame (not counted by the benchmark, but delays the next touch)
        from kivy.clock import Clock

        pending = sorted({_callback_name(event) for event in Clock.get_events()} - _every_frame)
        spill = Phases()
        spill.idle()
        spilled = sum(v for k, v in spill.times.items() if k != "sleep")
        return {"total": total, "pixels": pixels, **phases.times, **rendered, "pending": pending, "spill": spilled,
                "screen": app.root.manager.current}

    script = [
        ("menu", lambda: ui.find(contains="Trámites y requisitos")),
        ("category", lambda: app.screens["menu"].ids.options.children[-1]),
        ("procedure", lambda: app.screens["menu"].ids.options.children[-1]),
        ("next_page", lambda: ui.find(id="next_page")),
        ("home", lambda: ui.find(id="home_button")),
        ("pay", lambda: ui.find(contains="Pagar")),
        ("pay_item", lambda: app.screens["menu"].ids.options.children[-1]),
        ("back", lambda: ui.find(id="back_button")),
        ("home2", lambda: ui.find(id="home_button")),
        ("search", lambda: ui.find(contains="Buscar")),
        ("key_A", lambda: ui.find(text="A")),
        ("key_C", lambda: ui.find(text="C")),
        ("home3", lambda: ui.find(id="home_button")),
    ]
    results: dict[int, list[dict]] = collections.defaultdict(list)
    done = 0
    while done < args.touches:
        for step, (_name, find) in enumerate(script):
            results[step].append(timed(find(), step))
            done += 1
    ui.stop_app(app)
    keys = ["total", "pixels", "release", "sleep", "clock", "input", "tick_draw", "clear", "draw", "flip",
            "render_ms", "renders", "spill"]
    print(f"{'step':12} {'screen':10} " + " ".join(f"{k:>9}" for k in keys))
    for step, rows in sorted(results.items()):
        med = {k: statistics.median(row.get(k, 0.0) for row in rows) for k in keys}
        print(f"{script[step][0]:12} {rows[-1]['screen']:10} " + " ".join(f"{med[k]:9.1f}" for k in keys))
    every = [row for rows in results.values() for row in rows]
    for key in ("total", "pixels"):
        ordered = sorted(row[key] for row in every)
        p50, p95 = (ordered[min(len(ordered) - 1, round(f * (len(ordered) - 1)))] for f in (0.5, 0.95))
        print(f"{key}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    if os.environ.get("JOURNEY_TEXTS"):
        for step, rows in sorted(results.items()):
            print(script[step][0], rows[-1]["texts"], "pending after:", rows[-1]["pending"])
    if args.profile >= 0:
        path = f"/tmp/journey_step{args.profile}.prof"
        profiler.dump_stats(path)
        print("profile:", path)


if __name__ == "__main__":
    main()
    os._exit(0)

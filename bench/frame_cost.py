"""Diagnostics (not a benchmark): what one full frame of each journey screen costs to rasterise.

On the software renderer drawing is deferred: a frame's pixels are filled by llvmpipe's threads
after the draw call returns, and the next frame (or a texture upload) waits for them. A touch's
latency therefore follows the cost of the frames in flight; this prints that cost per screen,
each frame waited for with glFinish.

    .venv/bin/python -m bench.frame_cost
"""

from __future__ import annotations

import os
import statistics
import time

from bench.journey_probe import prepare_kivy, start_catalog_app

FRAMES = 9


def frame_ms(frames: int = FRAMES) -> tuple[float, float]:
    """(median, min) milliseconds of a full redraw of the window, waited for."""
    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish

    timings = []
    for _ in range(frames):
        glFinish()
        Window.canvas.ask_update()
        started = time.perf_counter()
        Window.dispatch("on_draw")
        Window.dispatch("on_flip")
        glFinish()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), min(timings)


def census() -> dict[str, float]:
    """Screen areas (in full windows) filled per kind of drawing instruction, hidden ones included:
    a widget at opacity 0 is still rasterised."""
    from kivy.core.window import Window
    from kivy.graphics import BorderImage, Line, Rectangle, RoundedRectangle
    from kivy.graphics.instructions import InstructionGroup
    from kivy.graphics.stencil_instructions import StencilPush, StencilUnUse

    totals: dict[str, float] = {}
    full = Window.width * Window.height

    def add(kind: str, area: float) -> None:
        totals[kind] = totals.get(kind, 0.0) + area / full

    def visit(group) -> None:
        for instruction in group.children:
            if isinstance(instruction, InstructionGroup):
                visit(instruction)
            elif isinstance(instruction, (Rectangle, RoundedRectangle, BorderImage)):
                width, height = instruction.size
                textured = instruction.texture is not None and instruction.texture.size != (64, 64)
                add("texture" if textured else "solid", abs(width * height))
            elif isinstance(instruction, Line):
                points = instruction.points
                length = sum(abs(points[i + 2] - points[i]) + abs(points[i + 3] - points[i + 1])
                             for i in range(0, len(points) - 3, 2))
                add("line", length * 2 * max(instruction.width, 1))
            elif isinstance(instruction, (StencilPush, StencilUnUse)):
                add("stencil ops", 0)
    visit(Window.canvas)
    return totals


def main() -> None:
    app = start_catalog_app(prepare_kivy())
    from kiosk.ui import uidriver as ui
    def menu_first():
        return app.screens["menu"].ids.options.children[-1]

    steps = [
        ("attract", None),
        ("home", lambda: ui.find(id="invitation")),
        ("menu", lambda: ui.find(contains="Trámites y requisitos")),
        ("procedure p1", menu_first),
        ("procedure p2", lambda: ui.find(id="next_page")),
        ("home", lambda: ui.find(id="home_button")),
        ("pay menu", lambda: ui.find(contains="Pagar")),
        ("search", lambda: [ui.tap(ui.find(id="home_button")), ui.find(contains="Buscar")][-1]),
        ("search typed", lambda: [ui.tap(ui.find(text="A")), ui.find(text="C")][-1]),
    ]
    rows = []
    for name, target in steps:
        if target is not None:
            ui.tap(target())
        ui.pump(3)
        median, best = frame_ms()
        rows.append((name, app.root.manager.current, median, best, census()))
    ui.stop_app(app)
    print(f"{'step':14} {'screen':10} {'median':>7} {'min':>7}")
    for name, screen, median, best, areas in rows:
        shares = "  ".join(f"{kind} {share:.2f}" for kind, share in sorted(areas.items()))
        print(f"{name:14} {screen:10} {median:7.1f} {best:7.1f}   windows filled: {shares}")
    print(f"all screens median of medians: {statistics.median(r[2] for r in rows):.1f} ms")


if __name__ == "__main__":
    main()
    os._exit(0)

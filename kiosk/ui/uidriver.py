"""Drives the real Kivy app the way a finger would: for the UI tests, the tour and benchmarks.

Touches go through Kivy's real input path (a FingerTouch posts to the event loop, the window
dispatches to widgets); nothing moves unless `pump()` runs the loop (clock, input, drawing).
Widgets are found by kv id or by their visible text in what is on screen now. An exception
escaping a frame goes to Kivy's ExceptionManager, as in the app's own main loop, so the app's
guard (kiosk.ui.ui_guard) handles it here as it would on a kiosk.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kivy.app import App
from kivy.base import EventLoop, ExceptionManager
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.input.motionevent import MotionEvent
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.screenmanager import ScreenManager
from kivy.uix.widget import Widget


class FingerTouch(MotionEvent):
    """One finger, as Kivy's own kivy.tests.common.UnitTestTouch: pressed, moved and lifted at
    window pixels. Kept here because importing kivy.tests imports pytest (about 100 ms), which
    the tour and the benchmarks' start-up probe would otherwise pay for."""

    def __init__(self, x: float, y: float):
        window = EventLoop.window
        super().__init__("UnitTestTouch", 99, {"x": x / (window.width - 1.0), "y": y / (window.height - 1.0)},
                         is_touch=True, type_id="touch")
        self.profile = ["pos"]  # the touch has x, y and pos

    def touch_down(self, *_args: object) -> None:
        EventLoop.post_dispatch_input("begin", self)

    def touch_move(self, x: float, y: float) -> None:
        window = EventLoop.window
        self.move({"x": x / (window.width - 1.0), "y": y / (window.height - 1.0)})
        EventLoop.post_dispatch_input("update", self)

    def touch_up(self, *_args: object) -> None:
        EventLoop.post_dispatch_input("end", self)

    def depack(self, args: dict) -> None:
        self.sx, self.sy = args["x"], args["y"]  # ratios of the window's size
        super().depack(args)


_MARKUP = re.compile(r"\[/?[a-z_]+(=[^\]]*)?\]")


def pump(frames: int = 2) -> None:
    for _ in range(frames):
        frame()


def frame() -> None:
    """One turn of the loop, with exceptions handled as EventLoop.mainloop handles them."""
    handled(EventLoop.idle)


_app_work_depth = 0  # > 0 while the app's own code runs: a loop turn, a touch, build or stop


def running_app_code() -> bool:
    """Whether the UI thread is running the app (not the test's own set-up or checks)."""
    return _app_work_depth > 0


def handled(work: Callable[[], object]) -> None:
    """Run `work` as the app's main loop would: an exception goes to Kivy's ExceptionManager
    (the app's guard), and only one it does not handle reaches the caller."""
    global _app_work_depth
    _app_work_depth += 1
    try:
        work()
    except BaseException as error:
        if ExceptionManager.handle_exception(error) == ExceptionManager.RAISE:
            raise
    finally:
        _app_work_depth -= 1


def pump_until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    """Run the loop until `condition()` holds (timers fire on real time), or fail clearly."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s} s: {condition}")
        frame()
        if _unthrottled:
            time.sleep(0.002)  # waiting on a worker thread: leave it the CPU
    settle()


_unthrottled = False


@contextlib.contextmanager
def unthrottled(paint: bool = False) -> Iterator[None]:
    """Frames back to back instead of at most 60 a second, and not painted unless `paint`:
    nobody watches a headless window, and thousands of touches (the crawler) would otherwise
    spend most of their time sleeping and filling pixels. Layout, text and touches are as
    always (text textures are made when a label changes, not when the window is painted)."""
    global _unthrottled
    saved, _unthrottled = Clock._max_fps, True
    Clock._max_fps = 0  # the one setting Kivy reads per frame; Config's maxfps is read at start only
    skip = lambda *_args: True  # noqa: E731 (a bound handler returning True stops the default one)
    if not paint:
        Window.fbind("on_draw", skip)
        Window.fbind("on_flip", skip)
    try:
        yield
    finally:
        if not paint:
            Window.funbind("on_draw", skip)
            Window.funbind("on_flip", skip)
        Clock._max_fps, _unthrottled = saved, False


def start_app(app: App) -> App:
    """Build the app into the existing window and run on_start, without entering the loop."""
    handled(app._run_prepare)  # the one private call, kept in one place
    pump(3)
    return app


def stop_app(app: App) -> None:
    for child in Window.children[:]:
        Window.remove_widget(child)
    pump(1)
    handled(lambda: app.dispatch("on_stop"))
    App._running_app = None


def plain(text: str) -> str:
    return _MARKUP.sub("", text or "")


def visible(widget: Widget) -> bool:
    node = widget
    while node is not None and node is not Window:
        if getattr(node, "opacity", 1) == 0 or getattr(node, "disabled", False):
            return False
        node = node.parent
    return True


def walk(root: Widget | None = None) -> Iterator[Widget]:
    """Every widget in the window (modal dialogs included), front-most last."""
    roots = [root] if root is not None else list(reversed(Window.children))
    for top in roots:
        yield from top.walk(restrict=True)


def find_all(id: str | None = None, text: str | None = None, contains: str | None = None,
             root: Widget | None = None) -> list[Widget]:
    found = []
    for widget in walk(root):
        if id is not None:
            named = [child.__self__ for name, child in widget.ids.items() if name == id]
            found += [w for w in named if w not in found]
            continue
        label = plain(getattr(widget, "text", "") or "")
        if (text is not None and label.strip() == text) or (contains is not None and contains in label):
            found.append(widget)
    return [widget for widget in found if _attached(widget)]


def _attached(widget: Widget) -> bool:
    node = widget
    while node.parent is not None and node.parent is not node:
        node = node.parent
    return node is Window


def find(id: str | None = None, text: str | None = None, contains: str | None = None,
         root: Widget | None = None) -> Widget:
    matches = [w for w in find_all(id=id, text=text, contains=contains, root=root) if visible(w)]
    if not matches:
        shown = sorted({plain(getattr(w, "text", "")) for w in walk() if getattr(w, "text", "")})
        raise LookupError(f"no visible widget with id={id!r} text={text!r} contains={contains!r}; on screen: {shown}")
    return matches[-1]


def tap(widget: Widget, frames: int = 2, wait_release: bool = True) -> None:
    """Press and release at the widget's centre, as a finger would. With `wait_release` False the
    next tap waits instead, and only if it touches this same button again (the crawler)."""
    settle()
    if not visible(widget):
        raise AssertionError(f"cannot tap {widget!r}: it is hidden or disabled")
    _wait_released(widget)
    x, y = widget.to_window(*widget.center)
    tap_at(x, y, frames)
    if wait_release:
        _wait_released(widget)


def _wait_released(widget: Widget) -> None:
    # A button shows "pressed" for a minimum time after a quick tap, and refuses a second press
    # meanwhile (KioskButton): a finger is not back that soon, so neither is the next tap.
    deadline = time.monotonic() + 1.0
    while getattr(widget, "state", "normal") == "down" and time.monotonic() < deadline:
        frame()


def settle(limit: int = 10) -> None:
    """Finish screen changes in progress: until then the previous screen still takes touches."""
    for _ in range(limit):
        managers = [w for w in walk() if isinstance(w, ScreenManager)]
        if not any(manager.transition.is_active for manager in managers):
            return
        pump(1)


def tap_at(x: float, y: float, frames: int = 2) -> None:
    settle()
    touch = FingerTouch(x, y)
    handled(touch.touch_down)  # a test touch is dispatched at once, not from the loop's input queue
    pump(1)
    handled(touch.touch_up)
    pump(frames)


def staff_gesture(advance_clock: Callable[[float], None]) -> None:
    """Hold the top-left corner, then touch the other corners clockwise (kiosk.staff.gesture);
    `advance_clock` moves the app's clock past the hold instead of waiting for it."""
    from kiosk.staff.gesture import HOLD_S

    width, height = Window.width, Window.height
    hold = FingerTouch(2, height - 2)
    handled(hold.touch_down)
    pump(1)
    advance_clock(HOLD_S + 0.2)
    handled(hold.touch_up)
    pump(1)
    for x, y in ((width - 2, height - 2), (width - 2, 2), (2, 2)):
        tap_at(x, y)


def touch_targets(root: Widget | None = None) -> list[Widget]:
    return [w for w in walk(root) if isinstance(w, ButtonBehavior) and visible(w)]


def screenshot(path: Path) -> Path:
    """Write exactly `path` (Window.screenshot adds a counter to the name; undo that)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pump(2)
    written = Path(Window.screenshot(name=str(path)))  # Kivy inserts a counter before the suffix
    written.replace(path)
    return path

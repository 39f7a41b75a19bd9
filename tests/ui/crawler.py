"""The crawler: walks the whole kiosk by touch, from the catalog, and checks every view it reaches.

For each mode (Spanish and English, each at normal text and at the largest text with high
contrast) it touches its way, through kiosk.ui.uidriver, to every menu of the navigation tree, every
procedure page and each of its pages, and through every action a page offers, as far as the
screen before money would be taken: the printed sheet, the account and its bill, the typed name
and the request's bill. It also searches, calls for help and lets the idle prompt come up.

After every touch it checks what is on screen (`Invariants`):

- no uncaught error: the UI guard caught nothing and nothing was logged at ERROR;
- every visible text inside its area: the screens' between the fixed top and bottom bars, the
  bars' inside their bar, a dialog's inside the window (titles included);
- a way forward or back: an enabled button the citizen can reach (the attract screen is one);
- every enabled button at least 20 mm wide and tall on the configured panel.

To stay fast it visits each menu and each procedure page once per mode, returns with "Atrás"
rather than starting again, keeps one app for all modes, and lets frames run back to back.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kivy.core.window import Window
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView

from kiosk.catalog.navtree import NavNode
from kiosk.core.theme import MIN_TARGET_MM
from kiosk.shell.navigation import HOME

# Accounts the sandbox API knows (kiosk/sandbox/payments.py); other kinds get its plain refusal.
SAMPLE_ACCOUNTS = {"clave_catastral": "001-002-003-0001", "numero_contrato_agua": "AGU-100234"}
UNKNOWN_KIND_ACCOUNT = "A-1"
TYPED_NAME = "ANA LOPEZ"
TYPED_CURP = "LOPA800101MPLPRN09"  # shaped like a CURP, belongs to nobody
SEARCH_FOUND, SEARCH_NOT_FOUND = "ACTA", "XQZW"
TOLERANCE_PX = 1.5
WAIT_S = 20.0


@dataclass(frozen=True)
class Mode:
    language: str
    text_step: int  # 0 normal ... 2 "Muy grande"
    high_contrast: bool

    def __str__(self) -> str:
        size = {0: "normal", 1: "grande", 2: "muy grande"}[self.text_step]
        return f"{self.language}/{size}{' alto contraste' if self.high_contrast else ''}"


MODES = (Mode("es", 0, False), Mode("en", 0, False), Mode("es", 2, True), Mode("en", 2, True))


@dataclass(frozen=True)
class Problem:
    mode: str
    view: str  # the screen, or the dialog in front
    rule: str  # uncaught_error, text_outside, no_way_on, small_target, stuck
    detail: str

    def __str__(self) -> str:
        return f"[{self.mode}] {self.view}: {self.rule}: {self.detail}"


@dataclass
class Summary:
    started: float = field(default_factory=time.monotonic)
    views: int = 0  # checks made: one after every touch
    touches: int = 0
    screens: Counter[str] = field(default_factory=Counter)
    procedures: set[str] = field(default_factory=set)
    procedure_visits: int = 0
    menus: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    modes: list[str] = field(default_factory=list)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        actions = ", ".join(f"{key} {count}" for key, count in sorted(self.actions.items())) or "none"
        return (f"crawl: {self.views} views checked on {len(self.screens)} screens and dialogs, "
                f"{self.touches} touches, {len(self.procedures)} procedures "
                f"({self.procedure_visits} page visits), {self.menus} menus, actions: {actions}, "
                f"modes: {', '.join(self.modes)}; {elapsed:.0f} s")


class ErrorRecords(logging.Handler):
    """Every record at ERROR or worse, from any logger, while the crawl runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def shown(widget) -> bool:
    """Drawn on screen: attached, and neither it nor a parent is transparent."""
    node = widget
    while node is not None and node is not Window:
        if getattr(node, "opacity", 1) == 0:
            return False
        node = node.parent
    return node is Window


def enabled(widget) -> bool:
    node = widget
    while node is not None and node is not Window:
        if getattr(node, "disabled", False):
            return False
        node = node.parent
    return True


def window_box(widget) -> tuple[float, float, float, float]:
    x, y = widget.to_window(*widget.pos)
    return x, y, x + widget.width, y + widget.height


def text_box(label: Label) -> tuple[float, float, float, float] | None:
    """Where the label's text is drawn: its texture, centred on the label (Kivy's Label rule)."""
    width, height = label.texture_size
    if not width or not height:
        return None
    cx, cy = label.to_window(label.center_x, label.center_y)
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def inside(box, area) -> bool:
    return (box[0] >= area[0] - TOLERANCE_PX and box[1] >= area[1] - TOLERANCE_PX
            and box[2] <= area[2] + TOLERANCE_PX and box[3] <= area[3] + TOLERANCE_PX)


class Invariants:
    """What must hold on every view, checked on the real widget tree."""

    def __init__(self, app) -> None:
        self.app = app
        self.errors = ErrorRecords()
        self._errors_seen = 0
        self._caught_seen = 0

    def front(self):
        """The dialog in front, or the root (screen and bars) when no dialog is open."""
        return Window.children[0]

    def view_name(self) -> str:
        front = self.front()
        if isinstance(front, ModalView):
            return getattr(front, "name", "") or "dialog"
        return self.app.root.manager.current

    @property
    def new_fault(self) -> bool:
        """The guard caught something since the last check."""
        return self.app.guard.caught > self._caught_seen

    def area_of(self, widget) -> tuple[float, float, float, float]:
        """The area a widget's text must stay inside: its dialog's window, its bar, or the
        screens' area between the bars."""
        root = self.app.root
        # kv ids are weak proxies: compare the widgets themselves
        areas = {id(proxy.__self__) for proxy in (root.ids.top_bar, root.ids.bottom_bar, root.ids.offline_banner,
                                                   root.ids.manager)}
        node = widget
        while node is not None and node is not Window:
            if isinstance(node, ModalView):
                return 0, 0, Window.width, Window.height
            if id(node) in areas:
                return window_box(node)
            node = node.parent
        return 0, 0, Window.width, Window.height

    def check(self) -> Iterator[tuple[str, str]]:
        """(rule, detail) for each thing wrong on screen now."""
        yield from self._uncaught_errors()
        front = self.front()
        # Under a dialog the screen is dimmed and out of reach; it was checked before the dialog came.
        layer = front.walk(restrict=True) if isinstance(front, ModalView) else _walk_window()
        widgets = [w for w in layer if shown(w)]
        for label in (w for w in widgets if isinstance(w, Label) and w.text.strip()):
            box, area = text_box(label), self.area_of(label)
            if box is not None and not inside(box, area):
                yield "text_outside", f"'{_short(label.text)}' at {_box_text(box)} outside {_box_text(area)}"
        targets = [w for w in widgets if isinstance(w, ButtonBehavior) and enabled(w)]
        theme = self.app.theme
        for target in targets:
            x1, y1, x2, y2 = window_box(target)
            width_mm, height_mm = theme.px_to_mm(x2 - x1), theme.px_to_mm(y2 - y1)
            if width_mm < MIN_TARGET_MM - 0.05 or height_mm < MIN_TARGET_MM - 0.05:
                yield "small_target", f"'{_short(_text_of(target))}' is {width_mm:.1f} x {height_mm:.1f} mm"
        if not self._way_on(targets):
            yield "no_way_on", "no enabled button the citizen can reach"

    def _way_on(self, targets) -> bool:
        if not isinstance(self.front(), ModalView) and self.app.root.manager.current == "attract":
            return True  # the whole attract screen is the way on
        for target in targets:
            cx, cy = target.to_window(*target.center)
            if inside((cx, cy, cx, cy), self.area_of(target)):
                return True
        return False

    def _uncaught_errors(self) -> Iterator[tuple[str, str]]:
        guard = self.app.guard
        if guard.caught > self._caught_seen:
            self._caught_seen = guard.caught
            yield "uncaught_error", f"the UI guard caught {guard.last_code}"
        new = self.errors.records[self._errors_seen:]
        self._errors_seen = len(self.errors.records)
        for record in new:
            if record.getMessage() != "ui.unexpected_error":  # said above, with its code
                fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
                yield "uncaught_error", f"{record.name} {record.getMessage()} {fields}".strip()


def _walk_window():
    for top in reversed(Window.children):
        yield from top.walk(restrict=True)


def _text_of(widget) -> str:
    return getattr(widget, "text", "") or type(widget).__name__


def _short(text: str, length: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _box_text(box) -> str:
    return "({:.0f},{:.0f})-({:.0f},{:.0f})".format(*box)


class Crawler:
    """Drives one running app (catalog shown, payments ready) through every mode."""

    def __init__(self, app, ui, clock, progress: Callable[[str], None] = lambda _line: None) -> None:
        self.app = app
        self.ctx = app.ctx
        self.ui = ui
        self.clock = clock
        self.progress = progress
        self.invariants = Invariants(app)
        self.summary = Summary()
        self.problems: dict[Problem, int] = {}
        self.mode = Mode("es", 0, False)
        self._visited_nodes: set[str] = set()
        self._visited_procedures: set[str] = set()

    # -- checking ------------------------------------------------------------------------------
    def check(self) -> None:
        view = self.invariants.view_name()
        self.summary.views += 1
        self.summary.screens[view] += 1
        for rule, detail in self.invariants.check():
            self.record(view, rule, detail)

    def record(self, view: str, rule: str, detail: str) -> None:
        problem = Problem(str(self.mode), view, rule, detail)
        self.problems[problem] = self.problems.get(problem, 0) + 1

    def tap(self, widget, until: Callable[[], bool] | None = None, timeout_s: float = WAIT_S) -> None:
        """Touch `widget`, wait for `until` (a device, the sandbox API), then check the view."""
        touched = _short(_text_of(widget))
        self.ui.tap(widget, wait_release=False)
        self.summary.touches += 1
        if until is not None:
            try:
                self.ui.pump_until(lambda: until() or self.invariants.new_fault, timeout_s=timeout_s)
            except TimeoutError:
                self.record(self.invariants.view_name(), "stuck", f"{timeout_s:.0f} s after touching '{touched}'")
        self.check()
        if self.app.dialogs["error"].parent is not None:
            self.tap(self.app.dialogs["error"].ids.error_home)  # the guard's way home; the crawl goes on

    def tap_id(self, widget_id: str, **kwargs) -> None:
        self.tap(self.ui.find(id=widget_id), **kwargs)

    # -- the walk ----------------------------------------------------------------------------
    def crawl(self, modes=MODES) -> Summary:
        # The crawler touches ten times faster than a person: the guard's "errors in a loop" window
        # counts a second per touch, so faults it reports one touch at a time read as a citizen's.
        self.app.guard.now = lambda: float(self.summary.touches)
        logging.getLogger().addHandler(self.invariants.errors)
        try:
            with self.ui.unthrottled():
                self.check()
                self.tap(self.ui.find(id="invitation"), until=lambda: self.current == HOME)
                for mode in modes:
                    self.crawl_mode(mode)
        finally:
            logging.getLogger().removeHandler(self.invariants.errors)
        return self.summary

    @property
    def current(self) -> str:
        return self.app.root.manager.current

    def crawl_mode(self, mode: Mode) -> None:
        self.enter_mode(mode)
        self.summary.modes.append(str(mode))
        self._visited_nodes, self._visited_procedures = set(), set()
        tree = self.ctx.nav_tree
        for intent in tree.children:
            self.go_to_path([intent.id])
            if intent.screen == "search":
                self.crawl_search()
            else:
                self.crawl_menu([intent.id], intent)
            self.progress(f"[{mode}] {intent.id}: {self.summary.line()}")
        self.call_for_help()
        self.let_idle_prompt_come()

    def enter_mode(self, mode: Mode) -> None:
        self.mode = mode
        if self.current != HOME:
            self.tap_id("home_button")
        while self.ctx.translator.language != mode.language:
            self.tap_id("language_button")
        self.tap_id("display_button")
        self.tap_id(("text_normal", "text_large", "text_larger")[mode.text_step])
        self.tap_id("contrast_on" if mode.high_contrast else "contrast_off")
        self.tap_id("done_button")

    # -- menus ---------------------------------------------------------------------------------
    def crawl_menu(self, path: list[str], node: NavNode) -> None:
        self._visited_nodes.add(node.id)
        self.summary.menus += 1
        for child in node.children:
            if child.procedure_id and child.procedure_id in self._visited_procedures:
                continue
            if not child.procedure_id and child.id in self._visited_nodes:
                continue
            self.go_to_path(path)
            self.open_option(child)
            if child.procedure_id:
                if self.current == "procedure":
                    self.crawl_procedure(child.procedure_id)
            elif self.current == "menu":
                self.crawl_menu([*path, child.id], child)

    def go_to_path(self, path: list[str]) -> None:
        """Be on the menu at the end of `path` (node ids from home): one "Atrás" when that is
        where it leads, else from "Inicio" down the path again."""
        if self._at(path):
            return
        if self.ctx.navigator.can_go_back:
            self.tap_id("back_button")
            if self._at(path):
                return
        if self.current != HOME:
            self.tap_id("home_button")
        for depth in range(len(path)):
            self.open_option(self._node(path[: depth + 1]))

    def _at(self, path: list[str]) -> bool:
        place = self.ctx.navigator.current
        if path and path[-1] == "search":
            return place.screen == "search"
        return place.screen == "menu" and place.params.get("node") == path[-1] if path else place.screen == HOME

    def _node(self, path: list[str]) -> NavNode:
        node = self.ctx.nav_tree
        for node_id in path:
            node = next(child for child in node.children if child.id == node_id)
        return node

    def open_option(self, node: NavNode) -> None:
        """Touch the choice for `node` on the home or menu screen shown now, turning pages to it."""
        screen = self.app.screens[self.current]
        while True:
            for button in screen.ids.options.children:
                if getattr(button, "node_id", None) == node.id:
                    self.tap(button)
                    return
            pager = screen.ids.get("pager")
            if pager is None or pager.page >= pager.count - 1:
                raise LookupError(f"[{self.mode}] no choice for {node.id!r} on {self.current}")
            self.tap(pager.ids.next_page)

    # -- a procedure ---------------------------------------------------------------------------
    def crawl_procedure(self, procedure_id: str) -> None:
        self._visited_procedures.add(procedure_id)
        self.summary.procedures.add(procedure_id)
        self.summary.procedure_visits += 1
        screen = self.app.screens["procedure"]
        while screen.page < len(screen.pages) - 1:
            self.tap(screen.ids.pager.ids.next_page)
        for key in [button.action_key for button in reversed(screen.ids.actions.children)]:
            if self.current != "procedure" or self.ctx.navigator.current.params.get("procedure") != procedure_id:
                return  # an action went wrong and the guard took the citizen home: on to the next one
            button = next(b for b in screen.ids.actions.children if b.action_key == key)
            self.summary.actions[key] += 1
            getattr(self, f"act_{key}")(button)
        if len(self._visited_procedures) % 500 == 0:
            self.progress(f"[{self.mode}] {len(self._visited_procedures)} procedures: {self.summary.line()}")

    def back_to_procedure(self) -> None:
        while self.current != "procedure" and self.ctx.navigator.can_go_back:
            self.tap_id("back_button")

    def act_print(self, button) -> None:
        dialog = self.app.dialogs["print"]
        self.tap(button, until=lambda: dialog.done)
        if dialog.parent is not None:
            self.tap(dialog.ids.print_done)

    def act_pay(self, button) -> None:
        self.tap(button)
        if self.current != "account":
            return
        account = self.app.screens["account"]
        wanted = SAMPLE_ACCOUNTS.get(self.ctx.payments.account_kind, UNKNOWN_KIND_ACCOUNT)
        if account.reference != wanted:
            while account.reference:
                self.tap(account.ids.keyboard.ids.erase_key)
            self.type_on(account.ids.keyboard, wanted)
        self.tap(account.ids.continue_button, until=lambda: self.current == "bill" or not account.busy)
        self.back_to_procedure()

    def act_request(self, button) -> None:
        self.tap(button)
        if self.current != "identify":
            return
        identify = self.app.screens["identify"]
        if not identify.typing:
            self.tap(identify.ids.type_data)
        if not identify.name_text:
            self.tap(identify.ids.name_box)
            self.type_on(identify.ids.keyboard, TYPED_NAME)
            self.tap(identify.ids.curp_box)
            self.type_on(identify.ids.keyboard, TYPED_CURP)
        self.tap(identify.ids.identify_continue, until=lambda: self.current != "identify")
        self.back_to_procedure()

    def type_on(self, keyboard, text: str) -> None:
        for character in text:
            key = next(k for k in keyboard.walk(restrict=True)
                       if getattr(k, "key", None) == character and shown(k))
            self.tap(key)

    # -- search, help, idle --------------------------------------------------------------------
    def crawl_search(self) -> None:
        screen = self.app.screens["search"]
        keyboard = screen.ids.keyboard
        while screen.query:
            self.tap(keyboard.ids.erase_key)
        self.type_on(keyboard, SEARCH_NOT_FOUND)
        while screen.query:
            self.tap(keyboard.ids.erase_key)
        self.type_on(keyboard, SEARCH_FOUND)
        results = list(reversed(screen.ids.results.children))
        if results:
            self.tap(results[0])
            self.tap_id("back_button")

    def call_for_help(self) -> None:
        if self.current != HOME:
            self.tap_id("home_button")
        self.tap_id("help_button")
        self.tap(self.app.dialogs["help"].ids.cancel_button)

    def let_idle_prompt_come(self) -> None:
        prompt = self.app.dialogs["idle"]
        self.clock.advance(self.ctx.config.kiosk.idle_timeout_s + 1)
        self.ui.pump_until(lambda: prompt.parent is not None)
        self.check()
        self.tap(prompt.ids.continue_button)

"""Widgets and bindings every screen shares; no business logic.

- `tr`: live translation for kv (`text: tr._("Pagar")` updates when the language switches).
- `KioskButton`: a large touch target drawn in theme colours; `role` picks the colour pair.
- `OptionButton`: a main choice with a title and a subtitle.
- `KioskScreen`: base screen; receives the app context, shows a Place, clears itself on wipe.
- `KioskDialog`: base modal dialog.
- `KioskRoot`: top bar (title, language) and bottom bar (back, home, help) at fixed places
  around the screen manager, so help is in the same spot on every screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.lang import Builder, Observable
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import Screen, ScreenManager

from kiosk.core.i18n import Translator


class LiveTranslation(Observable):
    """kv bindings on `tr._(...)` are re-evaluated when the translator switches language."""

    def __init__(self) -> None:
        super().__init__()
        self._translator = Translator()
        self._observers: list[tuple[Callable, Any, dict]] = []

    def attach(self, translator: Translator) -> None:
        self._translator = translator
        translator.add_listener(lambda _language: self._refresh())

    def _(self, message: str) -> str:
        return self._translator.gettext(message)

    # The kv builder passes the bound arguments as one tuple (see research §1.5).
    def fbind(self, name: str, func: Callable, args: Any = (), **kwargs: Any) -> Any:
        if name == "_":
            self._observers.append((func, args, kwargs))
            return None
        return super().fbind(name, func, *args, **kwargs)

    def funbind(self, name: str, func: Callable, args: Any = (), **kwargs: Any) -> Any:
        if name == "_":
            key = (func, args, kwargs)
            if key in self._observers:
                self._observers.remove(key)
            return None
        return super().funbind(name, func, *args, **kwargs)

    def _refresh(self) -> None:
        alive = []
        for func, args, kwargs in self._observers:
            try:
                func(args, None, None)
            except ReferenceError:  # the widget was collected; drop its binding
                continue
            alive.append((func, args, kwargs))
        self._observers = alive


tr = LiveTranslation()


def load_kv(module_file: str) -> None:
    """Load the .kv next to a screen module, once per process (rules are global).

    The shared rules in common.kv go first; they cannot load while this module is still being
    imported because they import `tr` from it.
    """
    for path in dict.fromkeys((str(Path(__file__).with_suffix(".kv")), str(Path(module_file).with_suffix(".kv")))):
        if path not in Builder.files:
            Builder.load_file(path)


class KioskButton(ButtonBehavior, Label):
    role = StringProperty("primary")
    """primary, secondary or help: which theme colour pair draws this button."""
    speak = StringProperty("")
    """What audio guidance says for this control, when it differs from its text."""

    def on_touch_down(self, touch: Any) -> bool:
        # A second finger on a pressed button must not press it again (kivy#5609): one press,
        # one action, even when an elderly hand rests two fingers on the glass.
        if self.state == "down" and self.collide_point(*touch.pos):
            return True
        return super().on_touch_down(touch)


class OptionButton(ButtonBehavior, BoxLayout):
    """A main choice: a bold title and a plain subtitle saying what is behind it."""

    text = StringProperty("")
    subtitle = StringProperty("")
    speak = StringProperty("")

    def on_touch_down(self, touch: Any) -> bool:
        if self.state == "down" and self.collide_point(*touch.pos):
            return True  # see KioskButton: one press per button, however many fingers
        return super().on_touch_down(touch)


class Section(BoxLayout):
    """A part of a screen that can be folded away. Folded, it takes no room, draws nothing and
    lets touches through (a disabled widget would swallow them where its children overflow)."""

    shown = BooleanProperty(True)

    def _pass(self, touch: Any, event: str) -> bool:
        return super().on_touch_down(touch) if event == "down" else (
            super().on_touch_move(touch) if event == "move" else super().on_touch_up(touch))

    def on_touch_down(self, touch: Any) -> bool:
        return self._pass(touch, "down") if self.shown else False

    def on_touch_move(self, touch: Any) -> bool:
        return self._pass(touch, "move") if self.shown else False

    def on_touch_up(self, touch: Any) -> bool:
        return self._pass(touch, "up") if self.shown else False


class Pager(BoxLayout):
    """Large "Anterior" / "Siguiente" buttons with "Página n de m": long content is paged,
    never put in a small scroll area. Emits on_turn(page) when the page changes."""

    page = NumericProperty(0)
    count = NumericProperty(1)
    __events__ = ("on_turn",)

    def turn(self, step: int) -> None:
        page = max(0, min(self.count - 1, self.page + step))
        if page != self.page:
            self.page = page
            self.dispatch("on_turn", page)

    def on_turn(self, page: int) -> None:
        """The owning screen shows the page."""


def text_height(text: str, font_size: float, width: float, bold: bool = False) -> float:
    """Rendered height of wrapped text, for cutting content into pages that fit."""
    # render() only lays the text out; refresh() would also make a GL texture, and uploading
    # one can wait for the previous frame to finish drawing.
    label = CoreLabel(text=text, font_size=font_size, bold=bold, text_size=(width, None))
    return float(label.render()[1])


def paginate(heights: list[float], available: float, spacing: float) -> list[list[int]]:
    """Indexes of items per page, filling each page up to `available` height."""
    pages: list[list[int]] = [[]]
    used = 0.0
    for index, height in enumerate(heights):
        if pages[-1] and used + height > available:
            pages.append([])
            used = 0.0
        pages[-1].append(index)
        used += height + spacing
    return pages


class KioskScreen(Screen):
    """A view of one Place. Subclasses override show() and reset(); they hold no logic."""

    ctx = ObjectProperty(None, rebind=True)
    title = StringProperty("")
    chrome = BooleanProperty(True)
    """Whether the top and bottom bars are shown (the attract screen hides them)."""

    def show(self, params: Mapping[str, Any]) -> None:
        """Fill the view for this visit; params come from the navigator's Place."""

    def reset(self) -> None:
        """Forget everything shown to the last citizen."""

    def warm_up(self) -> None:
        """Build costly parts ahead of the first visit (called once, soon after start)."""
        if self.manager is not None and self.manager.current_screen is not self:
            # A screen the manager is not showing keeps its own size (100 x 100 at first): laid
            # out at that size, its keyboard and texts would be built for the wrong width and
            # built again on the first visit.
            self.pos, self.size = self.manager.pos, self.manager.size
            self.do_layout()  # now, before the children's own layouts run at their first size
        keyboard = self.ids.get("keyboard")
        if keyboard is not None:
            keyboard.build_for(self.manager.width if self.manager else self.width)

    def on_pre_enter(self, *_args: Any) -> None:
        self.warm_up()  # if the warm-up has not run yet, the first visit builds it


class KioskDialog(ModalView):
    ctx = ObjectProperty(None, rebind=True)
    name = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("auto_dismiss", False)
        super().__init__(**kwargs)
        self._anim_duration = 0  # dialogs appear and go at once; no fade to wait through


def spoken_text(view: Any) -> str:
    """What audio guidance says for a screen or dialog: its texts in reading order, buttons
    included (their `speak` text when they have one). Masked fields are skipped."""
    parts: list[str] = []
    skip: set[int] = set()
    for widget in view.walk(restrict=True):
        if id(widget) in skip or getattr(widget, "opacity", 1) == 0 or getattr(widget, "masked", False):
            continue
        if isinstance(widget, (KioskButton, OptionButton)):
            skip.update(id(child) for child in widget.walk(restrict=True))
            parts.append(widget.speak or " ".join(filter(None, (widget.text, getattr(widget, "subtitle", "")))))
        elif isinstance(widget, Label) and widget.text.strip():
            parts.append(widget.text)
    return ". ".join(part.strip().rstrip(".") for part in parts if part.strip()) + ("." if parts else "")


class ClippedScreenManager(ScreenManager):
    """The screens' area, clipped to itself without a stencil (see common.kv)."""


def cheap_solid_fills() -> None:
    """Sample the default texture (the plain white one behind every solid shape) with the
    nearest texel: the pixels are the same, and the software renderer fills such shapes about
    a third faster than with its default linear filtering."""
    import kivy
    from kivy.cache import Cache

    white = Cache.get("kv.texture", str(Path(kivy.kivy_shader_dir) / "default.png"))
    if white is not None:
        white.min_filter = white.mag_filter = "nearest"


def crisp_text(texture: Any) -> None:
    """Labels draw their texture at its own size on whole pixels (give or take the fraction of
    a pixel a layout adds): the nearest texel shows the glyphs exactly as rendered, where linear
    filtering smudged them by that fraction, and the software renderer fills text about a
    quarter faster (common.kv sets this on every label)."""
    if texture is not None and texture.mag_filter != "nearest":
        texture.min_filter = texture.mag_filter = "nearest"


class KioskRoot(BoxLayout):
    ctx = ObjectProperty(None, rebind=True)
    background = ColorProperty([1, 1, 1, 1])
    """The page colour. The window's clear colour paints it: a full-screen rectangle would be
    one more pass over every pixel of every frame on a software-rendered display."""
    audio_on = BooleanProperty(False)
    offline = BooleanProperty(False)
    manager = ObjectProperty(None)
    chrome = BooleanProperty(False)
    can_go_back = BooleanProperty(False)
    at_home = BooleanProperty(True)
    held = BooleanProperty(False)  # a payment holds the citizen: Atrás, Inicio and the language wait
    next_language = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        cheap_solid_fills()
        super().__init__(**kwargs)
        self.on_background(self, self.background)  # also when the theme's equals the default

    def on_background(self, _instance: Any, colour: list[float]) -> None:
        from kivy.core.window import Window

        Window.clearcolor = colour

    def on_touch_down(self, touch: Any) -> bool:
        # The bars come first: help, back and language must work whatever a screen draws.
        for bar in (self.ids.top_bar, self.ids.bottom_bar):
            if bar.collide_point(*touch.pos):
                return bar.dispatch("on_touch_down", touch)
        return super().on_touch_down(touch)


"""A large on-screen keyboard for Spanish: alphabetical order (easier than QWERTY for people
who rarely type), Ñ and accented vowels, space, erase, and on forms "Borrar todo" (one touch
instead of one per character). Keys are at least 20 mm with 5 mm gaps; the number of columns
follows the panel's width, so small panels get more rows, not smaller keys. A key holds one
character, so its height does not grow with the text size: the larger text still leaves room
for the form above it. A field that takes only some characters (a CURP) gets only those keys.

The keyboard holds no text: it emits `on_key` with the character (ERASE to remove the last one,
CLEAR_ALL to remove them all) and the screen that owns it decides what typing means.
"""

from __future__ import annotations

import math
from typing import Any

from kivy.app import App
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.theme import MIN_GAP_MM, MIN_TARGET_MM
from screens.common import KioskButton, load_kv

LETTERS = list("ABCDEFGHIJKLMNÑOPQRSTUVWXYZ")
DIGITS = list("1234567890-")
ACCENTED = list("ÁÉÍÓÚÜ")
KEY_MM = MIN_TARGET_MM + 2
CURP_KEYS = "1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # no Ñ (RENAPO writes X), no accents, no dash
ACCOUNT_KEYS = "1234567890-ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # "001-002-003-0001", "AGU-100234"
ERASE = "<erase>"  # not a character: the key that removes the last one
CLEAR_ALL = "<clear>"  # not a character: the key that empties the field
SPACE = " "


def word_width(text: str, font_size: float, bold: bool = False) -> float:
    """Rendered width of `text` on one line: for keys and buttons as wide as their words."""
    from kivy.core.text import Label as CoreLabel

    return float(CoreLabel(text=text, font_size=font_size, bold=bold).render()[0])


class KeyButton(KioskButton):
    key = StringProperty("")
    word_width = staticmethod(word_width)  # for keyboard.kv, which cannot import this module


class SpanishKeyboard(BoxLayout):
    """Letter keys in a grid sized to the panel, then a row with Espacio and Borrar (and
    "Borrar todo" first in that row when `clear_all` is on)."""

    columns_fit = NumericProperty(0)
    with_digits = BooleanProperty(False)
    """Account numbers mix digits, letters and dashes ("AGU-100234")."""
    accents = BooleanProperty(True)
    only = StringProperty("")
    """When set, exactly these keys, in this order (with_digits and accents then do not apply)."""
    clear_all = BooleanProperty(False)
    """A "Borrar todo" key, far from "Borrar" so it is not touched by mistake."""
    __events__ = ("on_key",)
    _clear_key = None

    def on_clear_all(self, _instance: Any, on: bool) -> None:
        row = self.ids.edit_row
        if on and self._clear_key is None:
            self._clear_key = Factory.ClearAllKey()
            self._clear_key.bind(on_release=self.press)
            row.add_widget(self._clear_key, index=len(row.children))
        elif not on and self._clear_key is not None:
            row.remove_widget(self._clear_key)
            self._clear_key = None

    def on_width(self, _instance: Any, width: float) -> None:
        if self.columns_fit:  # built already: follow the width (e.g. larger text); else wait
            self.build_for(width)

    def on_with_digits(self, *_args: Any) -> None:
        if self.columns_fit:
            self._build(self.columns_fit)

    def on_only(self, *_args: Any) -> None:
        if self.columns_fit:
            self._build(self.columns_fit)

    def build_for(self, screen_width: float) -> None:
        """Lay the keys out for this width (the screen's, before the keyboard has been laid out)."""
        theme = App.get_running_app().theme
        width = min(self.width, screen_width) if self.columns_fit else screen_width - 2 * theme.margin_px
        gap, key = theme.mm(MIN_GAP_MM + 1), theme.mm(KEY_MM)
        columns = max(4, min(10, math.floor((width + gap) / (key + gap))))
        if columns != self.columns_fit:
            self.columns_fit = columns
            self._build(columns)

    def _build(self, columns: int) -> None:
        grid = self.ids.letters
        grid.clear_widgets()
        grid.cols = columns
        keys = list(self.only) or (DIGITS if self.with_digits else []) + LETTERS + (ACCENTED if self.accents else [])
        for letter in keys:
            button = KeyButton(text=letter, role="secondary", key=letter)
            button.bind(on_release=self.press)
            grid.add_widget(button)

    def press(self, button: KeyButton) -> None:
        self.dispatch("on_key", button.key)

    def on_key(self, key: str) -> None:
        """Default handler; the owning screen binds its own."""


def apply_key(text: str, key: str, limit: int = 60) -> str:
    if key == ERASE:
        return text[:-1]
    if key in ("", CLEAR_ALL):
        return ""
    return (text + key)[:limit]


load_kv(__file__)

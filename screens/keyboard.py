"""A large on-screen keyboard for Spanish: alphabetical order (easier than QWERTY for people
who rarely type), Ñ and accented vowels, space, erase. Keys are at least 20 mm with 5 mm gaps;
the number of columns follows the panel's width, so small panels get more rows, not smaller keys.

The keyboard holds no text: it emits `on_key` with the character (or ERASE to remove the last
one) and the screen that owns it decides what typing means.
"""

from __future__ import annotations

import math
from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.theme import MIN_GAP_MM, MIN_TARGET_MM
from screens.common import KioskButton, load_kv

LETTERS = list("ABCDEFGHIJKLMNÑOPQRSTUVWXYZ")
DIGITS = list("1234567890-")
ACCENTED = list("ÁÉÍÓÚÜ")
ERASE = "<erase>"  # not a character: the key that removes the last one
SPACE = " "


class KeyButton(KioskButton):
    key = StringProperty("")


class SpanishKeyboard(BoxLayout):
    """Letter keys in a grid sized to the panel, then a row with Espacio and Borrar."""

    columns_fit = NumericProperty(0)
    with_digits = BooleanProperty(False)
    """Account numbers mix digits, letters and dashes ("AGU-100234")."""
    accents = BooleanProperty(True)
    __events__ = ("on_key",)

    def on_width(self, _instance: Any, width: float) -> None:
        if self.columns_fit:  # built already: follow the width (e.g. larger text); else wait
            self.build_for(width)

    def on_with_digits(self, *_args: Any) -> None:
        if self.columns_fit:
            self._build(self.columns_fit)

    def build_for(self, screen_width: float) -> None:
        """Lay the keys out for this width (the screen's, before the keyboard has been laid out)."""
        theme = App.get_running_app().theme
        width = min(self.width, screen_width) if self.columns_fit else screen_width - 2 * theme.margin_px
        gap, key = theme.mm(MIN_GAP_MM + 1), theme.mm(MIN_TARGET_MM + 2)
        columns = max(4, min(10, math.floor((width + gap) / (key + gap))))
        if columns != self.columns_fit:
            self.columns_fit = columns
            self._build(columns)

    def _build(self, columns: int) -> None:
        grid = self.ids.letters
        grid.clear_widgets()
        grid.cols = columns
        keys = (DIGITS if self.with_digits else []) + LETTERS + (ACCENTED if self.accents else [])
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
    if key == "":
        return ""
    return (text + key)[:limit]


load_kv(__file__)

"""'Ver mejor': text size in three steps and a high-contrast theme, for this citizen only."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty

from screens.common import KioskDialog, load_kv


class DisplayDialog(KioskDialog):
    text_step = NumericProperty(0)
    high_contrast = BooleanProperty(False)

    def on_open(self) -> None:
        options = self.ctx.sessions.session.accessibility
        self.text_step, self.high_contrast = options.text_step, options.high_contrast


load_kv(__file__)

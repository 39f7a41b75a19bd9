"""'¿Sigue ahí?': the countdown before the session is wiped. Any touch continues."""

from __future__ import annotations

import math

from kivy.properties import NumericProperty

from screens.common import KioskDialog, load_kv


class IdlePrompt(KioskDialog):
    seconds_left = NumericProperty(0)

    def show_seconds(self, seconds: float) -> None:
        self.seconds_left = max(math.ceil(seconds), 0)

    def on_touch_down(self, touch) -> bool:
        # Anywhere counts, inside or outside the box: the citizen is still here.
        self.ctx.sessions.touched()
        self.dismiss()
        return True

    def on_touch_up(self, touch) -> bool:
        return True


load_kv(__file__)

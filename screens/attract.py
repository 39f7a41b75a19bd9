"""Attract screen: shown while nobody uses the kiosk. The first touch only wakes it."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.common import KioskScreen, load_kv


class AttractScreen(KioskScreen):
    municipality = StringProperty("")

    def on_ctx(self, _instance, ctx) -> None:
        if ctx is not None:
            self.municipality = ctx.config.kiosk.municipality

    def on_touch_down(self, touch) -> bool:
        return True  # swallow: the touch that wakes the kiosk must not press anything

    def on_touch_up(self, touch) -> bool:
        if self.manager is not None and self.manager.current == self.name:
            self.ctx.sessions.begin()
        return True


load_kv(__file__)

"""'An attendant is coming': shown while a help request is open."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.common import KioskDialog, load_kv


class HelpDialog(KioskDialog):
    location = StringProperty("")

    def on_open(self) -> None:
        self.location = self.ctx.help.request(self.ctx.navigator.current.screen).location

    def cancel(self) -> None:
        self.ctx.help.close("cancelled")
        self.dismiss()


load_kv(__file__)

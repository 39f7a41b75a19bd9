"""'An attendant is coming': shown while a help request is open."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.common import KioskDialog, load_kv, tr


class HelpDialog(KioskDialog):
    location = StringProperty("")
    delivery = StringProperty("")

    def on_ctx(self, _instance, ctx) -> None:
        if ctx is not None:
            ctx.help.on_change(self._help_changed)

    def on_open(self) -> None:
        self.location = self.ctx.help.request(self.ctx.navigator.current.screen).location
        self._help_changed()

    def cancel(self) -> None:
        self.ctx.help.close("cancelled")
        self.dismiss()

    def _help_changed(self) -> None:
        help_desk = self.ctx.help
        if help_desk.open_request is None:
            if self.parent is not None:
                self.dismiss()  # staff answered it
            return
        self.delivery = tr._("El personal ya recibió su aviso.") if help_desk.delivered else tr._(
            "Estamos avisando al personal. Si tarda, acérquese a la ventanilla de atención.")


load_kv(__file__)

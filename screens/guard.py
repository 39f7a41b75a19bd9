"""'Algo salió mal': what the citizen sees when a screen fails (kiosk.ui_guard), with a way home.

The dialog says that staff have been called and gives the fault's code for them; when a payment
or request is recorded in this session it gives its folio too (the money is in the outbox).
"""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.common import KioskDialog, load_kv


class GuardDialog(KioskDialog):
    code = StringProperty("")
    folio = StringProperty("")

    def go_home(self) -> None:
        self.dismiss()
        self.ctx.navigator.home()


load_kv(__file__)

"""'Algo salió mal': what the citizen sees when a screen fails (kiosk.ui.ui_guard), with a way home.

The dialog says that staff have been called and gives the fault's code for them; when a payment
or request is recorded in this session it gives its folio too (the money is in the outbox). While
a payment is under way its button leads back to the payment, not home.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from screens.common import KioskDialog, load_kv


class GuardDialog(KioskDialog):
    code = StringProperty("")
    folio = StringProperty("")
    # A payment holds the screen (money may be in): the way on is back to it, where it can be
    # finished or cancelled with the money given back; 'home' would leave the money behind.
    held = BooleanProperty(False)

    def go_on(self) -> None:
        self.dismiss()
        if not self.held:
            self.ctx.navigator.home()


load_kv(__file__)

"""The staff PIN pad: staff number, then PIN, on digits shuffled at every opening.

Shuffled keys leave no smudge pattern and defeat a glance over the shoulder; the PIN shows as
dots and is never spoken. The check itself runs in the staff desk, off the UI thread.
"""

from __future__ import annotations

import random

from kivy.properties import BooleanProperty, ListProperty, StringProperty

from kiosk.core.threads import on_ui_thread
from kiosk.flows.staff_desk import locked_message
from screens.common import KioskDialog, load_kv, tr

MAX_DIGITS = 12


class StaffPinDialog(KioskDialog):
    step = StringProperty("staff_id")  # then "pin"
    staff_id = StringProperty("")
    pin_length = StringProperty("")  # dots only: the digits never reach a widget
    message = StringProperty("")
    busy = BooleanProperty(False)
    locked = BooleanProperty(False)  # no attempt is offered while locked: each would be audited
    digits = ListProperty(list("1234567890"))

    def on_open(self) -> None:
        self.step, self.staff_id, self.pin_length, self.busy, self.locked = "staff_id", "", "", False, False
        self._pin = ""
        self.digits = random.sample("1234567890", 10)
        self.message = tr._("Escriba su número de personal.")
        self.ctx.staff.lock_status(self._show_lock)

    @on_ui_thread
    def _show_lock(self, status) -> None:
        if status is not None and status.locked and self.parent is not None:
            self.locked = True
            self.message = locked_message(status.seconds_left, tr._)

    def press(self, digit: str) -> None:
        if self.busy:
            return
        if self.step == "staff_id":
            self.staff_id = (self.staff_id + digit)[:8]
        elif len(self._pin) < MAX_DIGITS:
            self._pin += digit
            self.pin_length = "●" * len(self._pin)

    def erase(self) -> None:
        if self.step == "staff_id":
            self.staff_id = self.staff_id[:-1]
        else:
            self._pin = self._pin[:-1]
            self.pin_length = "●" * len(self._pin)

    def enter(self) -> None:
        if self.busy or self.locked:
            return
        if self.step == "staff_id":
            if self.staff_id:
                self.step = "pin"
                self.message = tr._("Escriba su PIN.")
            return
        if not self._pin:
            return
        self.busy = True
        self.message = tr._("Comprobando…")
        pin, self._pin, self.pin_length = self._pin, "", ""
        self.ctx.staff.login(self.staff_id, pin, self._answered)

    @on_ui_thread
    def _answered(self, outcome) -> None:
        self.busy = False
        if outcome.ok:
            self.dismiss()
            return
        self.step, self.staff_id = "staff_id", ""
        self.digits = random.sample("1234567890", 10)
        self.message = outcome.message
        self.ctx.staff.lock_status(self._show_lock)

    def cancel(self) -> None:
        self._pin, self.pin_length = "", ""
        self.dismiss()


load_kv(__file__)

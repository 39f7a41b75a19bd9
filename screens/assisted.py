"""The strip shown while an attendant serves a citizen: who is assisting, a step back from any
screen, the way back to the attendant's panel, and finishing the visit for the citizen."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from screens.common import load_kv


class AssistedBar(BoxLayout):
    ctx = ObjectProperty(None, rebind=True)
    active = BooleanProperty(False)
    member_name = StringProperty("")

    def follow(self) -> None:
        """Show or hide with the staff desk's assisted mode."""
        member = self.ctx.staff.member
        self.active = bool(self.ctx.staff.assisted_by) and member is not None
        self.member_name = member.name if member is not None else ""

    def step_back(self) -> None:
        payments = self.ctx.payments
        if payments is not None and payments.method and payments.outcome is None:
            return  # money is moving: the payment screen's own cancel is the only way out
        self.ctx.navigator.back()


load_kv(__file__)

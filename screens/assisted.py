"""The strip shown while an attendant serves a citizen: a step back from any screen, the way
back to the attendant's panel, and finishing the visit for the citizen. Its colour marks the
assisted visit; it has no text of its own, to leave the citizen's screen as much room as it can."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.boxlayout import BoxLayout

from screens.common import load_kv


class AssistedBar(BoxLayout):
    ctx = ObjectProperty(None, rebind=True)
    active = BooleanProperty(False)
    host = ObjectProperty(None)  # the root layout whose top the strip takes while assisting

    def follow(self) -> bool:
        """Show or hide with the staff desk's assisted mode; True when that changed."""
        was_active = self.active
        self.active = bool(self.ctx.staff.assisted_by) and self.ctx.staff.member is not None
        # Out of the tree when not assisting: Kivy would still draw (and walk) a hidden strip.
        if self.active and self.parent is None:
            self.host.add_widget(self, index=len(self.host.children))
        elif not self.active and self.parent is not None:
            self.parent.remove_widget(self)
        return self.active != was_active

    def step_back(self) -> None:
        payments = self.ctx.payments
        if payments is not None and payments.method and payments.outcome is None:
            return  # money is moving: the payment screen's own cancel is the only way out
        self.ctx.navigator.back()


load_kv(__file__)

"""Resolving a transaction that waits for a person: what happened, a note, and the outcome
(the money was taken: confirm it; taken but given back: refund voucher; nothing taken)."""

from __future__ import annotations

from typing import Any

from kivy.core.window import Window
from kivy.properties import BooleanProperty, ListProperty, StringProperty

from screens.bill import pesos
from screens.common import KioskDialog, load_kv, tr
from screens.keyboard import apply_key

NOTE_LIMIT = 120


class ResolveDialog(KioskDialog):
    summary = StringProperty("")
    note = StringProperty("")
    busy = BooleanProperty(False)
    problem = StringProperty("")
    typing = BooleanProperty(False)  # the keyboard is up (instead of the outcome buttons)
    outcomes = ListProperty([])  # what the service allows for this transaction now
    voucher = BooleanProperty(False)  # a kiosk voucher waiting to be acknowledged

    def prepare(self, record: Any, on_done) -> None:
        self._record, self._on_done = record, on_done
        self.note, self.problem, self.busy, self.typing = "", "", False, False
        self.outcomes = list(record.outcomes)
        self.voucher = bool(getattr(record, "voucher", ""))
        self.ids.keyboard.build_for(Window.width * self.size_hint_x)
        self.summary = tr._("Folio {folio}: {amount}, cobrado {paid}. Motivo: {reason}").format(
            folio=record.folio, amount=pesos(record.amount_cents), paid=pesos(record.paid_cents or record.refund_cents),
            reason=self.ctx.staff.reason_text(record))

    def type_key(self, key: str) -> None:
        self.note = apply_key(self.note, key, NOTE_LIMIT)

    def choose(self, outcome: str) -> None:
        if self.busy:
            return
        if outcome not in ("nothing_taken", "acknowledge") and not self.note.strip():
            self.problem = tr._("Escriba una nota: qué revisó y qué encontró.")
            self.typing = True
            return
        self.busy, self.problem = True, tr._("Guardando…")
        self.ctx.staff.resolve(self._record, outcome, self.note.strip() or tr._("Sin cobro"), self._resolved)

    def _resolved(self, outcome) -> None:
        self.busy = False
        if not outcome.ok:
            self.problem = outcome.message
            return
        self.dismiss()
        self._on_done(outcome)


load_kv(__file__)

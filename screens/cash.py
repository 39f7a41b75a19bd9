"""The cash box: what came in since the last collection, and the collection itself (which
prints a collection receipt in two copies: one goes in the bag, one stays with the attendant)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.core.threads import on_ui_thread
from screens.bill import pesos
from screens.common import KioskDialog, load_kv, tr


class CashDialog(KioskDialog):
    totals = StringProperty("")
    result = StringProperty("")
    busy = BooleanProperty(False)

    def on_open(self) -> None:
        self.totals, self.result, self.busy = tr._("Calculando…"), "", True
        self.ctx.staff.cash_totals(self._shown)

    @on_ui_thread
    def _shown(self, outcome) -> None:
        self.busy = False
        self.totals = summary(outcome.value) if outcome.ok else outcome.message

    def collect(self) -> None:
        if self.busy:
            return
        self.busy, self.result = True, tr._("Registrando la recolección e imprimiendo…")
        self.ctx.staff.collect_cash(self._collected)

    @on_ui_thread
    def _collected(self, outcome) -> None:
        if not outcome.ok:
            self.busy, self.result = False, outcome.message
            return
        self.result = tr._("Recolección número {number} registrada. Tome los dos comprobantes.").format(
            number=outcome.value.number)
        self.ctx.staff.cash_totals(self._shown)


def summary(totals) -> str:
    """The figures an attendant counts the box against; the full breakdown (denominations,
    vouchers, change) is on the printed collection receipt."""
    lines = [tr._("Operaciones en efectivo: {count}").format(count=totals.transactions),
             tr._("Total recibido: {amount}").format(amount=pesos(totals.received_cents)),
             tr._("Vales en efectivo: {amount}").format(amount=pesos(totals.refunds_cents)),
             tr._("Esperado en caja: {amount}").format(amount=pesos(totals.expected_in_box_cents))]
    if totals.device is not None and not totals.device.matches:
        lines.append(tr._("El aceptador contó otra cantidad: revise la caja y avise a un técnico."))
    return "\n".join(lines)


load_kv(__file__)

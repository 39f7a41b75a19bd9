"""Paying, step 2: what is owed, discounts in force today, any card fee, and how to pay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty

from kiosk.catalog.navtree import text_in
from kiosk.core.threads import on_ui_thread
from kiosk.flows.procedure_page import format_cents
from screens.common import KioskScreen, load_kv, tr


def pesos(cents: int) -> str:
    return format_cents(cents)


class BillScreen(KioskScreen):
    free = BooleanProperty(False)

    def show(self, params: Mapping[str, Any]) -> None:
        flow = self.ctx.payments
        if flow is None or (flow.mode == "pay" and flow.bill is None):
            self.reset()
            return
        language = self.ctx.translator.language
        summary = flow.summary()
        if flow.mode == "request":
            self.title = text_in((flow.procedure or {}).get("name"), language)
            lines = [tr._("A nombre de: {name}").format(name=summary["person"])]
        else:
            self.title = summary["title"]
            lines = [tr._("Cuenta: {account}").format(account=summary["account"]),
                     tr._("Importe: {amount}").format(amount=pesos(summary["amount"]))]
        for discount in summary["discounts"]:
            lines.append(tr._("Descuento de {percent} % ({why}): -{amount}").format(
                percent=discount.percent, why=discount.text, amount=pesos(discount.amount_cents)))
        self.ids.details.text = "\n".join(lines)
        self.free = summary["total"] == 0
        self.ids.total.text = tr._("Sin costo") if self.free else tr._("Total a pagar hoy: {amount}").format(
            amount=pesos(summary["total"]))
        self.ids.card_fee.text = tr._("Con tarjeta se agrega una comisión de {fee}.").format(
            fee=pesos(summary["card_fee"])) if summary["card_fee"] else ""
        self._show_methods({})
        if not self.free:
            flow.methods(self._show_methods)

    @on_ui_thread
    def _show_methods(self, methods: Mapping[str, Any]) -> None:
        """A button is disabled while its note says why."""
        for method, note in (("card", self.ids.card_note), ("cash", self.ids.cash_note)):
            problem = methods.get(method)
            note.text = problem.text(self.ctx.translator.gettext) if problem is not None else ""

    def reset(self) -> None:
        self.title = ""
        self.free = False
        for name in ("details", "total", "card_fee", "card_note", "cash_note"):
            self.ids[name].text = ""

    def choose(self, method: str) -> None:
        self.ctx.navigator.go("paying", method=method)


load_kv(__file__)

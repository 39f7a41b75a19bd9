"""Paying, step 2: what is owed, discounts in force today, any card fee, and how to pay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.procedure_page import format_money
from screens.common import KioskScreen, load_kv, tr


def pesos(cents: int) -> str:
    return format_money(f"{cents / 100:.2f}")


class BillScreen(KioskScreen):
    def show(self, params: Mapping[str, Any]) -> None:
        flow = self.ctx.payments
        bill = flow.bill
        if bill is None:
            self.reset()
            return
        language = self.ctx.translator.language
        self.title = bill.concept
        lines = [tr._("Cuenta: {account}").format(account=bill.account_ref),
                 tr._("Importe: {amount}").format(amount=pesos(bill.amount_cents))]
        for discount in bill.discounts:
            lines.append(tr._("Descuento de {percent} % ({why}): -{amount}").format(
                percent=discount.percent, why=discount.text, amount=pesos(discount.amount_cents)))
        self.ids.details.text = "\n".join(lines)
        self.ids.total.text = tr._("Total a pagar hoy: {amount}").format(amount=pesos(bill.total_cents))
        self.ids.card_fee.text = tr._("Con tarjeta se agrega una comisión de {fee}.").format(
            fee=pesos(bill.card_fee_cents)) if bill.card_fee_cents else ""
        methods = flow.methods()
        for method, button, note in (("card", self.ids.pay_card, self.ids.card_note),
                                     ("cash", self.ids.pay_cash, self.ids.cash_note)):
            problem = methods[method]
            button.disabled = problem is not None
            note.text = problem.text(language) if problem is not None else ""

    def reset(self) -> None:
        self.title = ""
        for name in ("details", "total", "card_fee", "card_note", "cash_note"):
            self.ids[name].text = ""

    def choose(self, method: str) -> None:
        self.ctx.navigator.go("paying", method=method)


load_kv(__file__)

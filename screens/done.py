"""Paying, step 4: the outcome in plain words, the folio, and the printed receipt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.properties import BooleanProperty

from devices.contract import reason
from kiosk.core.i18n import Translator
from kiosk.flows.procedure_page import PageWriter
from screens.bill import pesos
from screens.common import KioskScreen, load_kv, tr


class DoneScreen(KioskScreen):
    paid = BooleanProperty(False)
    can_retry = BooleanProperty(False)  # nothing was taken (or it all went back): another way to pay

    def show(self, params: Mapping[str, Any]) -> None:
        flow = self.ctx.payments
        outcome = flow.outcome
        self.paid = bool(outcome and outcome.ok)
        self.can_retry = False
        if self.paid:
            self._paid(outcome, flow)
        elif outcome is not None and outcome.needs_person:
            self._person_will_help(outcome, flow)
        elif outcome is not None and outcome.reason in ("cash.returned", "cash.refund_voucher"):
            self._given_back(outcome, flow)
            self.can_retry = True  # the money went back (or is on the voucher in their hand): they may pay again
        else:
            self._not_paid(outcome)
            self.can_retry = True
        self.ctx.speaker.say("\n".join(filter(None, (self.title, self.ids.summary.text))))

    def _paid(self, outcome, flow) -> None:
        self.title = tr._("Solicitud registrada") if flow.mode == "request" else tr._("Pago registrado")
        lines = [tr._("Folio: {folio}\nImporte: {amount}").format(folio=flow.folio,
                                                                   amount=pesos(flow.transaction.amount_cents))]
        change, owed = int(outcome.extra.get("change_paid_cents", 0)), int(outcome.extra.get("change_owed_cents", 0))
        if change:
            lines.append(tr._("Su cambio: {amount}. Tómelo de la bandeja de monedas.").format(amount=pesos(change)))
        if owed:
            lines.append(tr._("El cajero no pudo darle {amount} de cambio: tome su vale {voucher} (saldo a favor). "
                              "Una persona le atenderá.").format(amount=pesos(owed), voucher=outcome.extra["voucher"]))
            self.ctx.help.request(self.ctx.navigator.current.screen)
        self.ids.summary.text = "\n".join(lines)
        if flow.mode == "request":
            # The receipt's QR should be the certificate's download link, which exists once
            # the API has issued it; offline it stays the signed provisional receipt.
            self.ids.receipt.text = tr._("Emitiendo su documento…")
            flow.when_issued(self._print)
        else:
            self.ids.receipt.text = tr._("Imprimiendo su recibo…")
            flow.print_receipt(self._printed)

    def _given_back(self, outcome, flow) -> None:
        """Cancelled with money in: what the hoppers handed back, and the voucher for the rest."""
        self.title = tr._("Pago cancelado")
        returned, owed = int(outcome.extra.get("returned_cents", 0)), int(outcome.extra.get("owed_cents", 0))
        lines = [tr._("No se cobró nada.")]
        if returned:
            lines.append(tr._("Tome su dinero de la bandeja: {amount}.").format(amount=pesos(returned)))
        if owed:
            lines.append(tr._("Por {amount} tome su vale {voucher} (saldo a favor); una persona le atenderá.").format(
                amount=pesos(owed), voucher=outcome.extra.get("voucher", "")))
            lines.append(tr._("Conserve este folio: {folio}").format(folio=flow.folio))
            self.ctx.help.request(self.ctx.navigator.current.screen)
        self.ids.summary.text = "\n".join(lines)
        self.ids.receipt.text = ""

    def _not_paid(self, outcome) -> None:
        self.title = tr._("El pago no se realizó")
        if outcome is not None and outcome.reason == "cash.cancelled":
            message = tr._("Usted canceló el pago. No se le cobró nada.")
        elif outcome is not None and outcome.reason == "payment.declined":
            message = tr._("Su tarjeta fue rechazada. No se le cobró nada. Puede pagar con otra tarjeta o en "
                           "efectivo.")
        elif outcome is not None and outcome.message:
            message = outcome.text(self.ctx.translator.gettext)
        else:
            message = tr._("No se completó el pago. No se le cobró nada.")
        self.ids.summary.text = message
        self.ids.receipt.text = ""

    def _person_will_help(self, outcome, flow) -> None:
        """Money was (or may have been) taken and a person must finish: the truth, the folio and
        a help call, never "not charged" and never a way to pay again."""
        self.title = tr._("Una persona le atenderá")
        if outcome.reason.startswith("card."):
            message = tr._("No pudimos confirmar si se cobró su tarjeta. Una persona lo revisará con usted.")
        else:
            paid = int(outcome.extra.get("paid_cents", 0))
            message = tr._("Su dinero ({paid}) quedó en el cajero. Una persona terminará su trámite con usted.").format(
                paid=pesos(paid)) if paid else tr._("Su pago quedó en el cajero. Una persona terminará su trámite "
                                                    "con usted.")
        self.ids.summary.text = message + "\n" + tr._("Conserve este folio: {folio}").format(folio=flow.folio)
        self.ids.receipt.text = tr._("Imprimiendo un papel con su folio…")
        flow.print_slip()
        self.ctx.help.request(self.ctx.navigator.current.screen)

    def _print(self, issued: bool = False) -> None:
        """A request issued (or still on its way): the screen and the receipt say where and when the
        document is obtained; the receipt in Spanish, the screen in the citizen's language."""
        flow = self.ctx.payments
        shown = flow.obtain_lines(PageWriter(self.ctx.translator), issued)
        if shown:
            self.ids.summary.text += "\n" + "\n".join(shown)
        printed = tuple(flow.obtain_lines(PageWriter(Translator("es")), issued))
        self.ids.receipt.text = tr._("Imprimiendo su recibo…")
        flow.print_receipt(self._printed, printed)

    def _printed(self, ok: bool, code: str) -> None:
        if ok:
            self.ids.receipt.text = tr._("Tome su recibo. Gracias.")
            return
        problem = reason(code).text(self.ctx.translator.gettext)
        self.ids.receipt.text = tr._("Su pago quedó registrado con el folio {folio}, pero el recibo no se pudo "
                                     "imprimir: {problem} Toque «Ayuda» y una persona le dará su recibo.").format(
            folio=self.ctx.payments.folio, problem=problem)

    def reset(self) -> None:
        self.title = ""
        self.paid = False
        self.can_retry = False
        self.ids.summary.text = ""
        self.ids.receipt.text = ""


load_kv(__file__)

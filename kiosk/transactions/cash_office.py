"""The cash office: cash totals since the last collection, and recording a collection.

A period is everything after the previous collection's high-water marks (credit and voucher
ids, which never go back), so no credit is counted in two periods and none is skipped, whatever
the clock does. `collect_cash` reads, summarises and records the period in one commit
(`Outbox.record_collection`); an empty period records nothing (a double tap is refused with
"cash.nothing_to_collect"). Then the collection receipt is printed twice (collector, treasury)
with a QR signed by the kiosk's receipt key.

What the totals say:
- received: the sum of the credits, by denomination (coin or bill and value), and the number of
  cash transactions they belong to;
- change due (what the receipts promised back; this kiosk has no payout yet, so change paid by
  the machine is 0 unless a payment records `change_paid_cents`);
- refund vouchers issued in the period; cash ones are money in the box that belongs to citizens;
- expected in the box = received - change paid by the machine;
- net for the treasury = received - change due - cash refund vouchers (it can be negative when a
  voucher refunds cash collected in an earlier period);
- a cross-check against the acceptor's own counter when the adapter exposes one: money counted
  by the device since this process started against the credits recorded since then. A mismatch
  means coins or bills went into the box without being recorded (or the reverse): check the box.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from devices.printer import InfoSheet, format_pesos
from kiosk.core.logs import event
from kiosk.transactions.attendant import audit, check_staff, clean_note, refuse
from kiosk.transactions.documents import Printed, ignore, print_copies, refused, run_print
from kiosk.transactions.errors import Refused
from kiosk.transactions.receipts import COLLECTION_PREFIX, sign_document
from offline_cache.outbox import CashLedger, CollectionRecord, StorageError

log = logging.getLogger("kiosk.transactions")


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class Denomination:
    kind: str  # "coin", "bill", or "" (credits recorded before the kind was kept)
    cents: int
    count: int

    @property
    def total_cents(self) -> int:
        return self.cents * self.count


@dataclass(frozen=True)
class VoucherLine:
    number: str
    folio: str
    method: str
    amount_cents: int
    purpose: str = "refund"  # "change": a paid transaction's change the hoppers could not give


@dataclass(frozen=True)
class DeviceCheck:
    """The acceptor's own count against the outbox since `since` (this process's start)."""

    since: float
    device_cents: int
    recorded_cents: int

    @property
    def matches(self) -> bool:
        return self.device_cents == self.recorded_cents


@dataclass(frozen=True)
class CashTotals:
    since_collection: int  # the collection this period starts after (0: none yet)
    period_start: float | None  # that collection's time, else the first record's; None: nothing yet
    period_end: float
    transactions: int  # cash transactions with money in this period
    received_cents: int
    denominations: tuple[Denomination, ...]
    change_due_cents: int
    change_paid_cents: int
    vouchers: tuple[VoucherLine, ...]
    device: DeviceCheck | None = None
    returned_cents: int = 0  # cash of cancelled payments the hoppers handed back

    @property
    def refunds_cents(self) -> int:
        """Cash refund vouchers: money in the box that goes back to citizens."""
        return sum(v.amount_cents for v in self.vouchers if v.method == "cash" and v.purpose == "refund")

    @property
    def card_refunds_cents(self) -> int:
        return sum(v.amount_cents for v in self.vouchers if v.method != "cash")

    @property
    def change_owed_cents(self) -> int:
        """Change promised and not paid by the machine (on the citizens' vouchers)."""
        return max(0, self.change_due_cents - self.change_paid_cents)

    @property
    def expected_in_box_cents(self) -> int:
        return self.received_cents - self.change_paid_cents - self.returned_cents

    @property
    def net_cents(self) -> int:
        return self.received_cents - self.change_due_cents - self.refunds_cents - self.returned_cents

    @property
    def empty(self) -> bool:
        return not self.received_cents and not self.vouchers

    def describe(self, translate: Callable[[str], str] = _identity) -> str:
        """The totals as text for a screen: one heading per section, its lines indented."""
        return "\n".join(f"{heading}\n" + "\n".join(f"  {line}" for line in lines)
                         for heading, lines in totals_sections(self, translate))

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values.update(refunds_cents=self.refunds_cents, card_refunds_cents=self.card_refunds_cents,
                      change_owed_cents=self.change_owed_cents, expected_in_box_cents=self.expected_in_box_cents,
                      net_cents=self.net_cents)
        if self.device is not None:
            values["device"]["matches"] = self.device.matches
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CashTotals:
        device = values.get("device")
        return cls(int(values["since_collection"]), values["period_start"], float(values["period_end"]),
                   int(values["transactions"]), int(values["received_cents"]),
                   tuple(Denomination(d["kind"], int(d["cents"]), int(d["count"])) for d in values["denominations"]),
                   int(values["change_due_cents"]), int(values["change_paid_cents"]),
                   tuple(VoucherLine(v["number"], v["folio"], v["method"], int(v["amount_cents"]),
                                     str(v.get("purpose", "refund"))) for v in values["vouchers"]),
                   DeviceCheck(float(device["since"]), int(device["device_cents"]), int(device["recorded_cents"]))
                   if device else None, int(values.get("returned_cents", 0)))


@dataclass(frozen=True)
class Collection:
    number: int  # sequential per kiosk
    at: float
    attendant: str
    note: str
    totals: CashTotals

    @classmethod
    def from_record(cls, record: CollectionRecord) -> Collection:
        return cls(record.number, record.at, record.attendant, record.note, CashTotals.from_dict(record.totals))


def summarize(ledger: CashLedger, now: float, device: DeviceCheck | None = None) -> CashTotals:
    """The totals of one period (pure: the ledger is a snapshot read in one transaction)."""
    counts = Counter((credit.kind, credit.cents) for credit in ledger.credits)
    largest_first = sorted(counts.items(), key=lambda item: (-item[0][1], item[0][0]))
    denominations = tuple(Denomination(kind, cents, count) for (kind, cents), count in largest_first)
    change_due = change_paid = returned = 0
    for payment in ledger.payments.values():
        # A payment's change belongs to the period of its last credit; a refunded payment's cash
        # all goes back on the voucher, so its change is not owed as well.
        if not ledger.credit_mark < (payment["last_credit_id"] or 0) <= ledger.credit_end:
            continue
        returned += max(0, int(payment.get("returned_cents", 0)))
        if payment["refunded"]:
            continue
        change_due += max(0, int(payment.get("change_due_cents", 0)))
        change_paid += max(0, int(payment.get("change_paid_cents", 0)))
    if ledger.since_collection:
        start = ledger.since_at
    else:
        times = [c.at for c in ledger.credits] + [v.at for v in ledger.vouchers]
        start = min(times) if times else None
    vouchers = tuple(VoucherLine(v.number, v.folio, v.method, v.amount_cents, v.purpose) for v in ledger.vouchers)
    return CashTotals(ledger.since_collection, start, now, len({c.seq for c in ledger.credits}),
                      sum(c.cents for c in ledger.credits), denominations, change_due, change_paid, vouchers, device,
                      returned)


def device_counter(cash: Any) -> int | None:
    """The acceptor's own running total in cents, when the adapter exposes one (no I/O)."""
    if cash is None:
        return None
    diagnostics: dict[str, Any] = {}
    with suppress(Exception):  # diagnostics are best effort; a broken one must not stop the totals
        diagnostics = dict(cash.diagnostics())
    value = diagnostics.get("total_cents", getattr(cash, "total_cents", None))
    return value if isinstance(value, int) else None


class CashOffice:
    def __init__(self, service: Any):
        self.service = service
        self._baseline: tuple[float, int, int] | None = None  # (time, credit id, device cents)
        with suppress(StorageError):
            self.baseline()

    @property
    def outbox(self) -> Any:
        return self.service.outbox

    def baseline(self) -> tuple[float, int, int] | None:
        """Where the device cross-check starts: the acceptor's counter and the outbox's credits,
        read together once (the acceptor's counter lives in memory and starts with the process)."""
        if self._baseline is None:
            device = device_counter(self.service._device("cash"))
            if device is None:
                return None
            mark, _ = self.outbox.credits_after(0)
            self._baseline = (self.outbox.clock(), mark, device)
        return self._baseline

    def rebase(self) -> None:
        """Start the cross-check again: a restart recorded credits the acceptor took before this
        process counted anything."""
        self._baseline = None
        self.baseline()

    def device_check(self) -> DeviceCheck | None:
        baseline = self.baseline()
        device = device_counter(self.service._device("cash"))
        if baseline is None or device is None:
            return None
        since, mark, device_start = baseline
        _, recorded = self.outbox.credits_after(mark)
        return DeviceCheck(since, device - device_start, recorded)

    def totals(self) -> CashTotals:
        device = self.device_check()
        return summarize(self.outbox.cash_ledger(), self.outbox.clock(), device)

    def collect(self, attendant: str, note: str = "", on_printed: Callable[[Printed], None] = ignore) -> Collection:
        staff = check_staff(attendant)
        text = clean_note(note, required=False)
        device = self.device_check()
        now = self.outbox.clock()
        try:
            record = self.outbox.record_collection(
                staff, text, lambda ledger: summarize(ledger, now, device).to_dict())
        except StorageError as error:
            event(log, "cash.storage_failed", level=logging.ERROR, code=error.code)
            raise Refused(error.code, error.message, str(error)) from None
        if record is None:
            raise refuse("cash.nothing_to_collect")
        collection = Collection.from_record(record)
        totals = collection.totals
        event(log, "cash.collected", number=collection.number, staff=staff, received=totals.received_cents,
              expected=totals.expected_in_box_cents, vouchers=len(totals.vouchers),
              device_matches="-" if totals.device is None else totals.device.matches)
        audit(self.service, staff, "cash.collected", number=collection.number, received_cents=totals.received_cents,
              expected_cents=totals.expected_in_box_cents, net_cents=totals.net_cents)
        if totals.device is not None and not totals.device.matches:
            event(log, "cash.device_mismatch", level=logging.WARNING, number=collection.number,
                  device=totals.device.device_cents, recorded=totals.device.recorded_cents)
        self.print_collection(collection.number, on_printed)
        return collection

    def collections(self, limit: int = 20) -> list[Collection]:
        return [Collection.from_record(record) for record in self.outbox.collections(limit)]

    def print_collection(self, number: int, on_done: Callable[[Printed], None] | None = ignore,
                         copy: bool = False) -> Printed | None:
        """Both copies of a collection receipt (collector, treasury), off the caller's thread."""
        printer = self.service._device("printer")

        def work() -> Printed:
            try:
                collection = Collection.from_record(self.outbox.collection(number))
            except KeyError:
                return refused("cash.unknown_collection", str(number))
            sheets = self.collection_sheets(collection, copy)
            return print_copies([functools.partial(printer.print_sheet, sheet) for sheet in sheets], f"{number:06d}")

        return run_print(printer, self.service.call_soon, work, on_done)

    def collection_sheets(self, collection: Collection, copy: bool = False) -> list[InfoSheet]:
        kiosk = self.service.config.kiosk
        totals = collection.totals
        at = dt.datetime.fromtimestamp(collection.at)
        qr = sign_document(self.service._receipt_key(), COLLECTION_PREFIX,
                           {"n": collection.number, "r": totals.received_cents, "e": totals.expected_in_box_cents,
                            "d": totals.net_cents}, at, kiosk.id)
        signer = ("Recolectó", (f"Asesor: {collection.attendant}",
                                *((f"Nota: {collection.note}",) if collection.note else ()),
                                "Firma: ____________________"))
        title = f"Recolección de efectivo No. {collection.number:06d}" + (" (REIMPRESIÓN)" if copy else "")
        body = totals_sections(totals)
        return [InfoSheet(kiosk.municipality, title, (*body, signer, (label, (
            "Escanee el código para verificar esta recolección.",))), qr, dt.datetime.now(), kiosk.id, kiosk.location)
            for label in ("COPIA PARA QUIEN RECOLECTA", "COPIA PARA TESORERÍA")]


def _when(stamp: float | None, _: Callable[[str], str] = _identity) -> str:
    return _("primer registro") if stamp is None else f"{dt.datetime.fromtimestamp(stamp):%d/%m/%Y %H:%M}"


def totals_sections(totals: CashTotals, translate: Callable[[str], str] = _identity
                    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The totals as printable sections (the collection receipt, `kiosk cash totals`, the cash
    dialog). Templates are Spanish message ids passed through `translate` before formatting."""
    _ = translate  # marks the Spanish message ids for extraction (kiosk.core.i18n)
    pesos = format_pesos
    names = {"coin": _("Moneda"), "bill": _("Billete"), "": _("Efectivo")}
    received = tuple(_("{kind} {value} x {count} = {total}").format(
        kind=names.get(d.kind, d.kind), value=pesos(d.cents), count=d.count, total=pesos(d.total_cents))
        for d in totals.denominations)
    vouchers = tuple(_("{number} folio {folio} {method} {amount}").format(
        number=v.number, folio=v.folio, method=_("cambio") if v.purpose == "change" else _("tarjeta")
        if v.method == "card" else _("efectivo"), amount=pesos(v.amount_cents)) for v in totals.vouchers)
    sections: list[tuple[str, tuple[str, ...]]] = [
        (_("Periodo"), (_("Desde: {when}").format(when=_when(totals.period_start, _)),
                        _("Hasta: {when}").format(when=_when(totals.period_end, _)),
                        _("Operaciones en efectivo: {count}").format(count=totals.transactions))),
        (_("Efectivo recibido"), (*received, _("Total recibido: {amount}").format(
            amount=pesos(totals.received_cents)))),
        (_("Cambio"), (_("Cambio entregado por el cajero: {amount}").format(amount=pesos(totals.change_paid_cents)),
                       _("Cambio por entregar: {amount}").format(amount=pesos(totals.change_owed_cents)),
                       _("Devuelto por el cajero (pagos cancelados): {amount}").format(
                           amount=pesos(totals.returned_cents)))),
        (_("Vales de devolución"), (*vouchers, _("Vales en efectivo: {amount}").format(
            amount=pesos(totals.refunds_cents)), _("Vales con tarjeta: {amount}").format(
            amount=pesos(totals.card_refunds_cents)))),
        (_("Resumen"), (_("Esperado en caja: {amount}").format(amount=pesos(totals.expected_in_box_cents)),
                        _("Neto para tesorería: {amount}").format(amount=pesos(totals.net_cents)))),
    ]
    if totals.device is not None:
        check = totals.device
        verdict = _("COINCIDE") if check.matches else _("NO COINCIDE: revise la caja y avise a un técnico")
        sections.append((_("Verificación del aceptador"), (
            _("Desde {when}: contado {counted}, registrado {recorded}").format(
                when=_when(check.since, _), counted=pesos(check.device_cents), recorded=pesos(check.recorded_cents)),
            verdict)))
    return tuple(sections)

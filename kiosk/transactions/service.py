"""TransactionService: what the payment and request screens call (see the package docstring)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from devices.contract import CallSoon, DeviceError, immediate
from devices.pan import mask_card_numbers
from devices.printer import InfoSheet, Receipt, format_pesos
from kiosk.catalog.model import amount_due, kiosk_actions, localized
from kiosk.core.i18n import N_
from kiosk.core.logs import event
from kiosk.transactions.api import ApiAnswer, ApiClient, ApiUnreachable
from kiosk.transactions.attendant import AttendantDesk, AttentionItem, Resolution
from kiosk.transactions.cash_intake import CashIntake, Progress
from kiosk.transactions.cash_office import CashOffice, CashTotals, Collection
from kiosk.transactions.change import ChangeDesk
from kiosk.transactions.documents import Printed, ignore, print_copies, run_print
from kiosk.transactions.errors import REASONS, Refused
from kiosk.transactions.money import MoneyRecorder
from kiosk.transactions.receipts import kiosk_key, sign_receipt
from kiosk.transactions.submitter import Submitter
from offline_cache.money_journal import CARD_APPROVED, CREDIT, MoneyEvent, MoneyJournal, journal_path
from offline_cache.outbox import (
    CANCELLED,
    CONFIRMED,
    CREATED,
    NEEDS_ATTENDANT,
    PAID,
    PAYING,
    QUEUED,
    STORAGE_MESSAGES,
    Change,
    IllegalTransition,
    Outbox,
    OutboxError,
    Record,
    StorageError,
    Voucher,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("kiosk.transactions")
CASH_OPEN_WAIT_S = 15.0  # at start, with a payment or payout to settle: how long the cash device may take to open
Transaction = Record  # the screens hold a Record and refresh it with service.get(tx.key)

# Receipt title when the screen did not name the procedure a bill was paid through.
PAYMENT_TITLES = {"clave_catastral": "Pago del impuesto predial", "numero_contrato_agua": "Pago del recibo de agua"}


@dataclass(frozen=True)
class Discount:
    percent: int
    text: str
    amount_cents: int
    valid_to: str


@dataclass(frozen=True)
class Bill:
    account_kind: str
    account_ref: str
    concept: str
    amount_cents: int  # before discounts
    discounts: tuple[Discount, ...]
    total_cents: int  # what is due today, discounts applied
    card_fee_cents: int
    due_date: str
    paid_up: bool
    offline: bool = False  # built from a scanned printed bill, not confirmed by the API
    procedure_id: str = ""


@dataclass(frozen=True)
class Identity:
    """Who requests a certificate. Personal data: kept in the outbox only until the API confirms."""

    method: str  # "id_card" (read from the chip) or "typed"
    name: str
    id_number: str = ""  # CURP or ID number
    email: str = ""

    @classmethod
    def from_card(cls, card: Any) -> Identity:
        """From `devices.card_reader.Identity` (surname, given_names, id_number) read off the chip."""
        return cls("id_card", f"{card.given_names} {card.surname}".strip(), card.id_number)


@dataclass(frozen=True)
class Availability:
    online: bool
    storage_ok: bool
    card: str  # "ok" or a reason code
    cash: str
    lookup: str
    request: str
    storage_code: str = "storage.ok"

    @staticmethod
    def message(code: str) -> str:
        """The plain sentence for `code`, as a Spanish msgid: the screen translates it."""
        return REASONS.get(code, "") or STORAGE_MESSAGES.get(code, "")


@dataclass(frozen=True)
class PaymentOutcome:
    ok: bool
    state: str
    reason: str  # "ok" or a stable code
    message: str = ""  # for the citizen: a Spanish msgid, may name {folio}; see text()
    transaction: Record | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def text(self, gettext: Callable[[str], str] = N_) -> str:
        """The message in the reader's language (the translator's gettext), Spanish by default."""
        if not self.message:
            return ""
        return gettext(self.message).format(folio=self.transaction.folio if self.transaction is not None else "")

    @property
    def needs_person(self) -> bool:
        """Money was (or may have been) taken and a person must finish it: the screen shows the
        folio and calls one, and never offers to pay again."""
        return not self.ok and self.state == NEEDS_ATTENDANT


PERSON_WILL_HELP = N_("Su dinero quedó en el cajero. Una persona le atenderá en un momento; conserve este folio: "
                      "{folio}.")


def new_folio(kiosk_id: str, day: dt.date, token: Callable[[], str] = lambda: secrets.token_hex(4)) -> str:
    """KIOSK-YYMMDD-RANDOM. One whose digits pass for a card number is drawn again (1.3 % of them
    with the demo's id "kiosk-demo-01", measured): every card-number mask on the way (the
    terminal's answers, a city's log filters) would hide it, and the kiosk could not find its own
    sale at the terminal."""
    while True:
        folio = f"{kiosk_id[-6:].upper()}-{day:%y%m%d}-{token().upper()}"
        if mask_card_numbers(folio) == folio:
            return folio


class TransactionService:
    def __init__(self, config: Any, outbox: Outbox, api: ApiClient, adapters: Mapping[str, Any] | None = None,
                 call_soon: CallSoon = immediate, card_needs_network: bool = True,
                 money_hook: Callable[[str, int], None] | None = None):
        self.config = config
        self.outbox = outbox
        self.api = api
        self.adapters = dict(adapters or {})
        self.call_soon = call_soon
        self.card_needs_network = card_needs_network
        self.money_hook = money_hook or (lambda folio, cents: None)  # tests: witness of money taken
        settings = config.transactions
        self.online = True
        self.money = MoneyRecorder(outbox, MoneyJournal(journal_path(outbox.path)))
        self.submitter = Submitter(outbox, api, base_s=settings.retry_base_s, cap_s=settings.retry_cap_s,
                                   give_up_after_s=settings.give_up_after_days * 86400, on_status=self._set_online,
                                   housekeeping=self.money.settle)
        self._key: Ed25519PrivateKey | None = None
        self._key_lock = threading.Lock()
        self._intakes: dict[str, CashIntake] = {}
        self._card_aborts: dict[str, threading.Event] = {}  # tx key -> its running sale's "Cancelar"
        self.cash_idle_s = config.transactions.cash_idle_s  # no coin, note or touch: money back (tests shorten it)
        # Optional staff audit log, append(actor, action, **details) (kiosk.staff's AuditLog.append):
        # resolutions and collections are appended there too when the app sets it.
        self.audit: Callable[..., Any] | None = None
        self.desk = AttendantDesk(self)
        self.cash_office = CashOffice(self)  # reads the acceptor's counter now: the cross-check's start

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> dict[str, int]:
        """Settle what a previous run left half-done, prune old history, start the submitter."""
        recovered = self.recover()
        days = self.config.retention.queue_history_days
        pruned = self.outbox.prune(before=self.outbox.clock() - days * 86400)
        if pruned:
            event(log, "transactions.pruned", rows=pruned, days=days)
        self.submitter.start()
        return recovered

    def recover(self) -> dict[str, int]:
        """What a killed run left half-done, settled from what the disk and the devices prove."""
        live_cash = [r for r in self.outbox.list_states((PAYING,)) if r.method == "cash"]  # before anything moves
        cash = self._device("cash")
        if cash is not None and (live_cash or self.outbox.open_payouts()):
            cash.wait_open(CASH_OPEN_WAIT_S)  # opening beside us: its counters are the evidence
        self.money.settle()  # money events a refusing disk could only journal: recorded first
        for folio, payout in self.change_desk().recover():  # a crash mid-payout: what the hoppers prove
            event(log, "cash.payout_recovered", level=logging.WARNING, folio=folio, paid=payout.paid_cents,
                  owed=payout.owed_cents, uncertain=payout.uncertain_cents)
        # One payment takes money at a time: only the last one left paying can own unread events.
        unread = self._record_unread_cash(live_cash[-1] if live_cash else None)
        reconciled = self._reconcile_card_payment()
        recovered = self.outbox.recover()
        if reconciled:
            recovered = dict(recovered, reconciled=reconciled)
        if unread:
            recovered = dict(recovered, unread_credits=unread)
        if any(recovered.values()):
            event(log, "transactions.recovered", **recovered)
        self.cash_office.rebase()  # the acceptor's counter starts again with this process
        return recovered

    def _record_unread_cash(self, record: Record | None) -> int:
        """A kill mid-payment: the acceptor may have taken coins or notes that nobody read (and it
        stays enabled until the kiosk is back). Its event queues, as found at open, hold them after
        the payment's cursor: each is recorded against that payment, which goes to an attendant;
        what the queues can no longer tell is said so (the attendant counts the cash)."""
        cash = self._device("cash")
        stored = (record.payment.get("acceptor_cursor") or {}) if record is not None else {}
        if cash is None or record is None or not stored:
            return 0
        try:
            unread = cash.unread_since({int(address): int(counter) for address, counter in stored.items()})
        except DeviceError as error:
            self._hand_over_unread(record, f"restart.cash_unread:{record.paid_cents}:device:{error.code}")
            return 0
        for kind, cents, address, number in unread.credits:
            self._record_unread_credit(record, kind, cents, {str(address): number})
        event(log, "cash.unread_recovered", level=logging.WARNING, folio=record.folio, credits=len(unread.credits),
              cents=unread.cents, lost=unread.lost, unknown=len(unread.unknown))
        if unread.lost or unread.unknown:
            paid = self.outbox.get(record.key).paid_cents
            self._hand_over_unread(record, f"restart.cash_unread:{paid}:{unread.lost or 'unknown'}")
        return len(unread.credits)

    def _record_unread_credit(self, record: Record, kind: str, cents: int, cursor: dict[str, int]) -> None:
        money = MoneyEvent(record.key, record.folio, CREDIT, cents, {"kind": kind, "cursor": cursor,
                                                                     "read": "after_restart"})
        self.money.record(money, lambda: self.outbox.add_credit(record.key, cents, kind, cursor,
                                                                states=(PAYING, NEEDS_ATTENDANT)))

    def _hand_over_unread(self, record: Record, reason: str) -> None:
        try:
            self.outbox.transition(record.key, NEEDS_ATTENDANT, reason)
        except IllegalTransition:
            pass  # the money journal handed it to an attendant already
        except StorageError as error:  # still paying: outbox.recover() hands it over (restart.*)
            event(log, "cash.unread_not_noted", level=logging.ERROR, folio=record.folio, reason=reason,
                  code=error.code)

    def _reconcile_card_payment(self) -> int:
        """A crash between the terminal's approval and the `paid` record: the terminal remembers
        its last sale (0250), which is the only one that can have been in flight. If it matches a
        card transaction left `paying`, record it as paid instead of sending it to an attendant."""
        terminal = self._device("payment")
        paying = [r for r in self.outbox.list_states((PAYING,)) if r.method == "card" and not r.paid_cents]
        if terminal is None or not paying:
            return 0
        try:
            last = terminal.last_sale()
        except DeviceError:
            return 0  # recover() hands the rows to an attendant, who can check the terminal
        if last is None or not last.approved:
            return 0
        for record in paying:
            if last.is_for(record.folio[-20:]) and last.amount == record.amount_cents:
                payment = {"method": "card", "masked_card": last.masked_card, "brand": last.brand,
                           "authorization_code": last.authorization_code,
                           "operation_number": last.operation_number, "reconciled": "terminal.last_sale"}
                return 1 if self.record_paid(record, payment, record.amount_cents).ok else 0
        return 0

    def stop(self) -> None:
        self.submitter.stop()

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            event(log, "api.online" if online else "api.offline")
        self.online = online

    def check_online(self) -> bool:
        self._set_online(self.api.health())
        return self.online

    def _device(self, kind: str) -> Any:
        for adapter in self.adapters.values():
            if getattr(adapter, "kind", "") == kind:
                return adapter
        return None

    # ---- what is possible now ------------------------------------------------------------------

    def availability(self) -> Availability:
        health = self.outbox.health()
        online = self.online
        card = "ok"
        if self._device("payment") is None:
            card = "device.no_payment_terminal"
        elif not online and self.card_needs_network:
            card = "network.card_needs_network"
        cash = "ok"
        if self._device("cash") is None:
            cash = "device.no_cash"
        elif not online and not self.config.transactions.offline_cash:
            cash = "network.cash_offline_disabled"
        lookup = "ok" if online else "network.lookup_needs_network"
        if not health.ok:
            card = cash = health.code
        return Availability(online, health.ok, card, cash, lookup, "ok" if health.ok else health.code, health.code)

    def cash_acceptance(self) -> Any:
        """Accepted denominations and whether change is given (show before any money goes in)."""
        cash = self._device("cash")
        if cash is None:
            raise Refused("device.no_cash")
        return cash.acceptance()

    # ---- bills -------------------------------------------------------------------------------

    def lookup(self, kind: str, ref: str, on: dt.date | None = None) -> Bill:
        """GET /v1/accounts/{kind}/{ref}; Refused('network.lookup_needs_network') when offline."""
        try:
            body = self.api.account(kind, ref, on.isoformat() if on else None)
        except ApiUnreachable as error:
            self._set_online(False)
            raise Refused("network.lookup_needs_network", detail=str(error)) from None
        except ApiAnswer as error:
            self._set_online(True)
            if error.status == 404:
                raise Refused("account.not_found") from None
            raise Refused("network.lookup_needs_network", detail=str(error)) from None
        self._set_online(True)
        discounts = tuple(Discount(int(d["percent"]), str(d["text"]), int(d["amount_cents"]), str(d["valid_to"]))
                          for d in body.get("discounts", ()))
        return Bill(kind, ref, str(body["concept"]), int(body["amount_cents"]), discounts, int(body["total_cents"]),
                    int(body.get("card_fee_cents", 0)), str(body.get("due_date", "")), bool(body["paid_up"]))

    def bill_from_reference(self, kind: str, ref: str, amount_cents: int, concept: str) -> Bill:
        """A bill read from the barcode of a printed bill: what cash payments use while offline."""
        return Bill(kind, ref, concept, amount_cents, (), amount_cents, 0, "", amount_cents == 0, offline=True)

    # ---- begin -------------------------------------------------------------------------------

    def begin(self, subject: Bill | Mapping[str, Any], method: str, person: Identity | None = None,
              account: tuple[str, str] = ("", ""), today: dt.date | None = None,
              procedure: Mapping[str, Any] | None = None) -> Record:
        """Durably record a transaction (state `created`, fresh idempotency key) before any money.

        `subject` is a Bill (pay property tax / water; `procedure` optionally names the catalog
        record it is paid through, for the receipt) or a catalog procedure record (request a
        certificate; `person` identifies the citizen). `method` is "card", "cash" or "free".
        Raises Refused (storage not healthy, printer not ready, method impossible offline...)."""
        self._check_can_take_money(method)
        if isinstance(subject, Bill):
            if subject.paid_up or subject.total_cents <= 0:
                raise Refused("bill.paid_up")
            amount = subject.total_cents + (subject.card_fee_cents if method == "card" else 0)
            kind, procedure_id, concept = "payment", subject.procedure_id, subject.concept
            account = (subject.account_kind, subject.account_ref)
            body: dict[str, Any] = {"kind": "payment", "account": {"kind": account[0], "ref": account[1]}}
        else:
            actions = kiosk_actions(subject)
            if not actions["request"]:
                raise Refused("procedure.not_payable")
            amount = self._procedure_amount(subject, today or dt.date.today())
            kind, procedure_id = "certificate", str(subject["id"])
            concept = localized(subject.get("name"))
            body = {"kind": "certificate", "procedure_id": procedure_id,
                    "account": {"kind": account[0], "ref": account[1]},
                    "person": {"method": person.method, "name": person.name, "id_number": person.id_number,
                               "email": person.email} if person else {}}
        if procedure is not None:  # the catalog procedure the bill is paid through (for the receipt)
            procedure_id = str(procedure["id"])
            body["procedure_name"] = localized(procedure.get("name"))
        elif kind == "certificate":
            body["procedure_name"] = concept
        folio = self._new_folio()
        body.update({"folio": folio, "amount_cents": amount, "kiosk_id": self.config.kiosk.id,
                     "procedure_id": procedure_id, "concept": concept})
        record = self._guard(lambda: self.outbox.create(kind, amount, folio=folio, procedure_id=procedure_id,
                                                         account=account, concept=concept, method=method,
                                                         payload=body))
        event(log, "transaction.created", folio=folio, kind=kind, method=method, amount=amount)
        return record

    def _procedure_amount(self, record: Mapping[str, Any], today: dt.date) -> int:
        total = 0
        for cost in record.get("costs") or ():
            if "kiosk" not in (cost.get("payment_places") or ("kiosk",)):
                continue
            due = amount_due(cost, today)
            if due is None:
                raise Refused("procedure.not_payable", detail="the amount is not known in advance")
            total += int(due * 100)
        return total

    def _check_can_take_money(self, method: str) -> None:
        health = self.outbox.health()
        if not health.ok:
            event(log, "transactions.storage_unhealthy", level=logging.ERROR, code=health.code)
            raise Refused(health.code, health.message, health.detail)
        printer = self._device("printer")
        if printer is not None and method != "free":
            try:
                ready = printer.check_ready()
            except DeviceError:
                ready = False
            if not ready:
                raise Refused("printer.not_ready")
        if method == "card":
            if self._device("payment") is None:
                raise Refused("device.no_payment_terminal")
            if self.card_needs_network and not self.online:
                raise Refused("network.card_needs_network")
        elif method == "cash":
            if self._device("cash") is None:
                raise Refused("device.no_cash")
            if not self.online and not self.config.transactions.offline_cash:
                raise Refused("network.cash_offline_disabled")
        elif method != "free":
            raise ValueError(f"unknown payment method {method!r}")

    def _new_folio(self) -> str:
        return new_folio(self.config.kiosk.id, dt.date.today())

    def _guard(self, operation: Callable[[], Record]) -> Record:
        try:
            return operation()
        except StorageError as error:
            event(log, "transactions.storage_failed", level=logging.ERROR, code=error.code)
            raise Refused(error.code, error.message, str(error)) from None

    # ---- paying ------------------------------------------------------------------------------

    def submit_free(self, tx: Record) -> Record:
        """A request that costs nothing: straight to the queue."""
        if tx.amount_cents != 0:
            raise ValueError("only a zero-amount transaction is queued without payment")
        record = self._guard(lambda: self.outbox.transition(tx.key, QUEUED, "free"))
        self.submitter.wake()
        return record

    def cancel(self, tx: Record, reason: str = "citizen.cancelled") -> Record:
        """Before any money: the citizen went back or left."""
        return self._guard(lambda: self.outbox.transition(tx.key, CANCELLED, reason))

    def pay_by_card(self, tx: Record, on_done: Callable[[PaymentOutcome], None]) -> None:
        """Charge tx.amount_cents on the terminal; on_done(PaymentOutcome) arrives through call_soon.

        The row goes to `paying` (durable) before the terminal is asked, so a crash in the middle
        leaves it for an attendant instead of losing it."""
        terminal = self._device("payment")
        if terminal is None:
            raise Refused("device.no_payment_terminal")
        self._guard(lambda: self.outbox.transition(tx.key, PAYING, "card.sale_started"))

        abort = self._card_aborts[tx.key] = threading.Event()  # set by cancel_card ("Cancelar")

        def charge_and_record() -> PaymentOutcome:
            try:
                result = terminal.sale(tx.amount_cents, tx.folio[-20:], abort)
            except DeviceError as error:
                return self._settle_unknown(tx, f"card.device_error:{error.code}")
            finally:
                self._card_aborts.pop(tx.key, None)
            if result.approved:
                self.money_hook(tx.folio, tx.amount_cents)
                payment = {"method": "card", "masked_card": result.masked_card, "brand": result.brand,
                           "authorization_code": result.authorization_code,
                           "operation_number": result.operation_number}
                return self.record_paid(tx, payment, tx.amount_cents,
                                        MoneyEvent(tx.key, tx.folio, CARD_APPROVED, tx.amount_cents, payment))
            if str(result.outcome) == "timeout":
                return self._settle_unknown(tx, "card.outcome_unknown")
            return self.back_to_created(tx, f"card.{result.outcome}", result.reason)

        terminal.request(charge_and_record, lambda outcome, error: on_done(
            outcome if outcome is not None else PaymentOutcome(False, PAYING, f"device:{error.code if error else ''}")))

    def record_paid(self, tx: Record, payment: dict[str, Any], paid_cents: int,
                    money: MoneyEvent | None = None) -> PaymentOutcome:
        """Paid and queued in one commit (no window where money is recorded but not queued),
        retried; if the database keeps refusing, the money event goes to the journal and the
        transaction to an attendant: the citizen is never told that nothing was charged."""
        body = dict(tx.payload, payment={k: v for k, v in payment.items() if k != "authorization_code"},
                    paid_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

        def write() -> Record:
            self.outbox.transition_many([
                Change(tx.key, PAID, "payment.taken", {"payment": payment, "paid_cents": paid_cents,
                                                       "payload": body}),
                Change(tx.key, QUEUED, "payment.queued")])
            return self.outbox.get(tx.key)

        if money is None:  # cash: the credits are on record already; only the ending is written
            money = MoneyEvent(tx.key, tx.folio, "cash_paid", 0, {})
        record = self.money.record(money, write)
        if record is None:
            return self.hand_over_outcome(tx, f"money.not_recorded:{paid_cents}", paid_cents)
        self.submitter.wake()
        event(log, "transaction.paid", folio=tx.folio, method=payment.get("method", ""), amount=paid_cents)
        return PaymentOutcome(True, QUEUED, "ok", transaction=record)

    def hand_over_outcome(self, tx: Record, reason: str, paid_cents: int = 0) -> PaymentOutcome:
        """The payment ends in an attendant's hands: recorded as needs_attendant (or remembered
        until the disk takes it; the attendant's list shows it either way), with the folio."""
        self.money.hand_over(tx.key, reason)
        try:
            record = self.outbox.get(tx.key)
        except (OutboxError, KeyError):
            record = tx
        event(log, "transaction.needs_attendant", level=logging.WARNING, folio=tx.folio, reason=reason)
        return PaymentOutcome(False, NEEDS_ATTENDANT, reason,
                              PERSON_WILL_HELP, transaction=record,
                              extra={"paid_cents": paid_cents})

    def back_to_created(self, tx: Record, reason: str, code: str = "") -> PaymentOutcome:
        """Nothing was taken: the transaction may be paid again (or cancelled)."""
        record = self._guard(lambda: self.outbox.transition(tx.key, CREATED, reason))
        return PaymentOutcome(False, CREATED, code or reason, transaction=record)

    def _settle_unknown(self, tx: Record, reason: str) -> PaymentOutcome:
        return self.hand_over_outcome(tx, reason)

    def cancel_card(self, tx: Record) -> None:
        """"Cancelar" while the terminal waits for the card: the sale stops waiting, and a sale the
        terminal approved meanwhile is cancelled at the terminal before the outcome arrives
        (on_done of pay_by_card): nothing charged, or an unknown outcome for an attendant."""
        abort = self._card_aborts.get(tx.key)
        if abort is not None:
            abort.set()

    def print_slip(self, tx: Record, on_done: Callable[[Printed], None] | None = ignore) -> Printed | None:
        """A paper for a citizen whose payment waits for a person: folio, amount, time and what
        happens next (no personal data, no card number). Printed off the caller's thread."""
        kiosk = self.config.kiosk
        now = dt.datetime.now()
        lines = (f"Folio: {tx.folio}", f"Importe: {format_pesos(tx.amount_cents)} MXN", f"Fecha: {now:%d/%m/%Y %H:%M}",
                 "Una persona del personal revisará su pago con usted.",
                 "Si ya se retiró, preséntese con este papel en la caja de la Tesorería.")
        sheet = InfoSheet(kiosk.municipality, "Pago por verificar", (("Conserve este papel", lines),),
                          self.config.transactions.verify_url + tx.folio, now, kiosk.id, kiosk.location)
        printer = self._device("printer")
        return run_print(printer, self.call_soon,
                         lambda: print_copies([lambda: printer.print_sheet(sheet)], tx.folio), on_done)

    def change_limit_cents(self) -> int:
        """The most change the kiosk can give now: `[transactions] max_change_mxn` capped by what
        the hoppers hold (0 without a hopper). Shown before any money goes in."""
        return self.change_desk().limit_cents(round(self.config.transactions.max_change_mxn * 100))

    def change_desk(self) -> ChangeDesk:
        return ChangeDesk(self.outbox, self._device("cash"))

    def pay_by_cash(self, tx: Record, on_progress: Callable[[Progress], None],
                    on_done: Callable[[PaymentOutcome], None],
                    on_notice: Callable[[str, int], None] | None = None) -> None:
        """Accept cash until tx.amount_cents is reached (kiosk/transactions/cash_intake.py). Each
        credit is recorded (durably) before on_progress(Progress) is called; on_notice(code, cents)
        for a bill handed back or a fault; on_done(PaymentOutcome) once, after the acceptor
        confirmed it is inhibited and the change or the money back was paid (or put on a
        voucher). `cancel_cash(tx)` ends it early: the money goes back."""
        cash = self._device("cash")
        if cash is None:
            raise Refused("device.no_cash")
        limit = self.change_limit_cents()
        try:
            cursor = {str(address): counter for address, counter in cash.cursor().items()}
        except DeviceError as error:
            raise Refused("device.no_cash", detail=error.code) from None
        # Stored before the acceptor is enabled: whatever it takes is after this cursor, even if
        # the kiosk dies before reading it (recover()).
        self._guard(lambda: self.outbox.transition(tx.key, PAYING, "cash.accepting",
                                                   payment={"method": "cash", "acceptor_cursor": cursor}))

        def done(outcome: PaymentOutcome) -> None:
            self._intakes.pop(tx.key, None)
            on_done(outcome)

        intake = CashIntake(self, tx, cash, on_progress, done, on_notice, change_limit_cents=limit,
                            idle_s=self.cash_idle_s)
        self._intakes[tx.key] = intake
        try:
            intake.start()
        except DeviceError as error:
            self._intakes.pop(tx.key, None)
            reason = f"cash.device_error:{error.code}"
            self._guard(lambda: self.outbox.transition(tx.key, CREATED, reason))
            raise Refused("device.no_cash", detail=error.code) from None

    def touch_cash(self, tx: Record) -> None:
        """The citizen touched the payment screen: still there."""
        intake = self._intakes.get(tx.key)
        if intake is not None:
            intake.touch()

    def give_change(self, tx: Record, outcome: PaymentOutcome, change_cents: int) -> PaymentOutcome:
        """The payment is recorded; pay its change from the hoppers, ledger first. What they cannot
        pay (or cannot prove they paid) goes on a kiosk voucher, printed, with a person called."""
        if change_cents <= 0:
            return outcome
        paid = self.change_desk().pay(tx, change_cents, "change")
        owed = paid.owed_cents + paid.uncertain_cents
        voucher = self._voucher(tx, owed, "change") if owed else None
        record = self._note_payment(tx, change_paid_cents=paid.paid_cents, change_owed_cents=owed,
                                    change_voucher=voucher.number if voucher else "")
        extra = dict(outcome.extra, change_paid_cents=paid.paid_cents, change_owed_cents=owed,
                     voucher=voucher.number if voucher else "")
        return replace(outcome, transaction=record or outcome.transaction, extra=extra)

    def give_back(self, tx: Record, taken_cents: int, why: str) -> PaymentOutcome:
        """The payment did not complete: the money taken goes back from the hoppers; the rest on a
        kiosk voucher. The transaction ends cancelled (nothing was paid to the city)."""
        paid = self.change_desk().pay(tx, taken_cents, "refund")
        owed = taken_cents - paid.paid_cents
        voucher = self._voucher(tx, owed, "refund") if owed else None
        reason = f"cash.refund_voucher:{voucher.number}" if voucher else f"cash.returned:{taken_cents}"
        payment = {"method": "cash", "paid_cents": taken_cents, "change_due_cents": 0,
                   "returned_cents": paid.paid_cents, "refund_owed_cents": owed, "ended": why}
        try:
            record = self.outbox.transition(tx.key, CANCELLED, reason, payment=payment)
        except StorageError:
            return self.hand_over_outcome(tx, f"cash.refund_not_recorded:{taken_cents}", taken_cents)
        event(log, "transaction.cash_given_back", folio=tx.folio, taken=taken_cents, returned=paid.paid_cents,
              owed=owed, why=why)
        return PaymentOutcome(False, CANCELLED, "cash.refund_voucher" if voucher else "cash.returned",
                              transaction=record, extra={"paid_cents": taken_cents, "returned_cents": paid.paid_cents,
                                                         "owed_cents": owed, "voucher": voucher.number if voucher
                                                         else "", "why": why})

    def _voucher(self, tx: Record, cents: int, purpose: str) -> Voucher | None:
        """A kiosk voucher for money the hoppers did not hand back, printed for the citizen; the
        attendant's list shows it until acknowledged. None when even the voucher cannot be
        recorded (the transaction goes to an attendant then)."""
        note = "Cambio no entregado por el cajero" if purpose == "change" else "Devolución no entregada por el cajero"
        prefix = f"{self.config.kiosk.id[-6:].upper()}-V"
        try:
            voucher = self.outbox.issue_voucher(tx.key, prefix, cents, "cash", note, purpose)
        except StorageError:
            self.money.hand_over(tx.key, f"cash.{purpose}_owed:{cents}")
            return None
        event(log, "cash.voucher_issued", level=logging.WARNING, folio=tx.folio, voucher=voucher.number,
              cents=cents, purpose=purpose)
        self.desk.print_voucher(voucher.number)
        return voucher

    def _note_payment(self, tx: Record, **values: Any) -> Record | None:
        """Add facts to a recorded payment (bookkeeping: no transition)."""
        try:
            record = self.outbox.get(tx.key)
            self.outbox.transition_many([Change(tx.key, None, fields={"payment": dict(record.payment, **values)})])
            return self.outbox.get(tx.key)
        except StorageError:
            return None

    def cancel_cash(self, tx: Record, wait_s: float = 15.0) -> PaymentOutcome | None:
        """Stop taking cash; returns the ending once the acceptor is inhibited and everything it
        took is recorded and given back (on_done gets the same outcome). None when the intake is
        still giving the money back after `wait_s`: it alone settles its payment (settling here
        too would pay the money back twice), and its on_done brings the outcome."""
        intake = self._intakes.get(tx.key)
        if intake is not None:
            intake.cancel()
            intake.ended.wait(wait_s)
            return intake.outcome
        record = self.outbox.get(tx.key)
        if record.state != PAYING:
            return PaymentOutcome(record.state in (QUEUED, CONFIRMED, PAID), record.state, "ok", transaction=record)
        if record.paid_cents == 0:
            return self.back_to_created(tx, "cash.cancelled_no_money", "cash.cancelled")
        return self.give_back(tx, record.paid_cents, "cancel")

    # ---- receipts ----------------------------------------------------------------------------

    def get(self, key: str) -> Record:
        return self.outbox.get(key)

    def receipt(self, tx: Record) -> Receipt:
        """The receipt for a paid (or free, queued) transaction; the QR is the certificate's
        download link or the verification URL once confirmed, a signed provisional payload before."""
        record = self.outbox.get(tx.key)
        payment = record.payment
        method = payment.get("masked_card") or {"cash": "Efectivo", "card": "Tarjeta"}.get(
            str(payment.get("method", "")), "Sin costo")  # "Tarjeta": confirmed by an attendant, no card data
        # The moment the money was taken (or the request made): the same on the provisional and
        # the final receipt, and in the signed QR.
        paid_at = record.payload.get("paid_at")
        issued = (dt.datetime.fromisoformat(paid_at).astimezone().replace(tzinfo=None) if paid_at
                  else dt.datetime.fromtimestamp(record.created_at))
        certificate = record.response.get("certificate") if record.state == CONFIRMED else None
        if certificate:
            verification = str(certificate["download_url"])
        elif record.state == CONFIRMED:
            verification = self.config.transactions.verify_url + record.folio
        else:
            verification = sign_receipt(self._receipt_key(), record.folio, record.amount_cents, issued,
                                        self.config.kiosk.id)
        header: tuple[str, ...] = (() if record.state == CONFIRMED
                                   else ("COMPROBANTE PROVISIONAL", "Pago registrado, pendiente de envío"))
        if payment.get("change_due_cents"):
            header += (f"Cambio: {format_pesos(payment['change_due_cents'])}",)
        procedure = (record.payload.get("procedure_name") or PAYMENT_TITLES.get(record.account_kind)
                     or record.concept)
        return Receipt(self.config.kiosk.municipality, record.folio, procedure, record.concept,
                       record.amount_cents, method, issued, self.config.kiosk.id, self.config.kiosk.location,
                       verification, header)

    def _receipt_key(self) -> Any:
        with self._key_lock:
            if self._key is None:
                self._key = kiosk_key(self.config.data_path)
            return self._key

    def print_receipt(self, tx: Record, on_done: Callable[[Any, DeviceError | None], None],
                      notes: tuple[str, ...] = ()) -> None:
        """Print the receipt; `notes` (Spanish, no personal data) go after the amount, e.g. where
        and when a requested document is obtained."""
        printer = self._device("printer")
        if printer is None:
            self.call_soon(lambda: on_done(None, DeviceError("transport.no_device", "no printer configured")))
            return
        receipt = replace(self.receipt(tx), notes=tuple(notes))
        printer.request(lambda: printer.print_receipt(receipt), on_done)

    # ---- attendant (assisted mode; calls that read or write the outbox belong off the UI thread) --

    def attention(self) -> list[Record]:
        """Transactions waiting for an attendant (oldest first)."""
        return self.outbox.list_states((NEEDS_ATTENDANT,))

    def attention_items(self) -> list[AttentionItem]:
        """The same, as lines for the attendant's list: folio, kind, method, amounts, reason in plain
        Spanish, age, and which outcomes can be chosen (`blocked` says why the others cannot)."""
        return self.desk.items()

    def resolve(self, tx: Record, outcome: str, attendant: str, note: str,
                on_printed: Callable[[Printed], None] = ignore) -> Resolution:
        """An attendant's decision on a transaction in needs_attendant (kiosk/transactions/attendant.py):
        "confirm" (money taken: sent with its original key), "refund" (voucher recorded, transaction
        cancelled, voucher printed twice; `on_printed(Printed)` through call_soon) or "nothing_taken"
        (cancelled). `attendant` is the staff identifier (history and logs); `note` is required for
        confirm and refund and never logged. Raises Refused ("attendant.*" codes, storage codes)."""
        return self.desk.resolve(tx, outcome, attendant, note, on_printed)

    def acknowledge_voucher(self, voucher: str, attendant: str, note: str = "") -> bool:
        """An attendant dealt with a kiosk voucher (paid it, or sent the citizen to the cash office)."""
        return self.desk.acknowledge(voucher, attendant, note)

    def last_receipt(self) -> Record | None:
        """The transaction whose receipt the kiosk produced last (paid, queued, submitted,
        confirmed, or a free request), within `[retention] queue_history_days`."""
        return self.desk.last_receipt()

    # The prints below run off the caller's thread and deliver on_done(Printed) through call_soon;
    # with on_done=None they block in the caller's thread (a worker, never the UI) and return it.

    def reprint_last(self, on_done: Callable[[Printed], None] | None = None) -> Printed | None:
        """Print the last receipt again marked as a copy ("*** COPIA / REIMPRESIÓN ***")."""
        return self.desk.reprint_last(on_done)

    def reprint(self, folio: str, on_done: Callable[[Printed], None] | None = None) -> Printed | None:
        """Print a receipt again by folio, marked as a copy."""
        return self.desk.reprint(folio, on_done)

    def print_voucher(self, number: str, on_done: Callable[[Printed], None] | None = None) -> Printed | None:
        """Both copies of a refund voucher again, marked as a reprint."""
        return self.desk.print_voucher(number, on_done, copy=True)

    def cash_totals(self) -> CashTotals:
        """Cash since the last collection (kiosk/transactions/cash_office.py)."""
        return self.cash_office.totals()

    def collect_cash(self, attendant: str, note: str = "",
                     on_printed: Callable[[Printed], None] = ignore) -> Collection:
        """Record a collection of the cash box (the next period starts after it) and print its
        receipt twice. Refused("cash.nothing_to_collect") when nothing is new: a double tap never
        counts twice."""
        return self.cash_office.collect(attendant, note, on_printed)

    def collections(self, limit: int = 20) -> list[Collection]:
        return self.cash_office.collections(limit)

    def print_collection(self, number: int, on_done: Callable[[Printed], None] | None = None) -> Printed | None:
        """Both copies of a collection receipt again, marked as a reprint."""
        return self.cash_office.print_collection(number, on_done, copy=True)

    # ---- staff (status) ------------------------------------------------------------------------------

    def queue_status(self) -> dict[str, Any]:
        counts = self.outbox.counts()
        health = self.outbox.health()
        return {"counts": counts, "oldest_pending_age_s": self.outbox.oldest_pending_age(),
                "online": self.online, "last_error": self.submitter.last_error, "storage": health.code}


def describe(record: Record) -> str:
    """One line for staff screens (no personal data)."""
    return (f"{record.folio} {record.kind} {format_pesos(record.amount_cents)} {record.state}"
            + (f" ({record.reason})" if record.reason else ""))


__all__ = ["REASONS", "AttentionItem", "Availability", "Bill", "CashTotals", "Collection", "Discount", "Identity",
           "PaymentOutcome", "Printed", "Refused", "Resolution", "Transaction", "TransactionService", "describe"]

"""The attendant desk: resolve transactions in needs_attendant, refund vouchers, receipt reprints.

Kivy-free; the service (`TransactionService.resolve`, `attention_items`, `last_receipt`,
`reprint_last`, `reprint`, `print_voucher`) delegates here. A transaction in needs_attendant
ends in one of three ways, each recorded with the staff identifier and a note in the same commit
as the transition (`Outbox.resolve`), so a second tap or a second attendant is refused:

- "confirm": the attendant saw the money taken (terminal batch, cash box): the transaction is
  queued with its original idempotency key and the submitter sends it (the API applies a key
  once). Refused when that cannot be exactly once or would apply money not received: only part
  of a cash amount inserted, the API already refused the key (a resend replays the refusal), or
  the retry window is over (a resend past the API's key retention could apply twice).
- "refund": money was taken and goes back with a refund voucher (what was actually taken:
  the cash credits, or the card amount), numbered per kiosk, printed twice (citizen and cash
  office) with a QR signed by the kiosk's receipt key; the transaction ends cancelled.
- "nothing_taken": nothing was charged (refused when cash credits are on record); cancelled.

Notes are required for confirm and refund, at most NOTE_MAX characters, control characters
removed, and refused when they look like personal data; their text never reaches a log line.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from devices.contract import reason as device_reason
from devices.printer import InfoSheet, format_pesos
from kiosk.core.logs import event, redact
from kiosk.transactions.api import ApiAnswer, ApiUnreachable
from kiosk.transactions.documents import Printed, ignore, print_copies, refused, run_print
from kiosk.transactions.errors import REASONS, Refused
from kiosk.transactions.receipts import sign_voucher
from offline_cache.outbox import (
    CANCELLED,
    CONFIRMED,
    NEEDS_ATTENDANT,
    PAID,
    QUEUED,
    SUBMITTED,
    IllegalTransition,
    Record,
    StorageError,
    Voucher,
)

log = logging.getLogger("kiosk.transactions")

CONFIRM, REFUND, NOTHING_TAKEN = "confirm", "refund", "nothing_taken"
OUTCOMES = (CONFIRM, REFUND, NOTHING_TAKEN)
ACKNOWLEDGE = "acknowledge"  # a kiosk voucher: the attendant saw the citizen (paid it, or sent them to the cash office)
NOTE_MAX = 200
STAFF_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
RECEIPT_STATES = (PAID, QUEUED, SUBMITTED, CONFIRMED)  # a receipt was (or is being) handed out

def refuse(code: str) -> Refused:
    return Refused(code, REASONS[code])


def check_staff(attendant: str) -> str:
    """The staff identifier goes into history reasons and logs: a short code, nothing else."""
    staff = (attendant or "").strip()
    if not STAFF_ID.match(staff):
        raise refuse("attendant.staff_id")
    return staff


def clean_note(note: str, required: bool) -> str:
    """Control characters out, whitespace collapsed, length bounded, personal data refused."""
    printable = "".join(" " if unicodedata.category(char).startswith("C") else char for char in note or "")
    text = " ".join(printable.split())
    if required and not text:
        raise refuse("attendant.note_required")
    if len(text) > NOTE_MAX:
        raise refuse("attendant.note_too_long")
    if redact(text) != text:  # the log redactor's patterns: card/ID numbers, CURP, RFC, e-mail
        raise refuse("attendant.note_personal_data")
    return text


def _identity(message: str) -> str:
    return message


def _cents(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def explain(reason: str, _: Callable[[str], str] = _identity) -> str:
    """Why a transaction waits for an attendant, as a sentence with its figures (amounts as money),
    in the language of `_` (the translator's gettext; Spanish by default). `reason` is the stable
    code the outbox keeps, with its arguments after colons (e.g. "cash.partial_refund_due:5000",
    "restart.cash_unread:<recorded>:<lost>", "card.device_error:<device code>"). An unknown code
    gets a generic sentence that names it, so nothing reaches the attendant unsaid."""
    code, *args = reason.split(":")
    first = args[0] if args else ""
    amount = _cents(first)
    money = format_pesos(amount) if amount is not None else ""
    if code == "card.outcome_unknown":
        return _("La terminal no confirmó si se cobró la tarjeta.")
    if code == "card.device_error":
        return _("La terminal falló durante el cobro con tarjeta: {problem}").format(
            problem=device_reason(first).text(_))
    if code == "cash.device_error":
        return _("El aceptador de efectivo falló durante el cobro: {problem}").format(
            problem=device_reason(first).text(_))
    if code == "restart.payment_outcome_unknown":
        return _("El cajero se reinició durante el cobro.")
    if code == "restart.partial_cash" and amount is not None:
        return _("El cajero se reinició mientras recibía efectivo; llevaba registrados {amount}.").format(amount=money)
    if code == "restart.cash_unread" and amount is not None:
        if args[1:2] == ["device"]:
            return _("El cajero se reinició mientras recibía efectivo (registrados {amount}) y el aceptador no pudo "
                     "decir qué más tomó: {problem} Cuente el efectivo.").format(
                amount=money, problem=device_reason(args[2] if len(args) > 2 else "").text(_))
        lost = _cents(args[1]) if len(args) > 1 else None
        if lost:
            return _("El cajero se reinició mientras recibía efectivo: registró {amount}, y el aceptador tomó "
                     "{count} billetes o monedas más cuyo valor ya no sabe. Cuente el efectivo.").format(
                amount=money, count=lost)
        return _("El cajero se reinició mientras recibía efectivo: registró {amount}, y el aceptador ya no dice "
                 "todo lo que tomó. Cuente el efectivo.").format(amount=money)
    if code == "cash.partial_refund_due" and amount is not None:
        return _("Se recibieron {amount} en efectivo sin completar el importe: hay que devolverlos.").format(
            amount=money)
    if code == "api.rejected":
        status = f" ({first})" if first.isdigit() else ""
        return _("La tesorería rechazó una operación ya cobrada{status}.").format(status=status)
    if code.startswith("submit.gave_up"):
        return _("No se pudo enviar a la tesorería dentro del plazo de reintentos.")
    if code == "money.not_recorded":
        if amount is not None:
            return _("El cajero recibió {amount} pero el disco no lo pudo registrar a tiempo.").format(amount=money)
        return _("El cajero recibió el dinero pero el disco no lo pudo registrar a tiempo.")
    if code == "money.recorded_late":
        return _("Dinero registrado con retraso: el disco lo rechazó al principio.")
    if code == "cash.unreconciled" and amount is not None and len(args) > 1 and _cents(args[1]) is not None:
        return _("El aceptador contó {counted} y el cajero registró {recorded}: cuente el efectivo.").format(
            counted=money, recorded=format_pesos(_cents(args[1]) or 0))
    if code == "cash.inhibit_unconfirmed":
        return _("El aceptador no confirmó que dejó de recibir dinero (registrados: {amount}).").format(
            amount=money or format_pesos(0))
    if code == "cash.intake_failed":
        return _("Falla interna durante el cobro en efectivo (registrados: {amount}).").format(
            amount=money or format_pesos(0))
    if code == "cash.refund_not_recorded" and amount is not None:
        return _("El cajero devolvió el efectivo de un pago cancelado ({amount}) pero el disco no pudo "
                 "registrarlo: cuente el efectivo.").format(amount=money)
    if code == "cash.change_owed" and amount is not None:
        return _("El cajero no pudo entregar {amount} de cambio ni emitir el vale: entréguelo usted.").format(
            amount=money)
    if code == "cash.refund_owed" and amount is not None:
        return _("El cajero no pudo devolver {amount} ni emitir el vale: devuélvalo usted.").format(amount=money)
    return _("Requiere revisión de un asesor (motivo: {code}).").format(code=reason)


def explain_item(item: AttentionItem, _: Callable[[str], str] = _identity) -> str:
    """What the attendant reads for one line of the list: a kiosk voucher says what to hand over."""
    if item.voucher:
        amount = format_pesos(item.refund_cents)
        if item.reason_purpose == "change":
            return _("El cajero no pudo entregar {amount} de cambio: el ciudadano tiene el vale {voucher}. "
                     "Entréguele el dinero o indíquele la caja.").format(amount=amount, voucher=item.voucher)
        return _("El cajero no pudo devolver {amount}: el ciudadano tiene el vale {voucher}. Entréguele el dinero "
                 "o indíquele la caja.").format(amount=amount, voucher=item.voucher)
    return explain(item.reason, _)


def refund_cents(record: Record) -> int:
    """What was actually taken: the recorded cash credits, else the amount charged to the card."""
    return record.paid_cents if record.paid_cents else record.amount_cents


@dataclass(frozen=True)
class AttentionItem:
    """One line of the attendant's list (no personal data: no account, no name)."""

    key: str
    folio: str
    kind: str  # "payment" or "certificate"
    method: str  # "card", "cash" or "free"
    amount_cents: int
    paid_cents: int  # cash recorded
    refund_cents: int  # what a refund voucher would return
    reason: str  # the stable code, e.g. "card.outcome_unknown"; explain_item() words it for people
    age_s: float  # since it started waiting for an attendant
    outcomes: tuple[str, ...]  # what can be chosen now
    blocked: dict[str, str]  # outcome -> refusal code (REASONS) for the ones that cannot
    voucher: str = ""  # a kiosk voucher waiting to be acknowledged (outcome "acknowledge")
    reason_purpose: str = ""  # a kiosk voucher's purpose: "change" or "refund"

    def to_dict(self) -> dict[str, Any]:
        return {"folio": self.folio, "kind": self.kind, "method": self.method, "amount_cents": self.amount_cents,
                "paid_cents": self.paid_cents, "refund_cents": self.refund_cents, "reason": self.reason,
                "explanation": explain_item(self), "age_s": round(self.age_s), "outcomes": list(self.outcomes),
                "voucher": self.voucher}


@dataclass(frozen=True)
class Resolution:
    outcome: str
    transaction: Record  # after the decision: queued (confirm) or cancelled
    voucher: Voucher | None = None  # the refund voucher (refund only)


def audit(service: Any, staff: str, action: str, **details: Any) -> None:
    """Append to the staff audit log when the app wired one (`service.audit`, e.g.
    kiosk.staff AuditLog.append). The money decision is already durable in the outbox, so a
    failing audit log is reported, never allowed to undo or hide it."""
    append = getattr(service, "audit", None)
    if append is None:
        return
    try:
        append(f"staff:{staff}", action, **details)
    except Exception as error:  # any failure of someone else's log: report it, keep going
        event(log, "attendant.audit_failed", level=logging.ERROR, action=action, error=type(error).__name__)


def blocked_outcomes(record: Record) -> dict[str, str]:
    """Outcomes that would break "exactly once" or record money not received, and why."""
    blocked: dict[str, str] = {}
    if record.reason.startswith("api.rejected"):
        blocked[CONFIRM] = "attendant.api_refused"
        if record.response.get("lookup") != "not_applied":  # the API was never asked: it may have applied it
            blocked[REFUND] = "attendant.api_unverified"
    elif record.reason.startswith("submit.gave_up"):
        blocked[CONFIRM] = "attendant.retry_window_over"
    elif record.method == "cash" and record.paid_cents < record.amount_cents:
        blocked[CONFIRM] = "attendant.partial_cash"
    if record.paid_cents > 0:
        blocked[NOTHING_TAKEN] = "attendant.money_recorded"
    return blocked


def attention_item(record: Record, now: float) -> AttentionItem:
    blocked = blocked_outcomes(record)
    return AttentionItem(record.key, record.folio, record.kind, record.method, record.amount_cents,
                         record.paid_cents, refund_cents(record), record.reason,
                         max(0.0, now - record.updated_at), tuple(o for o in OUTCOMES if o not in blocked), blocked)


def attention_items(outbox: Any) -> list[AttentionItem]:
    """Transactions waiting for an attendant, oldest first, then kiosk vouchers nobody has
    acknowledged yet (also what `kiosk queue attention` lists)."""
    now = outbox.clock()
    items = [attention_item(record, now) for record in outbox.list_states((NEEDS_ATTENDANT,))]
    return items + [voucher_item(voucher, outbox, now) for voucher in outbox.unacknowledged_vouchers()]


def voucher_item(voucher: Voucher, outbox: Any, now: float) -> AttentionItem:
    """A kiosk voucher: money the hoppers could not hand back, on paper in the citizen's hand."""
    record = outbox.by_folio(voucher.folio)
    return AttentionItem(record.key, voucher.folio, record.kind, voucher.method, record.amount_cents,
                         record.paid_cents, voucher.amount_cents, f"cash.voucher_issued:{voucher.number}",
                         max(0.0, now - voucher.at), (ACKNOWLEDGE,), {}, voucher.number, voucher.purpose)


class AttendantDesk:
    """Works on the service's outbox, devices, submitter and receipt key (see the module doc)."""

    def __init__(self, service: Any):
        self.service = service

    @property
    def outbox(self) -> Any:
        return self.service.outbox

    # ---- the list --------------------------------------------------------------------------

    def items(self) -> list[AttentionItem]:
        """The outbox's list, plus transactions the outbox could not be told about yet (money the
        disk refused, a hand-over it did not write): shown at once, resolvable once recorded."""
        found = attention_items(self.outbox)
        listed = {item.key for item in found}
        now = self.outbox.clock()
        for key, reason in self.service.money.waiting_keys().items():
            if key in listed:
                continue
            try:
                record = self.outbox.get(key)
            except (KeyError, StorageError):
                continue
            blocked = dict.fromkeys(OUTCOMES, "attendant.still_recording")
            found.append(AttentionItem(record.key, record.folio, record.kind, record.method, record.amount_cents,
                                       record.paid_cents, refund_cents(record), reason,
                                       max(0.0, now - record.updated_at), (), blocked))
        return found

    def blocked(self, record: Record) -> dict[str, str]:
        return blocked_outcomes(record)

    # ---- resolving -------------------------------------------------------------------------

    def acknowledge(self, voucher: str, attendant: str, note: str) -> bool:
        """The attendant dealt with a kiosk voucher; False when someone already had."""
        staff = check_staff(attendant)
        text = clean_note(note, required=False)
        try:
            done = self.outbox.acknowledge_voucher(voucher, staff, text)
        except StorageError as error:
            raise Refused(error.code, error.message, str(error)) from None
        if done:
            event(log, "attendant.voucher_acknowledged", voucher=voucher, staff=staff)
            audit(self.service, staff, "voucher.acknowledged", voucher=voucher)
        return done

    def resolve(self, tx: Record, outcome: str, attendant: str, note: str,
                on_printed: Callable[[Printed], None] = ignore) -> Resolution:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        staff = check_staff(attendant)
        text = clean_note(note, required=outcome != NOTHING_TAKEN)
        record = self.outbox.get(tx.key)
        if record.state != NEEDS_ATTENDANT:
            raise refuse("attendant.not_in_attention")
        problem = self.blocked(record).get(outcome)
        if problem:
            raise refuse(problem)
        try:
            if outcome == CONFIRM:
                resolution = Resolution(outcome, self._confirm(record, staff, text))
            elif outcome == REFUND:
                self._check_not_applied(record)
                done, voucher = self._refund(record, staff, text)
                resolution = Resolution(outcome, done, voucher)
            else:
                done, _ = self.outbox.resolve(record.key, CANCELLED, f"attendant.nothing_taken:{staff}",
                                              outcome=outcome, attendant=staff, note=text)
                resolution = Resolution(outcome, done)
        except IllegalTransition:  # resolved meanwhile (a second tap, another attendant)
            raise refuse("attendant.not_in_attention") from None
        except StorageError as error:
            event(log, "attendant.storage_failed", level=logging.ERROR, code=error.code)
            raise Refused(error.code, error.message, str(error)) from None
        voucher_number = resolution.voucher.number if resolution.voucher else ""
        # Never the note: staff may type anything there.
        event(log, "attendant.resolved", folio=record.folio, outcome=outcome, staff=staff, voucher=voucher_number,
              reason=record.reason)
        audit(self.service, staff, "transaction.resolved", folio=record.folio, outcome=outcome,
              voucher=voucher_number, amount_cents=resolution.voucher.amount_cents if resolution.voucher else 0)
        if resolution.voucher is not None:
            self.print_voucher(resolution.voucher.number, on_printed)
        return resolution

    def _confirm(self, record: Record, staff: str, note: str) -> Record:
        payment = dict(record.payment) or {"method": record.method}
        if record.method == "cash":
            paid = record.paid_cents
            payment.setdefault("paid_cents", paid)
            payment.setdefault("change_due_cents", paid - record.amount_cents)
        else:
            paid = max(record.paid_cents, record.amount_cents)  # the terminal charged the full amount
        payment["confirmed_by"] = staff
        fields: dict[str, Any] = {"payment": payment, "paid_cents": paid, "attempts": 0, "next_at": 0}
        sent = any(step[1] == SUBMITTED for step in self.outbox.history(record.key))
        if not sent:
            # The API has never seen this key, so its body may still gain the payment details;
            # once a body went out it must stay byte-identical or the same key gets a 422.
            fields["payload"] = dict(
                record.payload, payment={k: v for k, v in payment.items() if k != "authorization_code"},
                paid_at=record.payload.get("paid_at") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        done, _ = self.outbox.resolve(record.key, QUEUED, f"attendant.confirmed_paid:{staff}", outcome=CONFIRM,
                                      attendant=staff, note=note, fields=fields)
        self.service.submitter.wake()
        return done

    def _check_not_applied(self, record: Record) -> None:
        """Before money goes back for a transaction that was ever sent: ask the API whether it
        applied that key. Applied: it is recorded as confirmed (it can only be confirmed) and the
        refund is refused; no answer: the refund waits."""
        if not any(step[1] == SUBMITTED for step in self.outbox.history(record.key)):
            return  # the API never saw this key: it cannot have applied it
        try:
            status = self.service.api.transaction_status(record.key)
        except (ApiUnreachable, ApiAnswer):
            raise refuse("attendant.api_unreachable_for_refund") from None
        if status is not None and status.get("applied") is True:
            answer = status.get("answer") if isinstance(status.get("answer"), dict) else status
            self.outbox.transition(record.key, CONFIRMED, "api.applied_lookup:attendant", response=answer)
            raise refuse("attendant.api_applied")

    def _refund(self, record: Record, staff: str, note: str) -> tuple[Record, Voucher | None]:
        prefix = f"{self.service.config.kiosk.id[-6:].upper()}-V"
        method = record.method or str(record.payment.get("method", ""))
        return self.outbox.resolve(record.key, CANCELLED, f"attendant.refunded:{{voucher}}:{staff}",
                                   outcome=REFUND, attendant=staff, note=note,
                                   voucher=(prefix, refund_cents(record), method))

    # ---- vouchers --------------------------------------------------------------------------

    def print_voucher(self, number: str, on_done: Callable[[Printed], None] | None = ignore,
                      copy: bool = False) -> Printed | None:
        """Both copies of a voucher (citizen, cash office), off the caller's thread."""
        printer = self.service._device("printer")

        def work() -> Printed:
            try:
                voucher = self.outbox.voucher(number)
            except KeyError:
                return refused("attendant.unknown_voucher", number)
            sheets = self.voucher_sheets(voucher, copy)
            return print_copies([functools.partial(printer.print_sheet, sheet) for sheet in sheets], number)

        return run_print(printer, self.service.call_soon, work, on_done)

    def voucher_sheets(self, voucher: Voucher, copy: bool = False) -> list[InfoSheet]:
        kiosk = self.service.config.kiosk
        issued = dt.datetime.fromtimestamp(voucher.at)
        qr = sign_voucher(self.service._receipt_key(), voucher.number, voucher.folio, voucher.amount_cents,
                          voucher.method, issued, kiosk.id)
        details = (f"Folio de la operación: {voucher.folio}",
                   f"Importe a devolver: {format_pesos(voucher.amount_cents)} MXN",
                   f"Se cobró con: {'tarjeta' if voucher.method == 'card' else 'efectivo'}",
                   f"Fecha: {issued:%d/%m/%Y %H:%M}", f"Asesor: {voucher.attendant}")
        citizen = ("COPIA PARA EL CIUDADANO", (
            "Presente este vale en la caja de la Tesorería Municipal para recibir su devolución.",
            "Escanee el código para verificar el vale."))
        office = ("COPIA PARA CAJA (TESORERÍA)", (
            *((f"Nota: {voucher.note}",) if voucher.note else ()), "Firma del asesor: ____________________",
            "Escanee el código para verificar el vale."))
        title = "Vale de devolución" + (" (REIMPRESIÓN)" if copy else "")
        return [InfoSheet(kiosk.municipality, title, ((f"Vale No. {voucher.number}", details), part), qr,
                          dt.datetime.now(), kiosk.id, kiosk.location) for part in (citizen, office)]

    # ---- receipts --------------------------------------------------------------------------

    def last_receipt(self) -> Record | None:
        """The transaction whose receipt the kiosk produced last, within the retention period."""
        days = self.service.config.retention.queue_history_days
        return self.outbox.latest_queued(RECEIPT_STATES, self.outbox.clock() - days * 86400)

    def reprint_last(self, on_done: Callable[[Printed], None] | None = None) -> Printed | None:
        def work() -> Printed:
            record = self.last_receipt()
            return refused("attendant.no_receipt") if record is None else self._print_copy(record)

        return run_print(self.service._device("printer"), self.service.call_soon, work, on_done)

    def reprint(self, folio: str, on_done: Callable[[Printed], None] | None = None) -> Printed | None:
        def work() -> Printed:
            try:
                record = self.outbox.by_folio(folio.strip().upper())
            except KeyError:
                return refused("attendant.unknown_folio", folio)
            if record.state not in RECEIPT_STATES:
                return refused("attendant.no_receipt_for_folio", folio)
            return self._print_copy(record)

        return run_print(self.service._device("printer"), self.service.call_soon, work, on_done)

    def _print_copy(self, record: Record) -> Printed:
        printer = self.service._device("printer")
        receipt = replace(self.service.receipt(record), copy=True)  # "*** COPIA / REIMPRESIÓN ***"
        printed = print_copies([lambda: printer.print_receipt(receipt)], record.folio)
        event(log, "attendant.reprinted", folio=record.folio, ok=printed.ok, reason=printed.reason)
        return printed

"""Paying a bill at the kiosk, step by step, for the screens: account → bill → payment → receipt.

The money-handling guarantees live in kiosk.transactions (the outbox records a transaction
before any money is taken); this object keeps where this citizen is in the payment and runs
every step that touches the disk, the network or a device on a worker thread (a durable commit
can take tens of milliseconds on a kiosk's SD card); results come back through `call_soon`.
A session wipe calls `reset()`, which cancels a payment that has not taken money yet; one that
has stays in the outbox. From "pay" to its ending the flow holds the navigator and pauses the idle
wipe: nothing leaves a payment (Atrás, Inicio, language, idle, staff) but one of its endings.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.catalog.model import kiosk_actions
from kiosk.core.errors import code_of, message_of
from kiosk.core.i18n import N_
from kiosk.core.threads import CallSoon, Runner, run_in_thread
from kiosk.transactions.errors import TECHNICAL_PROBLEM

HOLD = "payment"  # the navigator's hold and the idle pause while a payment runs

ACCOUNT_EXAMPLES = {"clave_catastral": "001-002-003-0001", "numero_contrato_agua": "AGU-100234"}


@dataclass
class Problem:
    """Why a step cannot go on: the service's reason code (logs, tests) and its sentence as a
    Spanish msgid, translated by the screen that shows it."""

    code: str
    message: str

    def text(self, gettext: Callable[[str], str]) -> str:
        """The sentence in the reader's language: pass the translator's gettext."""
        return gettext(self.message)


class PaymentFlow:
    def __init__(self, service: Any, call_soon: CallSoon, run_in_background: Runner = run_in_thread,
                 navigator: Any = None, idle: Any = None):
        self.service = service
        self.call_soon = call_soon
        self.run = run_in_background
        self.navigator, self.idle = navigator, idle  # kiosk.shell.navigation.Navigator, kiosk.shell.idle.IdleMonitor
        self.reset()

    def _hold(self, holding: bool) -> None:
        """While money can come in nobody leaves and nothing wipes the screen."""
        if self.navigator is not None:
            (self.navigator.hold if holding else self.navigator.release)(HOLD)
        if self.idle is not None:
            (self.idle.pause if holding else self.idle.resume)(HOLD)

    def reset(self) -> None:
        tx = getattr(self, "transaction", None)
        if tx is not None:
            self.run(lambda: self._cancel_if_unpaid(tx, "session.wiped"))  # nothing paid: nothing kept
        self.procedure: Mapping[str, Any] | None = None
        self.mode = "pay"  # or "request": a certificate for the identified citizen
        self.identity: Any = None  # personal data: lives only in this session
        self.account_kind = ""
        self.reference = ""
        self.bill: Any = None
        self.method = ""
        self.transaction: Any = None
        self.outcome: Any = None
        self._finished: Callable[[Any], None] = lambda _outcome: None
        self._attempt: object | None = None  # the payment this flow's callbacks belong to
        self.on_notice: Callable[[str, int], None] = lambda _code, _cents: None  # the paying screen sets it

    # -- steps ----------------------------------------------------------------------------------
    def start(self, procedure: Mapping[str, Any]) -> None:
        self.reset()
        self.procedure = procedure
        self.account_kind = kiosk_actions(procedure).get("account") or "clave_catastral"

    def start_request(self, procedure: Mapping[str, Any]) -> None:
        self.reset()
        self.procedure = procedure
        self.mode = "request"

    def identify(self, method: str, name: str, id_number: str = "") -> None:
        from kiosk.transactions.service import Identity

        self.identity = Identity(method=method, name=name.strip(), id_number=id_number.strip())

    def summary(self) -> dict[str, Any]:
        """What the bill screen shows: a looked-up debt, or the certificate's price today."""
        if self.mode == "pay":
            bill = self.bill
            return {"title": bill.concept, "account": bill.account_ref, "amount": bill.amount_cents,
                    "discounts": bill.discounts, "total": bill.total_cents, "card_fee": bill.card_fee_cents}
        # The service's own pricing, so what is shown is exactly what will be charged.
        price = self.service._procedure_amount(self.procedure, dt.date.today())
        return {"title": "", "person": self.identity.name, "amount": price, "discounts": (), "total": price,
                "card_fee": 0}

    def lookup(self, reference: str, on_done: Callable[[Problem | None], None]) -> None:
        """Ask the API what this account owes (off the UI thread); on_done(None) when the bill is ready."""
        self.reference = reference.strip().upper()
        kind, ref = self.account_kind, self.reference

        def work() -> None:
            try:
                bill = self.service.lookup(kind, ref)
            except Exception as error:  # Refused carries the reason; anything else is a technical fault
                problem = _problem(error)
                self.call_soon(lambda: on_done(problem))
                return
            self.call_soon(lambda: self._bill_ready(bill, on_done))

        self.run(work)

    def _bill_ready(self, bill: Any, on_done: Callable[[Problem | None], None]) -> None:
        if self.procedure is not None and not bill.procedure_id:
            from dataclasses import replace

            bill = replace(bill, procedure_id=str(self.procedure.get("id", "")))
        self.bill = bill
        from kiosk.transactions.service import Refused  # loaded with the service, off the UI thread

        on_done(_problem(Refused("bill.paid_up")) if bill.paid_up else None)

    @property
    def online(self) -> bool:
        return bool(self.service.online)

    def use_printed_bill(self, reference: str, amount_cents: int, concept: str) -> None:
        """Offline: the amount printed on the scanned bill stands in for the lookup (cash only)."""
        from dataclasses import replace

        self.reference = reference.strip().upper()
        bill = self.service.bill_from_reference(self.account_kind, self.reference, amount_cents, concept)
        self.bill = replace(bill, procedure_id=str((self.procedure or {}).get("id", "")))

    def methods(self, on_done: Callable[[dict[str, Problem | None]], None]) -> None:
        """Card and cash, each available (None) or with the reason it is not, right now. The
        storage check behind it commits to disk, so it runs off the UI thread and on_done comes
        back through call_soon (a payment started meanwhile is refused by the same check)."""

        def work() -> None:
            availability = self.service.availability()
            found: dict[str, Problem | None] = {}
            for method, code in (("card", availability.card), ("cash", availability.cash)):
                found[method] = None if code == "ok" else Problem(code, availability.message(code) or
                                                                  TECHNICAL_PROBLEM)
            self.call_soon(lambda: on_done(found))

        self.run(work)

    def cash_acceptance(self) -> Any:
        return self.service.cash_acceptance()

    def change_limit(self) -> int:
        """The most change the kiosk can give now (0: exact amount only)."""
        return int(self.service.change_limit_cents())

    def still_here(self) -> None:
        """A touch during a cash payment: the citizen has not walked away."""
        tx = self.transaction
        if tx is not None and self.method == "cash" and self.outcome is None:
            self.run(lambda: self.service.touch_cash(tx))

    def pay(self, method: str, on_started: Callable[[Any], None], on_credit: Callable[[Any], None],
            on_done: Callable[[Any], None], on_refused: Callable[[Problem], None]) -> None:
        """Record the transaction durably, then take the money. All of it runs off the UI thread;
        on_started(tx) once recorded and the device asked, or on_refused(problem) if it cannot
        start; then on_credit(Progress) for cash after each credit and on_done(outcome) at the end;
        `on_notice(code, cents)` when a bill is handed back or the acceptor fails mid-payment."""
        if self.method and self.outcome is None:
            # A second touch on "Pagar" while the first payment runs must never start another.
            on_refused(Problem("payment.in_progress", N_("Ya hay un pago en curso.")))
            return
        if self.outcome is not None and (self.outcome.ok or self.outcome.needs_person):
            # This bill or request is paid, or money was taken and a person finishes it: paying
            # it again would charge the citizen twice.
            on_refused(Problem("payment.done", N_("Este pago ya se realizó.")))
            return
        self.method, self.outcome = method, None
        attempt = self._attempt = object()

        def finished(outcome: Any) -> None:
            if self.outcome is not None or self._attempt is not attempt:
                return  # already settled (a cancel raced with the last coin), or a wiped session's
            self.outcome = outcome
            if outcome.transaction is not None:
                self.transaction = outcome.transaction
            self._hold(False)  # the acceptor is inhibited, the money settled: the ending shows
            on_done(outcome)

        def refused(problem: Problem) -> None:
            if self._attempt is not attempt:
                return
            self.method = ""  # nothing started: the citizen may choose again
            self._hold(False)
            on_refused(problem)

        self._finished = finished
        previous = self.transaction
        self._hold(True)

        def work() -> None:
            try:
                if previous is not None:
                    self._cancel_if_unpaid(previous, "citizen.retried")
                tx = self._begin(method)
                self.transaction = tx
                self._take_money(tx, method, on_credit, finished)
                # Only now can "Cancelar" reach the running payment (the acceptor is enabled, the
                # terminal asked): a cancel before would find nothing to stop.
                self.call_soon(lambda: on_started(tx))
            except Exception as error:  # Refused, storage or device faults: said plainly, nothing taken
                problem = _problem(error)
                self.call_soon(lambda: refused(problem))

        self.run(work)

    def _begin(self, method: str) -> Any:
        if self.mode == "request":
            return self.service.begin(self.procedure, method, person=self.identity)
        return self.service.begin(self.bill, method)

    def _take_money(self, tx: Any, method: str, on_credit: Callable[[Any], None],
                    finished: Callable[[Any], None]) -> None:
        if method == "card":
            self.service.pay_by_card(tx, finished)
        elif method == "cash":
            self.service.pay_by_cash(tx, on_credit, finished, self.on_notice)
        else:  # a free certificate: nothing to pay, it is queued for the API to issue
            from kiosk.transactions.service import PaymentOutcome

            record = self.service.submit_free(tx)
            self.call_soon(lambda: finished(PaymentOutcome(True, record.state, "ok", transaction=record)))

    def cancel_card(self) -> None:
        """"Cancelar" while the terminal waits: the outcome still arrives through on_done."""
        tx = self.transaction
        if tx is not None and self.method == "card" and self.outcome is None:
            self.service.cancel_card(tx)

    def print_slip(self) -> None:
        """A paper with the folio for a citizen whose payment waits for a person."""
        tx = self.transaction
        if tx is not None:
            self.run(lambda: self.service.print_slip(tx))

    def cancel_cash(self) -> None:
        """Stop taking cash; the money in goes back (hoppers, else a voucher). The ending comes
        through on_done, from whichever of the intake and this call has it first."""
        tx, finished = self.transaction, self._finished
        if tx is not None and self.method == "cash":
            self.run(lambda: self._deliver_outcome(finished, self.service.cancel_cash(tx)))

    def _deliver_outcome(self, callback: Callable[[Any], None], outcome: Any) -> None:
        if outcome is not None:
            self._deliver(callback, outcome)

    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        self.call_soon(lambda: callback(value))

    def _cancel_if_unpaid(self, tx: Any, reason: str) -> None:
        if self.service.get(tx.key).state == "created":
            self.service.cancel(tx, reason=reason)

    def obtain_lines(self, writer: Any, issued: bool) -> list[str]:
        """For a request: what the citizen gets, when and where (kiosk.flows.procedure_page.PageWriter)."""
        if self.mode != "request" or self.procedure is None:
            return []
        return writer.how_to_obtain(self.procedure, issued)

    def print_receipt(self, on_done: Callable[[bool, str], None], notes: tuple[str, ...] = ()) -> None:
        def printed(result: Any, error: BaseException | None) -> None:
            ok = result is not None and bool(result.completed)
            if ok:
                on_done(True, "")
            elif error is not None:
                on_done(False, code_of(error))
            else:
                on_done(False, (result.reason if result is not None else "") or "printer.error")

        tx = self.transaction
        self.run(lambda: self.service.print_receipt(tx, printed, notes))  # it reads the outbox first

    def when_issued(self, on_ready: Callable[[bool], None], wait_s: float = 15.0, poll_s: float = 0.5) -> None:
        """on_ready(issued) once the API has confirmed (or refused) the request, or after `wait_s`
        (offline): the receipt then carries the download link (issued), or the provisional signature."""
        tx = self.transaction
        settled = ("confirmed", "rejected", "needs_attendant")

        def work() -> None:
            waited = threading.Event()
            state = ""
            for _ in range(int(wait_s / poll_s)):
                state = self.service.get(tx.key).state if self.transaction is tx else ""
                if self.transaction is not tx or state in settled:
                    break
                waited.wait(poll_s)
            if self.transaction is tx:  # not wiped meanwhile
                issued = state == "confirmed"
                self.call_soon(lambda: on_ready(issued))

        self.run(work)

    @property
    def folio(self) -> str:
        return self.transaction.folio if self.transaction is not None else ""


def _problem(error: Exception) -> Problem:
    code = code_of(error)
    return Problem(code, message_of(error) or TECHNICAL_PROBLEM)


def open_transactions_in_background(config: Any, adapters: Mapping[str, Any], call_soon: CallSoon,
                                   ready: Callable[[Any], None]) -> None:
    """Open the outbox and start the service on a worker thread; `ready(service)` on the UI thread."""

    def work() -> None:
        service = open_transactions(config, adapters, call_soon)
        if service is not None:
            call_soon(lambda: ready(service))

    run_in_thread(work, "transactions-open")


def open_transactions(config: Any, adapters: Mapping[str, Any], call_soon: CallSoon) -> Any | None:
    """The transaction service for this kiosk, started; None (and a logged reason) when its
    storage cannot be opened, in which case the kiosk takes no money at all."""
    import logging

    from kiosk.core.logs import event
    from kiosk.transactions import ApiClient, TransactionService
    from offline_cache.outbox import Outbox

    settings = config.transactions
    try:
        outbox = Outbox(config.data_path / "outbox.sqlite", busy_timeout_ms=settings.busy_timeout_ms,
                        min_free_bytes=int(settings.min_free_mb * 1024 * 1024))
        api = ApiClient(config.api.base_url, timeout_s=config.api.timeout_s)
        service = TransactionService(config, outbox, api, adapters, call_soon)
        service.start()
    except Exception as error:  # a broken outbox must stop payments, never the kiosk
        event(logging.getLogger("kiosk.payments"), "payments.unavailable", level=logging.ERROR,
              reason=type(error).__name__, detail=str(error))
        return None
    return service

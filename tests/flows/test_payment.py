"""The payment session (kiosk.flows.payment.PaymentFlow) from "Pagar" to its ending, with a fake
transaction service whose card terminal and cash acceptor answer when the test says so.

What a citizen must be able to rely on: the session ends in exactly one of its endings (paid;
cancelled with the money back; cancelled with a voucher; handed to a person with the folio), and
while money can come in nothing takes them away from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from devices.contract import DeviceError
from kiosk.core.i18n import Translator
from kiosk.flows.payment import PaymentFlow
from kiosk.flows.procedure_page import PageWriter, format_cents
from kiosk.shell.idle import IdlePhase
from kiosk.transactions.cash_intake import Progress
from kiosk.transactions.errors import Refused
from kiosk.transactions.service import Availability, Bill, PaymentOutcome
from tests.flows.conftest import IDLE_TIMEOUT_S, IDLE_WARNING_S, at_once

SPANISH, ENGLISH = Translator("es").gettext, Translator("en").gettext

PREDIAL = {"id": "predial", "name": {"es": "Pago del predial"},
           "channels": [{"type": "kiosk", "kiosk": {"pay": True, "account": "clave_catastral"}}]}
CERTIFICATE = {"id": "constancia", "name": {"es": "Constancia de no adeudo"},
               "outputs": [{"name": {"es": "Constancia"}}], "offices": [{"name": {"es": "Tesorería"}}]}
ACCOUNT = "001-002-003-0001"


def bill(total_cents: int = 35_000, paid_up: bool = False) -> Bill:
    return Bill("clave_catastral", ACCOUNT, "Impuesto predial 2026", total_cents, (), total_cents, 1_200,
                "2026-03-31", paid_up)


@dataclass
class Tx:
    key: str
    folio: str
    amount_cents: int
    method: str
    state: str = "created"
    inserted_cents: int = 0


@dataclass
class FakeTransactions:
    """kiosk.transactions.TransactionService as the flow sees it. Nothing happens on a device
    until the test calls `approve`, `decline`, `lose_card_answer` or `insert`."""

    bills: dict[str, Bill] = field(default_factory=lambda: {ACCOUNT: bill()})
    online: bool = True
    card: str = "ok"
    cash: str = "ok"
    hoppers_can_return: bool = True
    refuse_begin: str = ""
    lookup_fault: Exception | None = None
    printer_fault: str = ""
    request_price_cents: int = 8_000
    records: dict[str, Tx] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    card_done: Any = None
    cash_callbacks: Any = None

    # -- what the bill screen asks --------------------------------------------------------
    def lookup(self, kind: str, ref: str) -> Bill:
        self.calls.append(("lookup", kind, ref))
        if self.lookup_fault is not None:
            raise self.lookup_fault
        if ref not in self.bills:
            raise Refused("account.not_found")
        return self.bills[ref]

    def bill_from_reference(self, kind: str, ref: str, amount_cents: int, concept: str) -> Bill:
        return Bill(kind, ref, concept, amount_cents, (), amount_cents, 0, "", False, offline=True)

    def availability(self) -> Availability:
        card = self.card if self.online else "network.card_needs_network"
        return Availability(self.online, True, card, self.cash, "ok" if self.online else "network.lookup_needs_network",
                            "ok")

    def _procedure_amount(self, procedure: Any, day: dt.date) -> int:
        return self.request_price_cents

    def cash_acceptance(self) -> Any:
        return SimpleNamespace(coins_cents=(100, 500, 1000), bills_cents=(2000, 5000, 10000))

    def change_limit_cents(self) -> int:
        return 10_000

    # -- the transaction ------------------------------------------------------------------
    def begin(self, subject: Any, method: str, person: Any = None) -> Tx:
        self.calls.append(("begin", method, person))
        if self.refuse_begin:
            raise Refused(self.refuse_begin)
        number = len(self.records) + 1
        amount = subject.total_cents if isinstance(subject, Bill) else self.request_price_cents
        tx = Tx(f"key-{number}", f"EMO-01-260114-{number:04d}", amount, method)
        self.records[tx.key] = tx
        return tx

    def get(self, key: str) -> Tx:
        return self.records[key]

    def cancel(self, tx: Tx, reason: str = "citizen.cancelled") -> Tx:
        self.calls.append(("cancel", tx.folio, reason))
        self.records[tx.key].state = "cancelled"
        return self.records[tx.key]

    def submit_free(self, tx: Tx) -> Tx:
        self.calls.append(("submit_free", tx.folio))
        tx.state = "queued"
        return tx

    # -- the card terminal ----------------------------------------------------------------
    def pay_by_card(self, tx: Tx, on_done: Any) -> None:
        self.calls.append(("pay_by_card", tx.folio))
        tx.state = "paying"
        self.card_done = (tx, on_done)

    def cancel_card(self, tx: Tx) -> None:
        self.calls.append(("cancel_card", tx.folio))

    def approve(self) -> None:
        tx, on_done = self.card_done
        tx.state = "queued"
        on_done(PaymentOutcome(True, "queued", "ok", transaction=tx))

    def decline(self) -> None:
        tx, on_done = self.card_done
        tx.state = "created"  # nothing was taken: it may be paid again (or cancelled)
        on_done(PaymentOutcome(False, "created", "payment.declined", transaction=tx))

    def lose_card_answer(self) -> None:
        tx, on_done = self.card_done
        tx.state = "needs_attendant"
        on_done(PaymentOutcome(False, "needs_attendant", "card.outcome_unknown",
                               f"Conserve este folio: {tx.folio}.", transaction=tx))

    # -- the cash acceptor ----------------------------------------------------------------
    def pay_by_cash(self, tx: Tx, on_progress: Any, on_done: Any, on_notice: Any) -> None:
        self.calls.append(("pay_by_cash", tx.folio))
        tx.state = "paying"
        self.cash_callbacks = (tx, on_progress, on_done, on_notice)

    def insert(self, cents: int) -> None:
        tx, on_progress, on_done, _notice = self.cash_callbacks
        tx.inserted_cents += cents
        on_progress(Progress(tx.inserted_cents, tx.amount_cents, cents, self.change_limit_cents()))
        if tx.inserted_cents >= tx.amount_cents:
            tx.state = "queued"
            on_done(PaymentOutcome(True, "queued", "ok", transaction=tx,
                                   extra={"change_paid_cents": tx.inserted_cents - tx.amount_cents}))

    def hand_back_bill(self, cents: int) -> None:
        self.cash_callbacks[3]("cash.returned", cents)

    def touch_cash(self, tx: Tx) -> None:
        self.calls.append(("touch_cash", tx.folio))

    def cancel_cash(self, tx: Tx) -> PaymentOutcome:
        self.calls.append(("cancel_cash", tx.folio))
        if tx.state == "queued":  # the last coin won the race: the payment stands
            return PaymentOutcome(True, "queued", "ok", transaction=tx)
        taken = tx.inserted_cents
        if taken == 0:
            tx.state = "created"
            return PaymentOutcome(False, "created", "cash.cancelled", transaction=tx)
        tx.state = "cancelled"
        if self.hoppers_can_return:
            return PaymentOutcome(False, "cancelled", "cash.returned", transaction=tx,
                                  extra={"paid_cents": taken, "returned_cents": taken, "owed_cents": 0, "voucher": ""})
        return PaymentOutcome(False, "cancelled", "cash.refund_voucher", transaction=tx,
                              extra={"paid_cents": taken, "returned_cents": 0, "owed_cents": taken,
                                     "voucher": "EMO-01-V0007"})

    # -- paper ----------------------------------------------------------------------------
    def print_receipt(self, tx: Tx, on_done: Any, notes: tuple[str, ...] = ()) -> None:
        self.calls.append(("print_receipt", tx.folio, notes))
        if self.printer_fault:
            on_done(None, DeviceError(self.printer_fault, "the fake printer says so"))
        else:
            on_done(SimpleNamespace(completed=True), None)

    def print_slip(self, tx: Tx) -> None:
        self.calls.append(("print_slip", tx.folio))

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == name]


class Screen:
    """What the paying screen is told, in order (the callbacks PaymentFlow.pay takes)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def started(self, tx: Any) -> None:
        self.events.append(("started", tx))

    def credit(self, progress: Progress) -> None:
        self.events.append(("credit", progress))

    def done(self, outcome: PaymentOutcome) -> None:
        self.events.append(("done", outcome))

    def refused(self, problem: Any) -> None:
        self.events.append(("refused", problem))

    def of(self, kind: str) -> list[Any]:
        return [value for name, value in self.events if name == kind]


@pytest.fixture
def service() -> FakeTransactions:
    return FakeTransactions()


def methods_now(flow: PaymentFlow) -> dict:
    """The methods the bill screen shows (checked in the background: here at once)."""
    answers: list[dict] = []
    flow.methods(answers.append)
    assert len(answers) == 1
    return answers[0]


@pytest.fixture
def flow(service: FakeTransactions, shell: SimpleNamespace) -> PaymentFlow:
    flow = PaymentFlow(service, at_once, run_in_background=at_once, navigator=shell.navigator, idle=shell.idle)
    shell.sessions.on_wipe(flow.reset)  # as the app wires it
    return flow


def looked_up(flow: PaymentFlow, reference: str = ACCOUNT) -> list[Any]:
    flow.start(PREDIAL)
    problems: list[Any] = []
    flow.lookup(reference, problems.append)
    return problems


def pay(flow: PaymentFlow, method: str) -> Screen:
    screen = Screen()
    flow.pay(method, screen.started, screen.credit, screen.done, screen.refused)
    return screen


def cash_in_progress(flow: PaymentFlow, service: FakeTransactions, *credits: int) -> Screen:
    assert looked_up(flow) == [None]
    screen = pay(flow, "cash")
    for cents in credits:
        service.insert(cents)
    return screen


def assert_held(shell: SimpleNamespace) -> None:
    """Nothing leaves the payment: Atrás, Inicio, another screen, the language, a wipe, idle time."""
    screen = shell.navigator.current
    assert shell.navigator.held  # the app sends "Ayuda" without a dialog and refuses the staff gesture
    assert not shell.navigator.back() and not shell.navigator.home() and not shell.navigator.go("menu")
    assert not shell.sessions.set_language("en")
    assert shell.translator.language == "es"
    assert not shell.sessions.end("idle")
    shell.clock.advance(IDLE_TIMEOUT_S + IDLE_WARNING_S + 600)
    assert shell.idle.state().phase is IdlePhase.ACTIVE  # never "¿Sigue ahí?" over the money
    assert shell.navigator.current == screen


def assert_released(shell: SimpleNamespace) -> None:
    assert not shell.navigator.held and not shell.idle.paused
    state = shell.idle.state()
    assert state.phase is IdlePhase.ACTIVE and state.seconds_left == pytest.approx(IDLE_TIMEOUT_S)  # a fresh budget
    shell.clock.advance(IDLE_TIMEOUT_S + IDLE_WARNING_S)
    assert shell.idle.state().phase is IdlePhase.EXPIRED  # a citizen who walks away is wiped again


# -- the endings ---------------------------------------------------------------------------------
def test_paid_by_card_the_receipt_is_printed_and_the_bill_cannot_be_paid_twice(flow, service, shell):
    assert looked_up(flow) == [None]
    screen = pay(flow, "card")
    [tx] = screen.of("started")
    assert service.called("pay_by_card") == [("pay_by_card", tx.folio)]
    assert_held(shell)
    service.approve()
    [outcome] = screen.of("done")
    assert outcome.ok and flow.outcome is outcome and flow.folio == tx.folio
    assert_released(shell)
    printed: list[tuple[bool, str]] = []
    flow.print_receipt(lambda ok, code: printed.append((ok, code)))
    assert printed == [(True, "")] and service.called("print_receipt")[0][1] == tx.folio
    again = pay(flow, "cash")
    assert [p.code for p in again.of("refused")] == ["payment.done"]
    assert len(service.called("begin")) == 1, "a second charge for the same bill"


def test_paid_in_cash_with_the_change_reported(flow, service, shell):
    screen = cash_in_progress(flow, service, 20_000)
    assert_held(shell)
    service.insert(20_000)
    [outcome] = screen.of("done")
    assert outcome.ok and outcome.extra["change_paid_cents"] == 5_000
    assert_released(shell)


def test_cancelled_cash_gives_the_money_back_and_the_citizen_may_pay_again(flow, service, shell):
    screen = cash_in_progress(flow, service, 20_000)
    [tx] = screen.of("started")
    flow.cancel_cash()
    [outcome] = screen.of("done")
    assert not outcome.ok and not outcome.needs_person
    assert outcome.reason == "cash.returned" and outcome.extra["returned_cents"] == 20_000
    assert_released(shell)
    retry = pay(flow, "cash")
    assert retry.of("refused") == [] and len(retry.of("started")) == 1
    assert service.called("cancel") == [], "a transaction already cancelled is not cancelled again"
    assert retry.of("started")[0].folio != tx.folio


def test_cancelled_cash_the_hoppers_cannot_return_ends_with_a_voucher_and_the_folio(flow, service, shell):
    service.hoppers_can_return = False
    screen = cash_in_progress(flow, service, 5_000, 10_000)
    [tx] = screen.of("started")
    flow.cancel_cash()
    [outcome] = screen.of("done")
    assert outcome.reason == "cash.refund_voucher"
    assert outcome.extra["voucher"] and outcome.extra["owed_cents"] == 15_000  # everything taken is owed
    assert flow.folio == tx.folio  # the screen asks the citizen to keep it
    assert_released(shell)  # the attendant it calls can reach the kiosk


def test_an_unknown_card_outcome_goes_to_a_person_with_the_folio_and_is_never_charged_again(flow, service, shell):
    assert looked_up(flow) == [None]
    screen = pay(flow, "card")
    [tx] = screen.of("started")
    service.lose_card_answer()
    [outcome] = screen.of("done")
    assert outcome.needs_person and not outcome.ok
    assert flow.folio == tx.folio and tx.folio in outcome.text()
    flow.print_slip()
    assert service.called("print_slip") == [("print_slip", tx.folio)]  # a paper with the folio
    assert_released(shell)
    assert [p.code for p in pay(flow, "cash").of("refused")] == ["payment.done"]
    assert [p.code for p in pay(flow, "card").of("refused")] == ["payment.done"]
    assert len(service.called("begin")) == 1
    assert shell.sessions.end("idle")  # the wipe does not cancel what may have been charged
    assert service.called("cancel") == [] and tx.state == "needs_attendant"


def test_a_declined_card_charges_nothing_and_the_citizen_may_pay_in_cash(flow, service, shell):
    assert looked_up(flow) == [None]
    card = pay(flow, "card")
    [declined_tx] = card.of("started")
    service.decline()
    [outcome] = card.of("done")
    assert not outcome.ok and not outcome.needs_person and outcome.reason == "payment.declined"
    assert_released(shell)
    assert methods_now(flow) == {"card": None, "cash": None}  # both ways are still offered
    cash = pay(flow, "cash")
    [cash_tx] = cash.of("started")
    assert cash.of("refused") == []
    assert service.called("cancel") == [("cancel", declined_tx.folio, "citizen.retried")]
    assert cash_tx.method == "cash" and cash_tx.folio != declined_tx.folio
    service.insert(50_000)
    assert cash.of("done")[0].ok


# -- while money can come in ---------------------------------------------------------------------
def test_each_credit_says_what_is_in_out_of_what_and_what_is_missing(flow, service, shell):
    screen = cash_in_progress(flow, service, 20_000, 10_000)
    progress = [(p.inserted_cents, p.total_cents, p.remaining_cents) for p in screen.of("credit")]
    assert progress == [(20_000, 35_000, 15_000), (30_000, 35_000, 5_000)]
    # The paying screen writes "Ha ingresado {inserted} de {total}. Faltan {remaining}." with
    # kiosk.flows.procedure_page.format_cents (screens/bill.py `pesos`):
    last = screen.of("credit")[-1]
    assert (format_cents(last.inserted_cents), format_cents(last.total_cents), format_cents(last.remaining_cents)) \
        == ("$300.00 MXN", "$350.00 MXN", "$50.00 MXN")
    service.insert(10_000)
    assert screen.of("credit")[-1].remaining_cents == 0  # overpaid: nothing is "missing" below zero


def test_a_bill_handed_back_is_told_and_the_payment_stays_held(flow, service, shell):
    assert looked_up(flow) == [None]
    notices: list[tuple[str, int]] = []
    flow.on_notice = lambda code, cents: notices.append((code, cents))  # as the paying screen sets it
    pay(flow, "cash")
    service.insert(10_000)
    service.hand_back_bill(50_000)
    assert notices == [("cash.returned", 50_000)]
    assert_held(shell)


def test_a_touch_during_cash_tells_the_intake_the_citizen_is_there(flow, service, shell):
    flow.still_here()
    assert service.called("touch_cash") == []  # no payment: nothing to tell
    screen = cash_in_progress(flow, service)
    flow.still_here()
    assert service.called("touch_cash") == [("touch_cash", screen.of("started")[0].folio)]


def test_a_second_touch_on_pay_starts_no_second_payment(flow, service, shell):
    assert looked_up(flow) == [None]
    first = pay(flow, "card")
    second = pay(flow, "card")
    third = pay(flow, "cash")
    assert [p.code for p in second.of("refused") + third.of("refused")] == ["payment.in_progress"] * 2
    assert len(service.called("begin")) == 1 and len(first.of("started")) == 1
    assert shell.navigator.held  # the refusals did not release the running payment


def test_a_cancel_racing_the_last_coin_ends_the_payment_once(flow, service, shell):
    screen = cash_in_progress(flow, service, 35_000)
    flow.cancel_cash()
    assert [outcome.ok for outcome in screen.of("done")] == [True]


def test_cancel_reaches_the_card_terminal_only_while_it_waits(flow, service, shell):
    flow.cancel_card()
    assert service.called("cancel_card") == []
    assert looked_up(flow) == [None]
    pay(flow, "card")
    flow.cancel_card()
    assert len(service.called("cancel_card")) == 1
    service.decline()
    flow.cancel_card()
    assert len(service.called("cancel_card")) == 1


def test_a_refused_start_releases_the_kiosk_and_the_citizen_may_choose_again(flow, service, shell):
    service.refuse_begin = "printer.not_ready"
    assert looked_up(flow) == [None]
    screen = pay(flow, "cash")
    [problem] = screen.of("refused")
    assert problem.code == "printer.not_ready"
    assert "No se cobró nada" in problem.text(SPANISH) and problem.text(ENGLISH) != problem.text(SPANISH)
    assert screen.of("started") == [] and flow.method == ""
    assert_released(shell)
    service.refuse_begin = ""
    assert pay(flow, "cash").of("refused") == []


def test_a_device_fault_at_the_start_is_said_plainly(flow, service, shell):
    assert looked_up(flow) == [None]
    service.pay_by_card = lambda tx, on_done: (_ for _ in ()).throw(OSError("/dev/ttyUSB1 gone"))
    screen = pay(flow, "card")
    [problem] = screen.of("refused")
    assert "/dev/ttyUSB1" not in problem.text(SPANISH)  # no device paths or tracebacks on the screen
    assert problem.text(SPANISH) and problem.text(ENGLISH)
    assert not shell.navigator.held


# -- the session's wipe --------------------------------------------------------------------------
def test_a_wipe_cancels_an_unpaid_transaction_and_keeps_a_paid_one(flow, service, shell):
    assert looked_up(flow) == [None]
    declined = pay(flow, "card")
    service.decline()
    assert shell.sessions.end("idle")
    assert service.called("cancel") == [("cancel", declined.of("started")[0].folio, "session.wiped")]
    assert flow.transaction is None and flow.bill is None and flow.folio == ""  # nothing of the citizen stays
    shell.sessions.begin()
    assert looked_up(flow) == [None]
    paid = pay(flow, "card")
    service.approve()
    assert shell.sessions.end("idle")
    assert len(service.called("cancel")) == 1 and paid.of("started")[0].state == "queued"


# -- the bill --------------------------------------------------------------------------------------
def test_an_unknown_account_is_told_in_both_languages(flow, service):
    [problem] = looked_up(flow, "999-999")
    assert problem.code == "account.not_found"
    assert problem.text(SPANISH) != problem.text(ENGLISH) and problem.text(SPANISH)
    assert service.called("lookup") == [("lookup", "clave_catastral", "999-999")]


def test_a_paid_up_account_offers_nothing_to_pay(flow, service):
    service.bills[ACCOUNT] = bill(paid_up=True)
    [problem] = looked_up(flow)
    assert problem is not None and problem.code == "bill.paid_up"


def test_a_technical_fault_in_the_lookup_is_said_without_the_detail(flow, service):
    service.lookup_fault = ConnectionError("10.0.0.7:443 refused")
    [problem] = looked_up(flow)
    assert problem is not None and "10.0.0.7" not in problem.text(SPANISH) + problem.text(ENGLISH)


def test_the_bill_keeps_the_procedure_it_was_paid_through(flow, service):
    assert looked_up(flow, " 001-002-003-0001 ") == [None]  # as typed, with spaces
    assert flow.reference == ACCOUNT and flow.bill.procedure_id == "predial"
    summary = flow.summary()
    assert (summary["account"], summary["total"], summary["card_fee"]) == (ACCOUNT, 35_000, 1_200)


def test_offline_the_card_says_why_and_a_printed_bill_is_paid_in_cash(flow, service):
    service.online = False
    flow.start(PREDIAL)
    flow.use_printed_bill("001-002-003-0001", 12_300, "Predial 2026")
    assert flow.bill.total_cents == 12_300 and flow.bill.procedure_id == "predial"
    methods = methods_now(flow)
    assert methods["cash"] is None
    assert methods["card"].code == "network.card_needs_network" and methods["card"].text(SPANISH)
    assert not flow.online


# -- a certificate request -------------------------------------------------------------------------
def test_a_free_request_is_queued_and_the_screen_says_where_to_get_it(flow, service, shell):
    service.request_price_cents = 0
    flow.start_request(CERTIFICATE)
    flow.identify("typed", "  Ana Ruiz López ", " RULA800101MDFZPN09 ")
    assert flow.summary()["person"] == "Ana Ruiz López" and flow.summary()["total"] == 0
    screen = pay(flow, "free")
    [outcome] = screen.of("done")
    assert outcome.ok and service.called("submit_free")
    assert service.called("begin")[0][2].id_number == "RULA800101MDFZPN09"
    assert not shell.navigator.held
    ready: list[bool] = []
    service.records[outcome.transaction.key].state = "confirmed"
    flow.when_issued(ready.append)
    assert ready == [True]
    lines = flow.obtain_lines(PageWriter(Translator("es")), issued=True)
    assert any("Constancia" in line for line in lines) and any("Tesorería" in line for line in lines)


def test_a_receipt_the_printer_could_not_print_says_why(flow, service):
    service.printer_fault = "printer.paper_out"
    assert looked_up(flow) == [None]
    pay(flow, "card")
    service.approve()
    printed: list[tuple[bool, str]] = []
    flow.print_receipt(lambda ok, code: printed.append((ok, code)))
    assert printed == [(False, "printer.paper_out")]


def test_the_hold_is_the_payment_s_own(flow, service, shell):
    """Another hold (the help desk's, a staff panel's) is not released by a payment's ending."""
    shell.navigator.hold("other")
    assert looked_up(flow) == [None]
    pay(flow, "card")
    service.approve()
    assert shell.navigator.held
    shell.navigator.release("other")
    assert not shell.navigator.held

"""After money is taken, the truth; and every credit the acceptor reports is counted.

- A card sale the terminal approved, or a note the acceptor stacked, whose outbox write then fails
  (another process holds the database longer than the busy timeout; the disk is full): the
  citizen is never told that nothing was charged and cannot pay again; the screen gets the folio
  and "a person will help"; the money event is in the fsynced journal next to the store; the
  transaction is in the attendant's list at once, and in the outbox as soon as it accepts writes
  (or at the next start, after a SIGKILL).
- Coins 50–120 ms apart, still coming when the amount is reached: every credit the simulated
  acceptor took (its own tally) is recorded against the transaction, the excess as change due,
  and the acceptor is inhibited before the payment ends.
"""

from __future__ import annotations

import random
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from devices.sim.cctalk import MXN_COINS
from kiosk.flows.payment import PaymentFlow
from kiosk.transactions import PaymentOutcome
from offline_cache import outbox as ob
from offline_cache.money_journal import MoneyJournal, journal_path
from tests.transactions.conftest import ROOT
from tests.transactions.test_service import _pay_card, _service


class Holder:
    """Another process holding the outbox's write lock for `seconds` (a shell command stuck
    mid-write, a backup...), from the moment money is taken (`start_on_money`: the service's
    witness hook runs when the device has taken it). Stopped by the test."""

    def __init__(self, path: Path, seconds: float = 60):
        self.path, self.seconds = path, seconds
        self.process: subprocess.Popen | None = None

    def start_on_money(self, service: Any, after: int = 0) -> Holder:
        """Hold the lock from the (after+1)-th time money is taken."""
        seen = []

        def hook(_folio: str, _cents: int) -> None:
            seen.append(1)
            if len(seen) > after and self.process is None:
                self.start()

        service.money_hook = hook
        return self

    def start(self) -> None:
        path, seconds = self.path, self.seconds
        script = textwrap.dedent(f"""
            import sqlite3, sys, time
            conn = sqlite3.connect({str(path)!r}, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            print("held", flush=True)
            time.sleep({seconds})
            conn.execute("ROLLBACK")
            """)
        self.process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def _water(service: Any, cents: int) -> Any:
    return service.bill_from_reference("numero_contrato_agua", "AGU-100234", cents, "Agua potable")


def _assert_truthful(outcome: PaymentOutcome, folio: str) -> None:
    assert not outcome.ok and outcome.needs_person and outcome.state == ob.NEEDS_ATTENDANT
    assert folio in outcome.text()
    assert "No se cobró" not in outcome.text() and "no se realizó" not in outcome.text().lower()


def test_card_approved_then_the_database_refuses(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url)
    bill = service.lookup("numero_contrato_agua", "AGU-100991")
    tx = service.begin(bill, "card")
    holder = Holder(service.outbox.path).start_on_money(service)
    try:
        outcome = _pay_card(service, pump, tx)
        _assert_truthful(outcome, tx.folio)
        journal = MoneyJournal(journal_path(service.outbox.path)).entries()
        assert [(e.key, e.kind, e.cents) for e in journal] == [(tx.key, "card_approved", tx.amount_cents)]
        assert journal[0].detail["masked_card"].endswith("4242")
        assert not re.search(r"\d{13,19}", journal_path(service.outbox.path).read_text())  # no card number
        waiting = {item.folio: item for item in service.attention_items()}
        assert tx.folio in waiting and waiting[tx.folio].outcomes == ()  # at once, not after a restart
    finally:
        holder.release()
    assert service.money.settle() == 1
    record = service.outbox.get(tx.key)
    assert record.state == ob.NEEDS_ATTENDANT and record.reason.startswith("money.recorded_late")
    assert record.payment["masked_card"] and record.paid_cents == tx.amount_cents
    assert not journal_path(service.outbox.path).exists()
    assert "confirm" in {item.folio: item for item in service.attention_items()}[tx.folio].outcomes


def test_the_citizen_cannot_pay_again_once_money_was_taken(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    flow = PaymentFlow(service, pump, run_in_background=lambda work: threading.Thread(target=work).start())
    flow.start({"id": "sadv:PAG-001", "kiosk": {"actions": ["pay"], "account": "numero_contrato_agua"}})
    flow.bill = service.lookup("numero_contrato_agua", "AGU-100991")
    holder = Holder(service.outbox.path).start_on_money(service)
    finished, refusals = threading.Event(), []
    try:
        flow.pay("card", lambda tx: None, lambda c, t: None, lambda outcome: finished.set(), refusals.append)
        pump.until(finished, timeout=30)
        assert flow.outcome.needs_person and flow.folio in flow.outcome.text()
        again = threading.Event()
        flow.pay("card", lambda tx: None, lambda c, t: None, lambda o: again.set(),
                 lambda problem: (refusals.append(problem), again.set()))
        pump.until(again)
        assert [problem.code for problem in refusals] == ["payment.done"]
    finally:
        holder.release()
    assert [r[0] for r in adapters["payment"].simulator.requests].count("0200") == 1  # charged once


def test_cash_credit_the_disk_refuses_is_journalled_and_stops_the_acceptor(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    tx = service.begin(_water(service, 50000), "cash")
    done, box = threading.Event(), []
    service.pay_by_cash(tx, lambda progress: None, lambda outcome: (box.append(outcome), done.set()))
    bus = adapters["cash"].simulator
    holder = Holder(service.outbox.path).start_on_money(service, after=1)  # the 2nd note's write fails
    try:
        assert bus.insert_bill(2)  # 50 pesos, recorded
        time.sleep(0.3)
        assert bus.insert_bill(4)  # 200 pesos stacked: money is in the kiosk now
        pump.until(done, timeout=30)
        _assert_truthful(box[0], tx.folio)
        assert not bus.bills.master_enabled  # the acceptor stopped taking money
        assert not bus.insert_bill(4)  # a note offered now is refused by the validator
        journalled = MoneyJournal(journal_path(service.outbox.path)).entries()
        assert [e.cents for e in journalled] == [20000]
        assert sum(e.cents for e in journalled) + sum(service.outbox.credits(tx.key)) == bus.accepted_cents()
        assert tx.folio in {item.folio for item in service.attention_items()}
    finally:
        holder.release()
    service.money.settle()
    assert sum(service.outbox.credits(tx.key)) == bus.accepted_cents() == 25000
    assert service.outbox.get(tx.key).state == ob.NEEDS_ATTENDANT


def test_a_journalled_payment_is_recorded_at_the_next_start_after_a_sigkill(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url)
    tx = service.begin(service.lookup("numero_contrato_agua", "AGU-100991"), "card")
    holder = Holder(service.outbox.path).start_on_money(service)
    try:
        _assert_truthful(_pay_card(service, pump, tx), tx.folio)
    finally:
        holder.release()
    config = tmp_path / "kiosk.toml"
    restart = subprocess.run([sys.executable, "-m", "kiosk", "load", "--transactions", "0", "--config", str(config),
                              "--drain-timeout", "5"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert restart.returncode == 0, restart.stderr
    row = sqlite3.connect(service.outbox.path).execute(
        "SELECT state, paid_cents FROM transactions WHERE key=?", (tx.key,)).fetchone()
    assert row == (ob.NEEDS_ATTENDANT, tx.amount_cents)


@pytest.mark.parametrize("seed", range(8))
def test_every_credit_the_acceptor_took_is_counted(sandbox, tmp_path: Path, seed: int) -> None:
    """A citizen feeding coins 50–120 ms apart and not stopping at the amount."""
    service, pump, adapters = _service(tmp_path, sandbox.url, devices={
        "payment": "sim://", "cash": "sim://?poll_ms=200", "printer": "sim://"})
    bus, rng = adapters["cash"].simulator, random.Random(seed)
    amount = rng.choice((1500, 2000, 3500, 5000))
    tx = service.begin(_water(service, amount), "cash")
    done, box = threading.Event(), []
    service.pay_by_cash(tx, lambda progress: None, lambda outcome: (box.append(outcome), done.set()))
    feeding = threading.Event()

    def citizen() -> None:
        while not done.is_set() and not feeding.wait(rng.uniform(0.05, 0.12)):
            bus.insert_coin(rng.choice((3, 4, 5)))  # $2, $5 and $10 coins

    thread = threading.Thread(target=citizen)
    thread.start()
    try:
        pump.until(done, timeout=30)
    finally:
        feeding.set()
        thread.join(timeout=5)
    record = service.outbox.get(tx.key)
    taken = bus.accepted_cents()
    assert box[0].ok and record.state == ob.QUEUED
    assert sum(service.outbox.credits(tx.key)) == record.paid_cents == taken  # the device's own tally
    assert record.payment["change_due_cents"] == taken - amount >= 0
    assert not bus.coins.master_enabled  # inhibited before the payment ended
    assert [MXN_COINS[p - 1] for p in bus.coins.accepted]  # the citizen really inserted coins


def test_credits_in_the_same_poll_as_the_completing_one_are_change_not_lost(sandbox, tmp_path: Path) -> None:
    """Three $5 coins land between two polls of the acceptor; the first already completes $5."""
    service, pump, adapters = _service(tmp_path, sandbox.url, devices={
        "payment": "sim://", "cash": "sim://?poll_ms=500", "printer": "sim://"})
    bus = adapters["cash"].simulator
    tx = service.begin(_water(service, 500), "cash")
    done, box = threading.Event(), []
    service.pay_by_cash(tx, lambda progress: None, lambda outcome: (box.append(outcome), done.set()))
    assert all(bus.insert_coin(4) for _ in range(3))
    pump.until(done)
    record = service.outbox.get(tx.key)
    assert box[0].ok and service.outbox.credits(tx.key) == [500, 500, 500]
    assert record.payment["change_due_cents"] == 1000


def test_a_failure_inside_the_cash_payment_still_stops_the_acceptor(sandbox, tmp_path: Path) -> None:
    """A bug in what the screen does with a credit (here: it raises) must not leave the acceptor
    taking money nobody records: the payment ends in an attendant's hands, the acceptor inhibited."""
    service, _pump, adapters = _service(tmp_path, sandbox.url)
    service.call_soon = lambda work: work()  # callbacks run in the payment's own thread
    bus = adapters["cash"].simulator
    tx = service.begin(_water(service, 15000), "cash")
    done, box = threading.Event(), []

    def broken_screen(progress: Any) -> None:
        raise RuntimeError("a screen bug")

    service.pay_by_cash(tx, broken_screen, lambda outcome: (box.append(outcome), done.set()))
    assert bus.insert_bill(3)
    assert done.wait(15)
    assert box[0].needs_person and box[0].reason.startswith("cash.intake_failed")
    assert not bus.bills.master_enabled and not bus.insert_bill(3)  # a note offered now is refused
    assert sum(service.outbox.credits(tx.key)) == bus.accepted_cents() == 10000

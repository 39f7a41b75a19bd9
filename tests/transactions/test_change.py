"""Change for real: the hoppers pay change and give money back, ledger first; the change limit is
known before any money goes in; a bill that needs more change than that is handed back from escrow;
what the hoppers cannot pay is on a kiosk voucher; a SIGKILL mid-payout never pays twice and never
forgets what was paid. Simulated ccTalk bus (coin acceptor, bill validator, hoppers), real outbox."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.core.config import load_config
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions.conftest import ROOT, write_config
from tests.transactions.test_service import _service

HOPPER = "sim://?poll_ms=20&hopper=3&hopper_coin=10&hopper_coins={coins}&hopper_rate=40{extra}"


def _with_hopper(tmp_path: Path, url: str, coins: int = 30, extra: str = "") -> tuple[Any, Any, Any]:
    return _service(tmp_path, url, devices={"payment": "sim://", "printer": "sim://",
                                            "cash": HOPPER.format(coins=coins, extra=extra)})


def _until(pump: Any, predicate: Any, timeout: float = 10.0) -> None:
    """Run the UI callbacks until `predicate()` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "never happened"
        _pump_once(pump)


def _pump_once(pump: Any) -> None:
    with contextlib.suppress(queue.Empty):
        pump.calls.get(timeout=0.05)()


def _pay(service: Any, pump: Any, bus: Any, amount: int, bills: list[int], cancel: bool = False) -> tuple[Any, list]:
    tx = service.begin(service.bill_from_reference("numero_contrato_agua", "AGU-100234", amount, "Agua"), "cash")
    done, box, notices, progress = threading.Event(), [], [], []
    service.pay_by_cash(tx, progress.append, lambda outcome: (box.append(outcome), done.set()),
                        lambda code, cents: notices.append((code, cents)))
    for bill in bills:
        seen = len(progress) + len(notices)
        bus.insert_bill(bill)
        _until(pump, lambda seen=seen: len(progress) + len(notices) > seen)
    if cancel:
        threading.Thread(target=service.cancel_cash, args=(tx,)).start()
    pump.until(done, timeout=30)
    return box[0], notices


def test_change_is_paid_by_the_hopper_and_recorded(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _with_hopper(tmp_path, sandbox.url)
    bus = adapters["cash"].simulator
    assert service.change_limit_cents() == 20000  # 200 pesos configured, 300 in the hopper
    outcome, _ = _pay(service, pump, bus, 15000, [3, 3])  # $150 with two $100 notes: $50 change
    assert outcome.ok and outcome.extra["change_paid_cents"] == 5000 and outcome.extra["change_owed_cents"] == 0
    record = service.outbox.get(outcome.transaction.key)
    assert record.payment["change_paid_cents"] == 5000
    [payout] = service.outbox.payouts(record.key)
    assert (payout.purpose, payout.state, payout.paid_cents) == ("change", "paid", 5000)
    assert bus.hopper_tally()["paid"] == 5  # the hopper's own count: five $10 coins
    assert service.cash_totals().change_owed_cents == 0


def test_a_bill_that_needs_too_much_change_is_handed_back(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _with_hopper(tmp_path, sandbox.url, coins=5)  # $50 in the hopper
    bus = adapters["cash"].simulator
    assert service.change_limit_cents() == 5000
    outcome, notices = _pay(service, pump, bus, 2000, [5, 1])  # a $500 note for $20: refused; then $20
    assert ("cash.returned", 50000) in notices
    assert outcome.ok and sum(service.outbox.credits(outcome.transaction.key)) == 2000 == bus.accepted_cents()


def test_cancelling_with_money_in_gives_it_back_from_the_hopper(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _with_hopper(tmp_path, sandbox.url)
    bus = adapters["cash"].simulator
    outcome, _ = _pay(service, pump, bus, 35680, [2], cancel=True)  # $50 in, then "Cancelar"
    assert outcome.state == ob.CANCELLED and outcome.reason == "cash.returned"
    assert outcome.extra["returned_cents"] == 5000 and outcome.extra["owed_cents"] == 0
    assert bus.hopper_tally()["paid"] == 5 and service.attention_items() == []
    assert not bus.bills.master_enabled and not bus.insert_bill(2)  # nothing taken afterwards


def test_a_cancel_that_outwaits_a_slow_payback_never_pays_twice(sandbox, tmp_path: Path) -> None:
    """'Cancelar' returns before a slow hopper has finished paying $100 back: the intake alone
    settles the payment; the money goes back once, with no voucher beside it."""
    service, pump, adapters = _with_hopper(tmp_path, sandbox.url, extra="&hopper_rate=4")  # 2.5 s
    bus = adapters["cash"].simulator
    tx = service.begin(service.bill_from_reference("numero_contrato_agua", "AGU-100234", 35680, "Agua"), "cash")
    done, box, progress = threading.Event(), [], []
    service.pay_by_cash(tx, progress.append, lambda outcome: (box.append(outcome), done.set()))
    bus.insert_bill(3)
    _until(pump, lambda: progress)
    assert service.cancel_cash(tx, wait_s=0.2) is None  # still paying back: no second settlement
    pump.until(done, timeout=30)
    assert box[0].reason == "cash.returned" and box[0].extra["returned_cents"] == 10000
    assert bus.hopper_tally()["paid"] == 10 and service.outbox.vouchers() == []
    assert [p.paid_cents for p in service.outbox.payouts(tx.key)] == [10000]


def test_a_hopper_that_jams_mid_payout_leaves_a_voucher_for_the_rest(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _with_hopper(tmp_path, sandbox.url, extra="&hopper_jam_after=2")
    bus = adapters["cash"].simulator
    outcome, _ = _pay(service, pump, bus, 1000, [2])  # $50 for $10: $40 change, the hopper jams after $20
    assert outcome.ok and outcome.extra["change_paid_cents"] == 2000 and outcome.extra["change_owed_cents"] == 2000
    voucher = service.outbox.voucher(outcome.extra["voucher"])
    assert (voucher.purpose, voucher.amount_cents, voucher.folio) == ("change", 2000, outcome.transaction.folio)
    assert bus.hopper_tally()["paid"] == 2
    totals = service.cash_totals()
    assert (totals.change_paid_cents, totals.change_owed_cents) == (2000, 2000)
    [item] = service.attention_items()
    assert item.voucher == voucher.number and item.outcomes == ("acknowledge",)


KILLED_PAYOUT = """
import os, sys, time
from devices.registry import create_adapter
from kiosk.core.config import load_config
from kiosk.transactions.change import ChangeDesk
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
config = load_config(sys.argv[1])
cash = create_adapter("cash", "cctalk", sys.argv[2])
cash.open()
box = Outbox(config.data_path / "outbox.sqlite")
tx = box.create("payment", 1000, folio="KILL-1", method="cash")
box.transition(tx.key, ob.PAYING)
box.add_credit(tx.key, 5000, "bill")
box.transition(tx.key, ob.PAID, payment={"method": "cash", "change_due_cents": 4000}, paid_cents=5000)
box.transition(tx.key, ob.QUEUED)
desk = ChangeDesk(box, cash)
real_wait = cash.wait_payout
def die_mid_payout(*args, **kwargs):
    time.sleep(float(sys.argv[3]))
    print("dispensed", flush=True)
    time.sleep(60)
cash.wait_payout = die_mid_payout
desk.pay(box.get(tx.key), 4000, "change")
"""


def test_a_sigkill_mid_payout_never_pays_twice_and_never_forgets(tmp_path: Path) -> None:
    """The kiosk dies while the hopper pays $40 of change; the next start concludes the payout from
    the hopper's own counters (the simulated bus is the peer of a socat pty: it outlives the kiosk)."""
    from devices.registry import create_adapter
    from devices.sim.cctalk import CcTalkBus, SimHopper
    from devices.sim.servers import SerialPeerThread
    from kiosk.transactions.change import ChangeDesk
    from tests.devices.conftest import PtyPair

    config_path = write_config(tmp_path, "http://127.0.0.1:9")
    bus = CcTalkBus(hoppers=[SimHopper(3, coin_cents=1000, inventory=20, rate=4.0)])
    pair = PtyPair(tmp_path)
    pair.start()
    url = f"serial://{pair.host}?baudrate=9600&timeout=0.6&poll_ms=50&payout_poll_ms=20&hopper=3&hopper_coin=10"
    try:
        with SerialPeerThread(bus, pair.device, lifetime_s=60):
            child = subprocess.Popen(["timeout", "60", sys.executable, "-c", textwrap.dedent(KILLED_PAYOUT),
                                      str(config_path), url, "0.3"], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
            try:
                assert child.stdout.readline().strip() == "dispensed", child.stderr.read()
            finally:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=10)
            assert 0 < bus.hopper_tally()["paid"] < 4  # killed mid-payout: some coins out, not all
            box = Outbox(load_config(config_path).data_path / "outbox.sqlite")
            [open_payout] = box.open_payouts()  # recorded before the dispense: never forgotten
            cash = create_adapter("cash", "cctalk", url)
            for _ in range(50):  # the killed process's port closes when the kernel reaps it
                if cash.open().usable:
                    break
                time.sleep(0.1)
            [(folio, outcome)] = ChangeDesk(box, cash).recover()
            cash.close()
            assert folio == "KILL-1" and outcome.paid_cents == 4000 and outcome.owed_cents == 0
            assert bus.hopper_tally()["paid"] == 4 and bus.hopper_tally()["dispenses"] == 1  # never twice
            assert box.open_payouts() == [] and box.payouts(open_payout.key)[0].state == "paid"
    finally:
        pair.stop()

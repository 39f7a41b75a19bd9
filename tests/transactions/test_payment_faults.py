"""Faults mid-payment are told within 5 s, with what was credited and what happens next: a jammed
validator, an acceptor that goes away, a printer out of paper after the payment."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from offline_cache import outbox as ob
from tests.transactions.test_service import _service

TOLD_WITHIN_S = 5.0


def _cash_payment_with_50_in(service: Any, pump: Any, bus: Any) -> tuple[Any, list, list, threading.Event]:
    tx = service.begin(service.bill_from_reference("numero_contrato_agua", "AGU-100234", 35680, "Agua"), "cash")
    progress, notices, outcomes, done = [], [], [], threading.Event()
    service.pay_by_cash(tx, progress.append, lambda outcome: (outcomes.append(outcome), done.set()),
                        lambda code, cents: notices.append((code, cents, time.monotonic())))
    assert bus.insert_bill(2)
    deadline = time.monotonic() + 10
    while not progress:
        assert time.monotonic() < deadline
        _pump_some(pump)
    return tx, notices, outcomes, done


def _pump_some(pump: Any) -> None:
    import contextlib
    import queue

    with contextlib.suppress(queue.Empty):
        pump.calls.get(timeout=0.05)()


def _wait_notice(pump: Any, notices: list, since: float) -> tuple[str, int, float]:
    while not notices:
        assert time.monotonic() - since < TOLD_WITHIN_S, "the fault was not told within 5 s"
        _pump_some(pump)
    return notices[0]


@pytest.mark.parametrize("fault", ["jam", "acceptor_gone"])
def test_a_fault_mid_payment_is_told_at_once_and_the_money_is_accounted_for(sandbox, tmp_path: Path,
                                                                            fault: str) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    cash = adapters["cash"]
    bus = cash.simulator
    tx, notices, outcomes, done = _cash_payment_with_50_in(service, pump, bus)
    started = time.monotonic()
    if fault == "jam":
        bus.jam()
    else:
        cash.link.offline = True  # the acceptor's cable is pulled: every command fails from now on
        cash.link.close()
    code, cents, _at = _wait_notice(pump, notices, started)
    assert code == {"jam": "cash.jam", "acceptor_gone": "cash.device_lost"}[fault] and cents == 5000
    pump.until(done, timeout=30)
    outcome = outcomes[0]
    assert not outcome.ok
    if fault == "jam":  # the validator still answers: inhibited, the $50 on a voucher (no hopper here)
        assert outcome.state == ob.CANCELLED and outcome.extra["owed_cents"] == 5000
    else:  # the inhibit cannot be confirmed: a person takes it, with the folio
        assert outcome.needs_person and tx.folio in outcome.text()
    assert tx.folio in {item.folio for item in service.attention_items()}


def test_a_printer_out_of_paper_after_the_payment_is_told_with_the_folio(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    done, box = threading.Event(), []
    service.pay_by_card(tx, lambda outcome: (box.append(outcome), done.set()))
    pump.until(done)
    assert box[0].ok
    adapters["printer"].simulator.paper = "out"  # the roll ran out with the payment
    printed, results = threading.Event(), []
    started = time.monotonic()
    service.print_receipt(tx, lambda result, error: (results.append((result, error)), printed.set()))
    pump.until(printed, timeout=TOLD_WITHIN_S)
    result, error = results[0]
    reason = error.code if error is not None else result.reason
    assert reason == "printer.paper_out" and time.monotonic() - started < TOLD_WITHIN_S
    assert service.get(tx.key).state in ob.PENDING | {ob.CONFIRMED}  # paid stays paid: a person reprints
